internal import CModulemd
import Foundation

/// What overlay keeps of a repo's module metadata (`modules.yaml`): every module stream build with the RPMs it
/// ships, and the default streams. Read once with libmodulemd, then kept in the metadata cache as JSON.
struct RepoModules: Codable, Sendable, Equatable {
    /// One build of a module stream (`name:stream:version:context:arch`).
    struct Stream: Codable, Sendable, Equatable {
        var name: String
        var stream: String
        var version: UInt64
        var context: String
        var arch: String
        /// The RPMs it ships, as `name-epoch:version-release.arch` (the epoch always written).
        var artifacts: [String]
        /// Binary package names that left the module: they do not hide non-modular packages of that name.
        var demodularized: [String]
        /// Run-time module requirements, one entry per `dependencies` block (any one block must hold): module
        /// name → the streams it may have (`[]` is any stream, `-x` is any but x).
        var requires: [[String: [String]]]

        var nameStream: String { "\(name):\(stream)" }
    }
    var streams: [Stream]
    /// Module name → its default stream.
    var defaults: [String: String]
}

/// Owns a libmodulemd `ModulemdModuleIndex` read from one repo's modules.yaml; frees it in deinit.
final class ModuleIndex {
    private let index: OpaquePointer

    /// Parses module metadata (`modulemd_module_index_update_from_string`) and upgrades every stream to modulemd
    /// v2 (`modulemd_module_index_upgrade_streams`). Unknown keys are ignored, as dnf ignores them; a document
    /// that does not parse is an error naming `origin` and libmodulemd's words. (A throwing class initializer
    /// that has set every property still runs deinit, which frees the index.)
    init(yaml: String, origin: String) throws(RepoError) {
        index = modulemd_module_index_new()
        var failures: UnsafeMutablePointer<GPtrArray>?
        var error: UnsafeMutablePointer<GError>?
        let parsed = modulemd_module_index_update_from_string(index, yaml, 0, &failures, &error) != 0
        defer { if let failures { g_ptr_array_unref(failures) } }
        if let error {
            let reason = String(cString: error.pointee.message)
            g_error_free(error)
            throw .corruptMetadata(origin: origin, reason: "modules.yaml: \(reason)")
        }
        if !parsed || cmodulemd_ptr_array_count(failures) > 0 {
            let reason = String(cString: cmodulemd_first_failure(failures))
            throw .corruptMetadata(origin: origin, reason: "modules.yaml: \(reason)")
        }
        if modulemd_module_index_upgrade_streams(index, MD_MODULESTREAM_VERSION_LATEST, &error) == 0 {
            let reason = error.map { String(cString: $0.pointee.message) } ?? "cannot upgrade the streams to modulemd v2"
            if let error { g_error_free(error) }
            throw .corruptMetadata(origin: origin, reason: "modules.yaml: \(reason)")
        }
    }

    deinit {
        g_object_unref(UnsafeMutableRawPointer(index))
    }

    /// Every stream build and default stream in the index.
    var contents: RepoModules {
        var streams: [RepoModules.Stream] = []
        var defaults: [String: String] = [:]
        for name in Self.strings(modulemd_module_index_get_module_names_as_strv(index)) {
            guard let module = modulemd_module_index_get_module(index, name) else { continue }
            if let moduleDefaults = modulemd_module_get_defaults(module), let stream = cmodulemd_default_stream(moduleDefaults) {
                defaults[name] = String(cString: stream)
            }
            let all = modulemd_module_get_all_streams(module)
            for position in 0..<cmodulemd_ptr_array_count(all) {
                let stream = cmodulemd_stream_at(all, position)
                guard let v2 = cmodulemd_stream_v2(stream) else { continue }
                var requires: [[String: [String]]] = []
                let dependencies = modulemd_module_stream_v2_get_dependencies(v2)
                for block in 0..<cmodulemd_ptr_array_count(dependencies) {
                    let dependency = cmodulemd_dependencies_at(dependencies, block)
                    var modules: [String: [String]] = [:]
                    for required in Self.strings(modulemd_dependencies_get_runtime_modules_as_strv(dependency)) {
                        modules[required] = Self.strings(modulemd_dependencies_get_runtime_streams_as_strv(dependency, required))
                    }
                    requires.append(modules)
                }
                streams.append(
                    RepoModules.Stream(
                        name: Self.string(modulemd_module_stream_get_module_name(stream)),
                        stream: Self.string(modulemd_module_stream_get_stream_name(stream)),
                        version: UInt64(modulemd_module_stream_get_version(stream)),
                        context: Self.string(modulemd_module_stream_get_context(stream)),
                        arch: Self.string(modulemd_module_stream_get_arch(stream)),
                        artifacts: Self.strings(modulemd_module_stream_v2_get_rpm_artifacts_as_strv(v2)),
                        demodularized: Self.strings(modulemd_module_stream_v2_get_demodularized_rpms(v2)),
                        requires: requires))
            }
        }
        return RepoModules(streams: streams, defaults: defaults)
    }

    private static func string(_ text: UnsafePointer<gchar>?) -> String {
        text.map { String(cString: $0) } ?? ""
    }

    /// The strings of a GStrv the caller owns (transfer full), which is freed.
    private static func strings(_ strv: UnsafeMutablePointer<UnsafeMutablePointer<gchar>?>?) -> [String] {
        guard let strv else { return [] }
        defer { g_strfreev(strv) }
        var result: [String] = []
        var position = 0
        while let item = strv[position] {
            result.append(String(cString: item))
            position += 1
        }
        return result
    }
}
