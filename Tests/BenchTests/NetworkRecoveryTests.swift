import Testing
import WatchCache
import WatchCacheServer
@testable import WatchCacheBench

/// The network mode's parts, and one small run against a real server on loopback.
@Suite struct NetworkRecoveryTests {
    @Test func metricsParseIntoPerWatchFigures() {
        let pods = #"group="",version="v1",resource="pods""#
        func page(sum: Int, count: Int, buckets: [(String, Int)], cpu: Double, initTotal: Int) -> String {
            var text = "# HELP x\n"
            text += "apiserver_init_events_total{\(pods)} \(initTotal)\n"
            text += "apiserver_init_events_total{group=\"\",version=\"v1\",resource=\"configmaps\"} 999\n"
            for (le, n) in buckets { text += "watchcache_watch_init_events_bucket{\(pods),le=\"\(le)\"} \(n)\n" }
            text += "watchcache_watch_init_events_sum{\(pods)} \(sum)\nwatchcache_watch_init_events_count{\(pods)} \(count)\n"
            text += "process_cpu_seconds_total \(cpu)\n"
            return text
        }
        let before = ServerMetrics(parsing: page(sum: 10, count: 2, buckets: [("0", 1), ("10", 2), ("100", 2), ("+Inf", 2)], cpu: 1.5, initTotal: 10))
        let after = ServerMetrics(parsing: page(sum: 410, count: 12, buckets: [("0", 1), ("10", 8), ("100", 11), ("+Inf", 12)], cpu: 4, initTotal: 500))
        #expect(after.initEventsTotal == 500 && after.cpuSeconds == 4)
        let d = after.initEventsPerWatch(since: before)
        #expect(d.count == 10 && d.total == 400 && d.mean == 40)
        #expect(d.p50 == 10)  // 6 of the 10 new watch starts took at most 10
        #expect(d.p99 == .infinity && d.max == .infinity)  // one took more than 100
    }

    @Test func theFirstResourceVersionIsTheObjectsOrTheLists() {
        let line = Array(#"{"type":"MODIFIED","object":{"kind":"Pod","metadata":{"name":"a","resourceVersion":"1234"},"spec":{}}}"#.utf8)
        #expect(NetworkRecoveryRun.firstResourceVersion(line[...]) == ResourceVersion(1234))
        let list = Array(#"{"kind":"PodList","metadata":{"resourceVersion":"77"},"items":[{"metadata":{"resourceVersion":"5"}}]}"#.utf8)
        #expect(NetworkRecoveryRun.firstResourceVersion(list[...]) == ResourceVersion(77))
        #expect(NetworkRecoveryRun.firstResourceVersion(Array("{}".utf8)[...]) == nil)
    }

    /// A small KEP-956-shaped run (N = 20, N/R = 80 s) at compression 50 against an in-process
    /// server on a real socket: the watchers are HTTP/2 streams, the figures come from /metrics.
    @Test func aSmallRunOverTheNetwork() async throws {
        var p = RecoveryParameters(watchers: 20, writesPerSecond: 0.25)
        p.objectsPerWatcher = 3
        p.windowEvents = 1000
        p.compression = 50
        p.warmup = 300
        p.measured = 600
        var results: [RecoveryMeasurement] = []
        for bookmarks in [false, true] {
            let f = p.compression
            let cache = CacheConfiguration(history: HistoryWindow(minimumEvents: 1000, maximumEvents: 1000, freshness: .seconds(75 / f)),
                                           bookmarkInterval: .seconds(60 / f), bookmarkLead: .seconds(2 / f), timerResolution: .seconds(1 / f),
                                           watchReplay: p.replay)  // the scan: what KEP-956 measured
            var configuration = ServerConfiguration()
            configuration.port = 0
            configuration.threads = 1
            configuration.tickInterval = .milliseconds(5)
            let server = try Server(configuration: configuration, registry: try Registry(configuration: cache, metricsFactory: APIServer.makeMetricsFactory()))
            let ports = try await server.start()
            let run = NetworkRecoveryRun(parameters: p, bookmarks: bookmarks, port: ports.cleartext!)
            run.streamsPerConnection = 8  // several connections even for 20 watchers
            do {
                results.append(try await run.run())
            } catch {
                Issue.record("run failed: \(error)")
            }
            await run.close()
            try await server.shutdown()
        }
        try #require(results.count == 2, "both runs must finish")
        let c = RecoveryComparison(off: results[0], on: results[1])
        #expect(c.off.reconnects > 10 && c.on.reconnects > 10)
        #expect(c.off.bookmarksReceived == 0 && c.on.bookmarksReceived > 0)
        #expect(c.off.writes > 50 && c.on.writes > 50)
        #expect(c.off.expired == 0 && c.on.expired == 0)
        #expect(c.off.failedRequests == 0 && c.on.failedRequests == 0)
        #expect(c.initEventRatio > 5)
        #expect(c.off.serverCPUSeconds > 0 && c.off.watchBytes > 0)
        #expect(c.off.stormInitEvents > c.on.stormInitEvents)
    }
}
