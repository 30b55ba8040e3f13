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
        var modularNames = Set<DependencyID>()
        for nevra in modules.hiddenBy.keys {
            if let name = ActiveModules.nameAndArch(nevra)?.name, let id = existingID(name) { modularNames.insert(id) }
        }
        var hidden = Set<SolvableID>()
        let available = availableSolvables(excluding: unfiltered)
        for p in available where modularNames.contains(nameID(p)) {
            if modules.hiddenBy[nevra(p)] != nil { hidden.insert(p) }
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

    /// The module streams a hidden package matching `text` (a request or a dependency: its name, or one of its
    /// provides) belongs to; empty when no hidden package matches. Only the hidden packages are looked at.
    func hiddenStreams(matching text: String, modules: ActiveModules) -> Set<String> {
        guard !modules.hiddenBy.isEmpty, !hiddenSolvables.isEmpty else { return [] }
        let dep = dependency(for: text)
        var streams = Set<String>()
        withUnsafeHandle { handle in
            for p in hiddenSolvables {
                let solvable = csolv_solvable(handle, p.rawValue)
                guard
                    pool_match_nevr(handle, solvable, dep.rawValue) != 0
                        || solvable_matchesdep(solvable, Id(SOLVABLE_PROVIDES.rawValue), dep.rawValue, -1) != 0
                else { continue }
                streams.formUnion(modules.hiddenBy[nevra(p)] ?? [])
            }
        }
        return streams
    }

    /// A dependency id for text as rpm writes it (`name`, `name >= 1.0`); plain names for anything else.
    private func dependency(for text: String) -> DependencyID {
        if let requirement = try? Requirement(parsing: text) { return dependency(for: requirement) }
        return DependencyID(rawValue: withUnsafeHandle { pool_str2id($0, text, 1) })
    }
}
