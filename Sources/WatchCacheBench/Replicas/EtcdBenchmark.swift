import Foundation
import NIOCore
import NIOPosix
import WatchCache
import WatchCacheEtcd

/// `watchcache bench etcd`: what etcd costs without WatchCache in front of it, for the replica
/// fan-out figures to be read against — raw etcd watchers on the pods' key range (each receives
/// every write: etcd cannot select by field) at a write rate, and write throughput and latency
/// straight to etcd and through a replica.
public struct EtcdBenchmark: Sendable {
    public struct Parameters: Sendable {
        public var watchers = 1_000
        public var streams = 10
        public var writesPerSecond = 100.0
        public var seconds = 20.0
        public var objects = 1_000
        public var objectBytes = 1_000
        /// Concurrent writers of the write-throughput phase, and its length.
        public var writers = 16
        public var writeSeconds = 10.0
        public init() {}
    }

    public struct WatchFigures: Sendable {
        public var watchers = 0
        public var streams = 0
        public var writes = 0
        public var delivered = 0
        public var expected = 0
        public var seconds = 0.0
        public var latency = Distribution([])
        public var etcdBefore = EtcdMetrics()
        public var etcdAfter = EtcdMetrics()
    }

    public struct WriteFigures: Sendable {
        public var writes = 0
        public var errors = 0
        public var seconds = 0.0
        public var latency = Distribution([])
        public var perSecond: Double { seconds > 0 ? Double(writes) / seconds : 0 }
    }

    public let parameters: Parameters
    public let endpoints: EtcdEndpoints
    /// The `watchcache` binary, for the replica of the write phase.
    public let executable: String

    public init(parameters: Parameters, endpoints: EtcdEndpoints, executable: String) {
        self.parameters = parameters
        self.endpoints = endpoints
        self.executable = executable
    }

    var metricsURL: String { "http://\(endpoints.members[0].host):\(endpoints.members[0].port)" }

    /// A pod of about `objectBytes` of JSON.
    func pod(_ index: Int, revision: Int) -> [UInt8] {
        var json = #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"fan-\#(index)","namespace":"bench","labels":{"app":"fanout"},"#
        json += #""annotations":{"bench-padding":"\#(String(repeating: "x", count: max(0, parameters.objectBytes - 300)))"}},"#
        json += #""spec":{"nodeName":"node-\#(index % 100)","containers":[{"name":"app","image":"registry.k8s.io/pause:3.10"}]},"#
        json += #""status":{"phase":"Running","message":"revision \#(revision)"}}"#
        return Array(json.utf8)
    }

    /// Raw watchers on etcd while writes go on at the asked rate.
    public func watchers(progress: (Double, String) -> Void) async throws -> WatchFigures {
        let p = parameters
        let load = try EtcdDirectLoad(endpoints: endpoints)
        defer { load.close() }
        let prefix = "/watchcache-bench-direct-\(UUID().uuidString.prefix(8))/pods/bench/"
        defer { Task { [load] in try? await load.deleteAll(prefix: prefix) } }
        var figures = WatchFigures()
        figures.watchers = p.watchers
        figures.streams = p.streams
        do {
            for i in 0..<p.objects { try await load.put(prefix + "fan-\(i)", value: pod(i, revision: 0)) }
        } catch {
            throw BenchError("cannot create the objects in etcd: \(error)")
        }
        load.watch(prefix: prefix, watchers: p.watchers, streams: p.streams)
        let openStart = Date()
        while load.progress.created < p.watchers, Date().timeIntervalSince(openStart) < 120 {
            progress(Double(load.progress.created) / Double(p.watchers), "opening etcd watchers")
            try await Task.sleep(for: .milliseconds(100))
        }
        try await Task.sleep(for: .seconds(1))
        figures.etcdBefore = try EtcdMetrics.scrape(metricsURL)
        let before = load.progress.events
        let start = Date()
        var next = 0.0
        var writes = 0
        while Date().timeIntervalSince(start) < p.seconds {
            let due = start.addingTimeInterval(next)
            if due > Date() { try await Task.sleep(for: .seconds(due.timeIntervalSinceNow)) }
            next += 1 / p.writesPerSecond
            do {
                try await load.put(prefix + "fan-\(writes % p.objects)", value: pod(writes % p.objects, revision: writes))
            } catch {
                throw BenchError("a write to etcd failed while \(p.watchers) watchers watch: \(error)")
            }
            writes += 1
            if writes % 100 == 0 { progress(Date().timeIntervalSince(start) / p.seconds, "writing to etcd") }
        }
        figures.seconds = Date().timeIntervalSince(start)
        // The last events, or as many as etcd manages to send in 10 s more.
        let drain = Date()
        while load.progress.events - before < writes * p.watchers, Date().timeIntervalSince(drain) < 10 {
            try await Task.sleep(for: .milliseconds(100))
        }
        figures.etcdAfter = try EtcdMetrics.scrape(metricsURL)
        figures.writes = writes
        figures.expected = writes * p.watchers
        figures.delivered = load.progress.events - before
        figures.latency = Distribution(load.latencies)
        return figures
    }

