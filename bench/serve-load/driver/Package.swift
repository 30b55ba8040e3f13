// swift-tools-version:6.0
// A stand-in for `overlay serve` used by the benchmarks until that command exists: same flags, same library.
import PackageDescription

let package = Package(
    name: "serve-driver",
    dependencies: [.package(name: "overlay", path: "../../..")],
    targets: [
        .executableTarget(name: "serve-driver", dependencies: [.product(name: "Serve", package: "overlay")])
    ]
)
