import Foundation
import Testing
import WatchCache
import WatchCacheServer
import WatchCacheSQLite
@testable import WatchCacheBench

/// The fan-out harness's parts, and a small run against a real server on loopback.
@Suite(.serialized) struct FanoutTests {
    @Test func theLatencyHistogramKeepsQuantilesWithinAPercent() {
        var h = LatencyHistogram()
        for i in 1...10_000 { h.record(seconds: Double(i) * 1e-6) }  // 1 µs ... 10 ms, uniform
        #expect(h.count == 10_000)
        #expect(abs(h.quantile(0.5) / 5e-3 - 1) < 0.015)
        #expect(abs(h.quantile(0.99) / 9.9e-3 - 1) < 0.015)
        #expect(h.quantile(1) == h.maxSeconds && h.maxSeconds == 10e-3)
        var other = LatencyHistogram()
        other.record(seconds: 2)
        h.merge(other)
        #expect(h.count == 10_001 && h.maxSeconds == 2 && h.quantile(0.5) < 6e-3)
    }

    @Test func theSendTimeIsFoundInAnEventLine() {
        let line = Array(#"{"type":"MODIFIED","object":{"metadata":{"annotations":{"bench-sent":"123456789","x":"y"}}}}"#.utf8)
        #expect(line.withUnsafeBytes { FanoutConnection.sentNanoseconds($0) } == 123_456_789)
        #expect(Array(#"{"type":"ADDED"}"#.utf8).withUnsafeBytes { FanoutConnection.sentNanoseconds($0) } == nil)
    }

    @Test func receiversCountEveryKindOfWatcher() {
        var p = FanoutParameters(nodeWatchers: 15, nodes: 10, connections: 1, objects: 20, seconds: 1)
        p.labelGroups = 2
        var tally = ReceiverTally()
        for i in 0..<15 { tally.add(.node(i % 10)) }  // nodes 0-4 get two, 5-9 one
        for g in [0, 1, 0] { tally.add(.label(group: g)) }
        tally.add(.namespace)
        for _ in 0..<2 { tally.add(.all) }
        // node watchers + label group + namespace-wide and unselective:
        #expect(tally.receivers(ofPod: 3, in: p) == 2 + 1 + 3)   // node 3, group 1
        #expect(tally.receivers(ofPod: 14, in: p) == 2 + 2 + 3)  // node 4, group 0
        #expect(tally.receivers(ofPod: 16, in: p) == 1 + 2 + 3)  // node 6, group 0
    }

    @Test func aMixSplitsTheStreamsByShare() throws {
        var p = FanoutParameters(nodeWatchers: 1, nodes: 10, connections: 1, objects: 1, seconds: 1)
        try p.mix("node=0.9,namespace=0.05,label=0.04,all=0.01", total: 1000)
        #expect([p.nodeWatchers, p.namespaceWatchers, p.labelWatchers, p.unselectiveWatchers] as [Int] == [900, 50, 40, 10])
        try p.mix("node=3,label=1", total: 100)
        #expect([p.nodeWatchers, p.namespaceWatchers, p.labelWatchers, p.unselectiveWatchers] as [Int] == [75, 0, 25, 0])
        for bad in ["", "node", "node=x", "pods=1", "node=1,node=2", "node=0"] {
            #expect(throws: BenchError.self) { try p.mix(bad, total: 10) }
        }
    }

    @Test func aPlanMarksTheNeverReadingShare() async {
        var p = FanoutParameters(nodeWatchers: 90, nodes: 30, connections: 10, objects: 30, seconds: 1)
        p.unselectiveWatchers = 10
        p.neverReadingShare = 0.1
        let run = FanoutRun(parameters: p, port: 1)
        let plan = run.watchPlan()
        await run.close()
        #expect(plan.count == 100 && plan.filter { !$0.reads }.count == 10)
        #expect(plan.filter { $0.target == .all }.count == 10)
        #expect(plan.allSatisfy { $0.path.contains("resourceVersion={rv}") && $0.path.contains("allowWatchBookmarks=true") })
    }

    /// Every kind of watcher over a few connections, 200 writes/s for 2 s: every event arrives;
    /// then every stream reconnects at once. Over HTTP/2 and over HTTP/1.1.
    @Test(arguments: [false, true])
    func aSmallRunDeliversEveryEvent(http1: Bool) async throws {
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.threads = 1
        configuration.maxRequestsInFlight = 0
        configuration.maxMutatingRequestsInFlight = 0
        // Roomy watcher queues: this checks the harness's counting, and a test run on a loaded
        // machine must not turn a scheduling hiccup into slow-watcher terminations.
        let server = try Server(configuration: configuration, registry: try Registry(configuration: CacheConfiguration(watcherQueueLimit: 10_000),
                                                                                  metricsFactory: APIServer.makeMetricsFactory()))
        let ports = try await server.start()
        var p = FanoutParameters(nodeWatchers: 150, nodes: 50, connections: 4, objects: 100, seconds: 2)
        p.namespaceWatchers = 5
        p.labelWatchers = 20
        p.unselectiveWatchers = 5
        p.writesPerSecond = 200
        p.storm = true
        p.http1 = http1
        let run = FanoutRun(parameters: p, port: ports.cleartext!)
        let m: FanoutMeasurement
        do {
            m = try await run.run()
        } catch {
            await run.close()
            try await server.shutdown()
            throw error
        }
        await run.close()
        try await server.shutdown()
        #expect(m.streamsEstablished == 180 && m.streamsFailed == 0)
        #expect(m.writes > 200 && m.writeErrors == 0)
        #expect(m.deliveredEvents == m.expectedDeliveries)
        #expect(m.latency.count == UInt64(m.deliveredEvents))
        #expect(m.errorEvents == 0 && m.streamsEnded == 0)
        #expect(m.serverRSSStreamsOpen > 0)
        // The storm reopened every stream and the server caught each up.
        #expect(m.stormStreams == 180 && m.stormSeconds > 0)
    }

    /// A graceful restart under the streams (SQLite storage, same port): every stream resumes from
    /// the newest version it saw — with bookmarks, the one the server sends at shutdown — without
    /// a 410, and gets every event written after.
    @Test(arguments: [true, false])
    func everyStreamResumesAfterARestart(bookmarks: Bool) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fanout-restart-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A port below the ephemeral range, handed out once: while the server is down, neither
        // other tests' outgoing connections nor their servers can take it.
        let port = try LoopbackPort.outsideEphemeralRange()
        func start(port: Int) async throws -> (Server, SQLiteStorage, Int) {
            var configuration = ServerConfiguration()
            configuration.port = port
            configuration.threads = 1
            configuration.maxRequestsInFlight = 0
            configuration.maxMutatingRequestsInFlight = 0
            // If the port stays taken while this server is down, say what holds it (an etcd member
            // that had inherited this server's socket did once; see InheritedDescriptors).
            for attempt in 1... {
                let storage = try SQLiteStorage(directory: directory)
                let registry = try Registry(storage: storage, configuration: CacheConfiguration(watcherQueueLimit: 10_000),
                                            metricsFactory: APIServer.makeMetricsFactory())
                let server = try Server(configuration: configuration, registry: registry)
                do {
                    return (server, storage, try await server.start().cleartext!)
                } catch where "\(error)".contains("Address already in use") {
                    try? await server.shutdown()
                    try storage.close()
                    guard attempt < 50 else {
                        let holders = (try? await offPool { commandOutput("/usr/bin/ss", ["-tanp", "sport = :\(port)"]) }) ?? nil
                        Issue.record("port \(port) still in use after \(attempt) attempts: \(holders ?? "?")")
                        throw error
                    }
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
            fatalError("unreachable")
        }
        var (server, storage, _) = try await start(port: port)
        var p = FanoutParameters(nodeWatchers: 100, nodes: 50, connections: 4, objects: 100, seconds: 1)
        p.namespaceWatchers = 5
        p.writesPerSecond = 200
        p.bookmarks = bookmarks
        p.tracksVersions = true
        let run = FanoutRun(parameters: p, port: port)
        do {
            let m = try await run.run()
            #expect(m.streamsEstablished == 105 && m.deliveredEvents == m.expectedDeliveries)
            let restart = try await run.restart {
                let stopping = CPUTime.wall()
                try await server.shutdown()
                try storage.close()
                let spawned = CPUTime.wall()
                (server, storage, _) = try await start(port: port)
                return (spawned - stopping, CPUTime.wall() - spawned)
            }
            #expect(restart.streams == 105)
            #expect(restart.resumed == 105 && restart.failed == 0 && restart.relists == 0)
            // With bookmarks each stream's last version is the shutdown's: nothing to replay.
            if bookmarks { #expect(restart.shutdownBookmarks > 0 && restart.initEvents == 0) } else { #expect(restart.shutdownBookmarks == 0) }
            #expect(restart.writesAfter > 0 && restart.deliveredAfter == restart.expectedAfter)
        } catch {
            await run.close()
            try await server.shutdown()
            throw error
        }
        await run.close()
        try await server.shutdown()
        try storage.close()
    }
}
