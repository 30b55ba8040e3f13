// swift-tools-version:6.0
import PackageDescription

/// Swift 6.3.1's StripObjectHeaders pass miscompiles a final class with a `deinit` that one function creates
/// and drops once it is promoted to the stack and its `dealloc_ref` merged into a block argument: the object's
/// header is never written and `swift_deallocClassInstance` runs on the stack slot (a release-only SIGSEGV,
/// seen in the repo-index fetch loop). The pass only saves one store per stack object; every target of ours is
/// built without it. `ReleaseBinaryTests` runs the case that crashed against the release binary.
let guardedOptimizer: [SwiftSetting] = [
    .unsafeFlags(["-Xllvm", "-sil-disable-pass=strip-object-headers"], .when(configuration: .release))
]

let package = Package(
    name: "overlay",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "overlay", targets: ["overlay"]),
        .library(name: "OverlayKit", targets: ["OverlayKit"]),
        .library(name: "Serve", targets: ["Serve"]),
        .library(name: "Fleet", targets: ["Fleet"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // C libraries, one thin system-library target each.
        .systemLibrary(name: "CSolv", pkgConfig: "libsolvext", providers: [.apt(["libsolv-dev", "libsolvext-dev"])]),
        .systemLibrary(name: "CRPM", pkgConfig: "rpm", providers: [.apt(["librpm-dev"])]),
        .systemLibrary(name: "CArchive", pkgConfig: "libarchive", providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CModulemd", pkgConfig: "modulemd-2.0", providers: [.apt(["libmodulemd-dev"])]),
        // squashfs-tools-ng: base images read in place, without root or loop devices.
        .systemLibrary(name: "CSquashfs", pkgConfig: "libsquashfs1", providers: [.apt(["libsquashfs-dev"])]),

        // The one door for system calls, shared by the generator and the server.
        // Lock annotations for ThreadSanitizer (no-ops in other builds).
        .target(name: "CSanitizers"),
        // The Linux calls glibc 2.36 does not wrap or hides behind _GNU_SOURCE (openat2, unshare, statfs, xattrs,
        // the PID namespace's first process); only Posix imports it.
        .target(name: "CLinux"),
        .target(
            name: "Posix", dependencies: ["CLinux", "CSanitizers", .product(name: "SystemPackage", package: "swift-system")], swiftSettings: guardedOptimizer),

        // The files building and serving share: overlay and base manifests (JSON), TOML with line-numbered errors.
        .target(
            name: "Formats",
            dependencies: ["Posix", .product(name: "TOMLKit", package: "TOMLKit"), .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: guardedOptimizer
        ),

        // plugin → base → solve → install → pack → publish.
        .target(
            name: "OverlayKit",
            dependencies: [
                "CSolv", "CRPM", "CArchive", "CZstd", "CCurl", "CModulemd", "CSquashfs", "Posix", "Formats",
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            swiftSettings: guardedOptimizer
        ),
        // TFTP + HTTP over POSIX sockets, confined to one directory.
        .target(
            name: "Serve",
            dependencies: ["Posix", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: guardedOptimizer
        ),
        // Roles, nodes and their boot files from fleet.toml, and the server that hands them out.
        .target(
            name: "Fleet",
            dependencies: ["Formats", "Serve", "Posix", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: guardedOptimizer
        ),
        .executableTarget(
            name: "overlay",
            dependencies: [
                "OverlayKit", "Fleet", "Serve", "Formats",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: guardedOptimizer
        ),
        // What the test targets share: running the CLI and other programs, a served fleet directory.
        .target(
            name: "TestSupport", dependencies: ["Fleet", "Formats", .product(name: "SystemPackage", package: "swift-system")],
            path: "Tests/TestSupport", swiftSettings: guardedOptimizer),
        .testTarget(name: "OverlayKitTests", dependencies: ["OverlayKit", "Fleet", "Formats", "TestSupport"], swiftSettings: guardedOptimizer),
        .testTarget(name: "FleetTests", dependencies: ["Fleet", "Formats", "TestSupport"], swiftSettings: guardedOptimizer),
        .testTarget(name: "ServeTests", dependencies: ["Serve"], swiftSettings: guardedOptimizer),
        .testTarget(
            name: "PosixTests", dependencies: ["Posix", .product(name: "SystemPackage", package: "swift-system")], swiftSettings: guardedOptimizer),
    ]
)

// libFuzzer targets, one per parser of untrusted input, each in Fuzz/<name> with its seed corpus and dictionary.
// They are declared only when OVERLAY_FUZZ is set, so everyday builds neither compile nor link them; `make fuzz`
// (Fuzz/run.sh) sets it and builds each with -sanitize=fuzzer,address; libFuzzer supplies `main`, and each target
// only LLVMFuzzerTestOneInput.
if Context.environment["OVERLAY_FUZZ"] != nil {
    let fuzzTargets: [(name: String, libraries: [Target.Dependency])] = [
        ("tftp-packet", ["Serve"]), ("http-request", ["Serve"]), ("http-range", ["Serve"]),
        ("plugin-toml", ["OverlayKit"]), ("repo-file", ["OverlayKit"]), ("fleet-toml", ["Fleet", "Formats"]), ("repomd-xml", ["OverlayKit"]),
        ("node-report", ["Fleet"]),
    ]
    for target in fuzzTargets {
        package.targets.append(
            .executableTarget(
                name: "fuzz-\(target.name)", dependencies: target.libraries + [.product(name: "SystemPackage", package: "swift-system")],
                path: "Fuzz/\(target.name)", exclude: ["corpus", "fuzz.dict"], swiftSettings: guardedOptimizer))
    }
}