    /// Closed-loop writes for ``Parameters/writeSeconds`` from ``Parameters/writers`` concurrent
    /// writers: straight to etcd (a put per write), then through a replica (HTTP/2 PUT: decided
    /// against its cache, a transaction on etcd, answered once its own cache has the change).
    public func writes(progress: (Double, String) -> Void) async throws -> (direct: WriteFigures, replica: WriteFigures) {
        let p = parameters
        let load = try EtcdDirectLoad(endpoints: endpoints)
        defer { load.close() }
        let run = UUID().uuidString.prefix(8)
        let prefix = "/watchcache-bench-writes-\(run)"
        let directPrefix = "/watchcache-bench-puts-\(run)/"
        defer { Task { [load] in try? await load.deleteAll(prefix: prefix + "/"); try? await load.deleteAll(prefix: directPrefix) } }
        progress(0, "writing straight to etcd")
        let direct = try await Self.closedLoop(writers: p.writers, seconds: p.writeSeconds) { writer, n in
            try await load.put(directPrefix + "fan-\(writer)", value: self.pod(writer, revision: n))
            return true
        }
        progress(0.5, "writing through a replica")
        let urls = endpoints.members.map { "http://\($0.host):\($0.port)" }.joined(separator: ",")
        let server = try ServerProcess(executable: executable, arguments: [
            "--etcd-servers", urls, "--etcd-prefix", prefix, "--etcd-compaction-interval", "0",
            "--max-requests-inflight", "0", "--max-mutating-requests-inflight", "0"])
        defer { server.stop() }
        try server.waitUntilReady()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        var channels: [any Channel] = []
        var connections: [HTTP2ClientConnection] = []
        for _ in 0..<4 {
            let (connection, channel) = try await HTTP2ClientConnection.connect(host: "127.0.0.1", port: server.port, on: loop)
            connections.append(connection)
            channels.append(channel)
        }
        let namespace = Array(#"{"metadata":{"name":"bench"}}"#.utf8)
        _ = try await connections[0].send("POST", "/api/v1/namespaces", body: namespace, on: loop)
        for w in 0..<p.writers {
            _ = try await connections[0].send("POST", "/api/v1/namespaces/bench/pods", body: pod(w, revision: 0), on: loop)
        }
        let shared = connections
        let replica = try await Self.closedLoop(writers: p.writers, seconds: p.writeSeconds) { writer, n in
            let (status, _) = try await shared[writer % shared.count].send("PUT", "/api/v1/namespaces/bench/pods/fan-\(writer)",
                                                                           body: self.pod(writer, revision: n), on: loop)
            return status == 200
        }
        for channel in channels { try? await channel.close() }
        try? await group.shutdownGracefully()
        return (direct, replica)
    }

    /// `writers` loops writing back to back for `seconds`; each write's latency recorded.
    static func closedLoop(writers: Int, seconds: Double,
                           write: @escaping @Sendable (_ writer: Int, _ n: Int) async throws -> Bool) async throws -> WriteFigures {
        let start = Date()
        let results = try await withThrowingTaskGroup(of: (latencies: [Double], errors: Int).self) { group in
            for w in 0..<writers {
                group.addTask {
                    var latencies: [Double] = []
                    var errors = 0
                    var n = 1
                    while Date().timeIntervalSince(start) < seconds {
                        let began = Date()
                        if try await write(w, n) { latencies.append(Date().timeIntervalSince(began)) } else { errors += 1 }
                        n += 1
                    }
                    return (latencies, errors)
                }
            }
            var all: [(latencies: [Double], errors: Int)] = []
            for try await r in group { all.append(r) }
            return all
        }
        var figures = WriteFigures()
        figures.seconds = Date().timeIntervalSince(start)
        let latencies = results.flatMap(\.latencies)
        figures.writes = latencies.count
        figures.errors = results.reduce(0) { $0 + $1.errors }
        figures.latency = Distribution(latencies)
        return figures
    }
}
