import ArgumentParser

@main
struct Overlay: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "overlay",
        abstract: "Build plugin overlays for diskless RPM-based nodes and serve them over PXE.",
        discussion: """
            A plugin (repo files, a package list, a blacklist, an optional bundled repo) is solved against the \
            locked package set of a base image, installed into a root that holds only its delta, and packed as a \
            cpio initramfs overlay that a node unpacks after the base initrd. `overlay serve` hands the base and \
            each role's overlays to nodes over TFTP and HTTP.

            Exit status: 0 success, 1 failure, 3 a plugin cannot be satisfied by the locked base.
            """,
        version: "0.1.0",
        subcommands: [
            Plan.self, Why.self, Build.self, Check.self, Rebase.self, Inspect.self, Diff.self, List.self, Prune.self, Base.self, BootConfig.self, RPMDB.self,
            FleetCommand.self, ServeCommand.self, Lab.self,
        ]
    )
}
