internal import CSolv
import Foundation

extension SolvPool {
    /// Applies modular filtering as dnf does (libdnf's module excludes): packages of module streams that are not
    /// active are hidden, and so are non-modular packages that provide a binary package name of an active
    /// stream. Installed packages are never hidden, nor packages of `unfiltered` repos (`module_hotfixes=1`).
    /// Call after `prepare()`; it replaces what an earlier call hid. Returns how many packages are hidden.
    @discardableResult
    func applyModules(_ modules: ActiveModules, unfiltered: Set<String>) -> Int {
        guard modules.filtersAnything else {
            hide([])
            return 0
        }
        var modularNames = Set<Id>()
        for nevra in modules.hiddenBy.keys {
            if let name = ActiveModules.nameAndArch(nevra)?.name, let id = existingID(name) { modularNames.insert(id) }
        }
        var hidden = Set<Id>()
        let available = availableSolvables(excluding: unfiltered)
        withUnsafeHandle { handle in
            for p in available where modularNames.contains(csolv_solvable_name(handle, p)) {
                if modules.hiddenBy[nevra(p)] != nil { hidden.insert(p) }
            }
        }
        if !modules.shadowedNames.isEmpty {
            let candidates = Set(available)
            for name in modules.shadowedNames {
                guard let id = existingID(name) else { continue }
                for p in providers(of: id) where candidates.contains(p) && !modules.included.contains(nevra(p)) {
                    hidden.insert(p)
                }
            }
        }
        hide(hidden)
        return hidden.count
    }

    /// The module streams a hidden package matching `text` (a request or a dependency) belongs to; empty when
    /// no hidden package matches.
    func hiddenStreams(matching text: String, modules: ActiveModules) -> Set<String> {
        guard !modules.hiddenBy.isEmpty else { return [] }
        let matches: [Id] = withEveryPackageVisible {
            let bySelection = solvables(inSelection: selection(text))
            return bySelection.isEmpty ? providers(of: dependency(for: text)) : bySelection
        }
        var streams = Set<String>()
        for p in matches where !isInstalled(p) {
            streams.formUnion(modules.hiddenBy[nevra(p)] ?? [])
        }
        return streams
    }

    /// A dependency id for text as rpm writes it (`name`, `name >= 1.0`); plain names for anything else.
    private func dependency(for text: String) -> Id {
        if let requirement = try? Requirement(parsing: text) { return dependency(for: requirement) }
        return withUnsafeHandle { pool_str2id($0, text, 1) }
    }
}
