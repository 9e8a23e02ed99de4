import MetricsTestKit
import Testing
@testable import WatchCache

/// The caches report through swift-metrics, to the factory the embedding program gives: the same
/// figures ``ResourceCache/statistics()`` reads, under the server's `/metrics` names.
@Suite struct MetricsReportingTests {
    static let pods = [("group", ""), ("version", "v1"), ("resource", "pods")]

    @Test func countersGaugesAndTheInitEventsHistogramReachTheFactory() throws {
        let metrics = TestMetrics()
        let clock = ManualClock()
        let registry = try Registry(clock: clock, metricsFactory: metrics)
        let pods = try registry.register(.pods)
        for i in 0..<5 {
            _ = try registry.create(Fixture.podJSON("p\(i)", node: "n\(i % 2)"), in: .pods)
        }
        // A watch from version 1 replays four events for a node filter (init events), then goes live.
        let watcher = try pods.watch(WatchOptions(resourceVersion: "1", fieldSelector: "spec.nodeName=n0")) {}
        _ = drain(watcher)
        _ = try registry.create(Fixture.podJSON("p5", node: "n0"), in: .pods)
        _ = drain(watcher)
        pods.tick()

        let stats = pods.statistics()
        func counter(_ name: String) throws -> Int64 { try metrics.expectCounter(name, Self.pods).totalValue }
        #expect(try counter("apiserver_init_events_total") == Int64(stats.initEvents) && stats.initEvents > 0)
        #expect(try counter("watchcache_events_recorded_total") == 6)
        #expect(try counter("apiserver_watch_events_total") == Int64(stats.eventsDelivered) && stats.eventsDelivered > 0)
        #expect(try counter("watchcache_watchers_started_total") == 1)
        #expect(try metrics.expectMeter("apiserver_registered_watchers", Self.pods).lastValue == 1)
        #expect(try metrics.expectGauge("watchcache_objects", Self.pods).lastValue == 6)
        #expect(try metrics.expectGauge("watchcache_window_events", Self.pods).lastValue == 6)
        #expect(try metrics.expectGauge("watchcache_resource_version", Self.pods).lastValue == 6)
        #expect(try metrics.expectGauge("apiserver_watch_cache_capacity", Self.pods).lastValue == Double(stats.windowCapacity))
        // One watch start, recorded once it caught up, with the init events it scanned.
        let recorded = try metrics.expectRecorder("watchcache_watch_init_events", Self.pods).values
        #expect(recorded == [Double(stats.watchInitEvents.sum)] && stats.watchInitEvents.count == 1)

        watcher.cancel()
        #expect(try metrics.expectMeter("apiserver_registered_watchers", Self.pods).lastValue == 0)
        // Other resources report under their own dimensions.
        try registry.register(.configMaps)
        _ = try registry.create(JSONObject([("metadata", .object(JSONObject([("name", .string("c"))])))]), in: .configMaps)
        #expect(try metrics.expectCounter("watchcache_events_recorded_total", [("group", ""), ("version", "v1"), ("resource", "configmaps")]).totalValue == 1)
        #expect(try counter("watchcache_events_recorded_total") == 6)
    }
}
