// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "WatchCache",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "WatchCache", targets: ["WatchCache"]),
        .library(name: "WatchCacheSQLite", targets: ["WatchCacheSQLite"]),
        .library(name: "WatchCacheSchema", targets: ["WatchCacheSchema"]),
        .executable(name: "watchcache", targets: ["watchcache"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.30.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.10.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.0"..<"5.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
    ],
    targets: [
        // libnghttp2 (HTTP/2 framing) as a system library. Only the transport uses it.
        .systemLibrary(
            name: "CNghttp2",
            pkgConfig: "libnghttp2",
            providers: [.apt(["libnghttp2-dev"]), .brew(["nghttp2"])]
        ),
        // The core: event log, store, selectors, watch semantics, fan-out. No I/O, no NIO.
        .target(
            name: "WatchCache",
            dependencies: [
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The embedded durable storage backend: objects and history in SQLite (through GRDB).
        .target(
            name: "WatchCacheSQLite",
            dependencies: [
                "WatchCache",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The built-in kinds' schema (from Kubernetes' published API) and what it drives: protobuf,
        // strategic merge patch, field validation, defaults. Pure logic on the core's JSON.
        .target(
            name: "WatchCacheSchema",
            dependencies: ["WatchCache"]
        ),
        // The server: Kubernetes REST API, HTTP/1.1 and HTTP/2 (libnghttp2) on SwiftNIO.
        .target(
            name: "WatchCacheServer",
            dependencies: [
                "WatchCache",
                "WatchCacheSchema",
                "CNghttp2",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The benchmark harnesses behind `watchcache bench`: workloads, simulated clients, reports, charts.
        .target(
            name: "WatchCacheBench",
            dependencies: [
                "WatchCache",
                "WatchCacheSQLite",
                "WatchCacheSchema",
                "CNghttp2",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // The command-line tool. Thin: logic lives in the libraries.
        .executableTarget(
            name: "watchcache",
            dependencies: [
                "WatchCache",
                "WatchCacheServer",
                "WatchCacheSQLite",
                "WatchCacheBench",
                "CNghttp2",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The README's embedding example, compiled so it cannot rot.
        .executableTarget(
            name: "EmbeddingExample",
            dependencies: ["WatchCache"],
            path: "Examples/Embedding"
        ),
        .testTarget(
            name: "WatchCacheTests",
            dependencies: ["WatchCache"]
        ),
        .testTarget(
            name: "SchemaTests",
            dependencies: ["WatchCache", "WatchCacheSchema"]
        ),
        .testTarget(
            name: "StorageTests",
            dependencies: ["WatchCache", "WatchCacheSQLite", "WatchCacheServer", "WatchCacheBench"]
        ),
        .testTarget(
            name: "BenchTests",
            dependencies: ["WatchCache", "WatchCacheBench", "WatchCacheServer"]
        ),
        .testTarget(
            name: "TransportTests",
            dependencies: [
                "CNghttp2", "WatchCache", "WatchCacheServer",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
    ]
)
