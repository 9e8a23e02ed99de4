import Foundation
import Synchronization
import WatchCache
import WatchCacheSQLite

/// `watchcache bench storage`: what the durable storage costs, measured through the registry
/// (the write path the server uses, without HTTP):
///
/// 1. write throughput with `--sync always` and `batch`: `writers` threads creating 1 KiB objects;
/// 2. start-up: the time to open a data directory with `objects` objects and `events` history
///    events and load it (the registry's recovery: objects parsed, windows refilled);
/// 3. disk: bytes per 100,000 history events (1 KiB objects, a fixed set of objects updated).
public struct StorageBenchmark: Sendable {
    public var writers = 32
    public var seconds = 5.0
    public var objectBytes = 1024
    public var startupObjects = 150_000
    public var startupEvents = 100_000
    public var diskEvents = 100_000
    /// Where data directories are made (each removed after its measurement).
    public var scratch = NSTemporaryDirectory()
    /// The start-up's data directory, kept afterwards: filled first when it holds no database,
    /// measured as it is otherwise (a directory `watchcache serve` wrote, say).
    public var startupDirectory: String?
    /// Whether the real server's start-up is probed with a LIST and a `/metrics` request every
    /// 10 ms while it loads (the answers' latency is reported); without, only `/readyz` is polled,
    /// so nothing but the load uses the cores.
    public var probeWhileLoading = true

    public init() {}

    public struct Throughput: Sendable, Codable {
        public var sync: String
        public var writers: Int
        public var objects: Int
        public var seconds: Double
        public var objectsPerSecond: Double
        public var p50Milliseconds: Double
        public var p99Milliseconds: Double
    }

    public struct Startup: Sendable, Codable {
        public var objects: Int
        public var historyEvents: Int
        public var fileBytes: Int64
        /// Compacting the history to `historyEvents`: events removed, and the longest transaction (ms).
        public var compactedEvents: Int
        public var longestCompactionMilliseconds: Double
        /// Opening the database and recovering the registry (objects parsed, windows refilled).
        public var loadSeconds: Double
        /// Where that load went: reading SQLite, parsing, filling the caches.
        public var loadTimings: LoadTimings?
        public var windowEvents: Int
        /// A real `watchcache serve` on the data directory: from spawning it until `/readyz` says 200,
        /// and until it first accepted a connection (it listens before it loads).
        public var serverReadySeconds: Double?
        public var serverListeningSeconds: Double?
        /// Requests sent to that server while it loaded (a LIST and `/metrics` in turn, about one
        /// every 10 ms) and answered before it was ready: how many, and how long each took (ms) — a
        /// request must be answered at once (503 Retry-After, or the metrics), not after the load.
        public var requestsWhileLoading: Int?
        public var whileLoadingP50Milliseconds: Double?
        public var whileLoadingP99Milliseconds: Double?
        public var whileLoadingMaxMilliseconds: Double?
    }

    public struct Disk: Sendable, Codable {
        public var historyEvents: Int
        public var objects: Int
        public var fileBytes: Int64
        public var bytesPerHundredThousandEvents: Double
    }

    /// One 1 KiB-ish config map (its `data` pads it to `objectBytes` of JSON).
    func configMap(_ name: String, step: Int) -> JSONObject {
        let padding = String(repeating: "x", count: max(0, objectBytes - 160))
        return JSONObject([
            ("metadata", .object(JSONObject([("name", .string(name)), ("namespace", .string("bench"))]))),
            ("data", .object(JSONObject([("step", .string(String(step))), ("payload", .string(padding))]))),
        ])
    }

    func directory(_ label: String) -> String {
        scratch + "/watchcache-bench-\(label)-\(UUID().uuidString)"
    }

