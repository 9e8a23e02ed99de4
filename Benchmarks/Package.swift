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
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.0.0"),
    ],
    targets: [
        .executableTarget(
            name: "CoreBenchmarks",
            dependencies: [
                .product(name: "WatchCache", package: "WatchCache"),
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Benchmarks/CoreBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
