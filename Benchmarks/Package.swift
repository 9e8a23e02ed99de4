// swift-tools-version:6.1
import PackageDescription

// Micro benchmarks of the WatchCache core, with package-benchmark:
//   cd Benchmarks && swift package --disable-sandbox benchmark
let package = Package(
    name: "WatchCacheBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "WatchCache", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "CoreBenchmarks",
            dependencies: [
                .product(name: "WatchCache", package: "WatchCache"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/CoreBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