    /// `writers` threads creating objects for `seconds`; each write waits for its commit.
    public func throughput(sync: SyncMode) throws -> Throughput {
        let path = directory("throughput")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let storage = try SQLiteStorage(directory: path, sync: sync)
        defer { try? storage.close() }
        let registry = try Registry(storage: storage)
        try registry.register(.configMaps)
        let latencies = Mutex<[Double]>([])
        let failures = Atomic(0)
        let stop = Atomic(false)
        let group = DispatchGroup()
        let started = CPUTime.wall()
        for w in 0..<writers {
            group.enter()
            Thread.detachNewThread {
                var mine: [Double] = []
                var i = 0
                while !stop.load(ordering: .relaxed) {
                    let t0 = CPUTime.wall()
                    do {
                        _ = try registry.create(configMap("w\(w)-\(i)", step: i), in: .configMaps)
                        mine.append(CPUTime.wall() - t0)
                    } catch {
                        failures.add(1, ordering: .relaxed)
                    }
                    i += 1
                }
                latencies.withLock { $0 += mine }
                group.leave()
            }
        }
        Thread.sleep(forTimeInterval: seconds)
        stop.store(true, ordering: .relaxed)
        group.wait()
        let elapsed = CPUTime.wall() - started
        guard failures.load(ordering: .relaxed) == 0 else { throw BenchError("\(failures.load(ordering: .relaxed)) writes failed") }
        let sorted = latencies.withLock { $0 }.sorted()
        let pick = { (q: Double) in sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] * 1000 }
        return Throughput(sync: sync.rawValue, writers: writers, objects: sorted.count, seconds: elapsed,
                          objectsPerSecond: Double(sorted.count) / elapsed, p50Milliseconds: pick(0.5), p99Milliseconds: pick(0.99))
    }

    /// Fills a data directory with `startupObjects` objects, compacts its history to
    /// `startupEvents`, then times a cold load.
    /// With `executable`, also times a real `watchcache serve` from spawn to ready.
    public func startup(executable: String? = nil, progress: (Double) -> Void = { _ in }) throws -> Startup {
        let path = startupDirectory ?? directory("startup")
        defer { if startupDirectory == nil { try? FileManager.default.removeItem(atPath: path) } }
        let retention = HistoryRetention(events: startupEvents, seconds: nil)
        var compacted = (events: 0, longestMilliseconds: 0.0)
        if !FileManager.default.fileExists(atPath: path + "/" + SQLiteStorage.fileName) {
            let storage = try SQLiteStorage(directory: path, sync: .batch, retention: retention, compactionInterval: .seconds(3600))
            let registry = try Registry(storage: storage)
            try registry.register(.configMaps)
            try fill(registry, count: startupObjects, progress: progress)
            try storage.compact()
            let stats = try storage.statistics()
            compacted = (stats.compactedEvents, stats.longestCompactionChunkSeconds * 1000)
            try storage.close()
        }
        let started = CPUTime.wall()
        let storage = try SQLiteStorage(directory: path, sync: .batch, retention: retention, compactionInterval: .seconds(3600))
        let registry = try Registry(storage: storage)
        // Every built-in resource, as the server registers them (a kept directory may hold any).
        let caches = try ResourceDescriptor.builtIn.map { try registry.register($0) }
        let seconds = CPUTime.wall() - started
        let timings = registry.loadTimings
        let stats = try storage.statistics()
        let window = caches.reduce(0) { $0 + $1.statistics().windowEvents }
        registry.close()
        try storage.close()
        var result = Startup(objects: stats.objects, historyEvents: stats.historyEvents, fileBytes: stats.fileBytes,
                             compactedEvents: compacted.events, longestCompactionMilliseconds: compacted.longestMilliseconds,
                             loadSeconds: seconds, loadTimings: timings, windowEvents: window)
        if let executable {
            let spawned = CPUTime.wall()
            let server = try ServerProcess(executable: executable, arguments: ["--data-dir", path])
            defer { server.stop() }
            result.serverListeningSeconds = CPUTime.wall() - spawned
            var whileLoading: [Double] = []
            var probe = 0
            while server.status(of: "/readyz") != 200 {
                guard server.isRunning else { throw BenchError("watchcache serve exited while loading \(path)") }
                guard CPUTime.wall() - spawned < 300 else { throw BenchError("watchcache serve was not ready within 300 s") }
                guard probeWhileLoading else {
                    Thread.sleep(forTimeInterval: 0.01)
                    continue
                }
                let path = probe % 2 == 0 ? "/api/v1/namespaces/bench/configmaps?limit=1" : "/metrics"
                probe += 1
                let sent = CPUTime.wall()
                let status = server.status(of: path)
                let took = CPUTime.wall() - sent
                // Answered while loading: 503 (the LIST) or 200 (the metrics), and still not ready after.
                if let status, status == 503 || path == "/metrics" && status == 200, server.status(of: "/readyz") == 503 {
                    whileLoading.append(took * 1000)
                }
                Thread.sleep(forTimeInterval: 0.01)  // a request every 10 ms or so: probing, not loading the server
            }
            result.serverReadySeconds = CPUTime.wall() - spawned
            let sorted = whileLoading.sorted()
            let pick = { (q: Double) in sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] }
            result.requestsWhileLoading = sorted.count
            result.whileLoadingP50Milliseconds = pick(0.5)
            result.whileLoadingP99Milliseconds = pick(0.99)
            result.whileLoadingMaxMilliseconds = sorted.last ?? 0
        }
        return result
    }

    /// Bytes on disk for `diskEvents` history events: 1,000 objects updated over and over.
    public func disk(progress: (Double) -> Void = { _ in }) throws -> Disk {
        let path = directory("disk")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let storage = try SQLiteStorage(directory: path, sync: .batch, retention: HistoryRetention(events: diskEvents * 2, seconds: nil))
        let registry = try Registry(storage: storage)
        try registry.register(.configMaps)
        let objects = 1_000
        try fill(registry, count: diskEvents, distinct: objects, progress: progress)
        try storage.checkpoint()
        let stats = try storage.statistics()
        try storage.close()
        return Disk(historyEvents: stats.historyEvents, objects: stats.objects, fileBytes: stats.fileBytes,
                    bytesPerHundredThousandEvents: Double(stats.fileBytes) / Double(stats.historyEvents) * 100_000)
    }

    /// `count` writes from 32 threads: creates of `distinct` objects, then updates of them.
    private func fill(_ registry: Registry, count: Int, distinct: Int? = nil, progress: (Double) -> Void) throws {
        let distinct = min(distinct ?? count, count)
        try concurrently(0..<distinct, total: count, done: 0, progress: progress) { i in
            _ = try registry.create(configMap("o\(i)", step: i), in: .configMaps)
        }
        try concurrently(distinct..<count, total: count, done: distinct, progress: progress) { i in
            _ = try registry.update(configMap("o\(i % distinct)", step: i), in: .configMaps)
        }
    }

    /// Runs `body` for every index of `range` on 32 threads.
    private func concurrently(_ range: Range<Int>, total: Int, done: Int, progress: (Double) -> Void,
                              _ body: @escaping @Sendable (Int) throws -> Void) throws {
        let next = Atomic(range.lowerBound)
        let failures = Atomic(0)
        let group = DispatchGroup()
        for _ in 0..<32 {
            group.enter()
            Thread.detachNewThread {
                while true {
                    let i = next.add(1, ordering: .relaxed).newValue - 1
                    guard i < range.upperBound else { break }
                    do { try body(i) } catch { failures.add(1, ordering: .relaxed) }
                }
                group.leave()
            }
        }
        while group.wait(timeout: .now() + 0.2) == .timedOut {
            progress(Double(done + min(next.load(ordering: .relaxed), range.upperBound) - range.lowerBound) / Double(total))
        }
        guard failures.load(ordering: .relaxed) == 0 else { throw BenchError("\(failures.load(ordering: .relaxed)) writes failed") }
    }
}
