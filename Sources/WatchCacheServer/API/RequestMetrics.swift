import Synchronization
import WatchCache

/// Request counts and latencies by verb and code, for `/metrics`
/// (`apiserver_request_total`, `apiserver_request_duration_seconds`).
final class RequestMetrics: Sendable {
    /// Histogram bucket bounds, in seconds.
    static let buckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

    private struct Histogram {
        var counts = [UInt64](repeating: 0, count: RequestMetrics.buckets.count)
        var count: UInt64 = 0
        var sum: Double = 0
    }

    private struct State {
        var requests: [String: [Int: UInt64]] = [:]  // verb → code → count
        var durations: [String: Histogram] = [:]      // verb → latency
    }

    private let state = Mutex(State())

    func record(verb: String, code: Int, seconds: Double) {
        state.withLock { s in
            s.requests[verb, default: [:]][code, default: 0] += 1
            var h = s.durations[verb] ?? Histogram()
            for (i, bound) in Self.buckets.enumerated() where seconds <= bound { h.counts[i] += 1 }
            h.count += 1
            h.sum += seconds
            s.durations[verb] = h
        }
    }

    /// Appends the request metrics in the Prometheus text format.
    func render(into out: inout String) {
        let s = state.withLock { $0 }
        out += "# HELP apiserver_request_total Requests answered, by verb and HTTP code (a watch counts when it starts).\n"
        out += "# TYPE apiserver_request_total counter\n"
        for verb in s.requests.keys.sorted() {
            for code in s.requests[verb]!.keys.sorted() {
                out += "apiserver_request_total{verb=\"\(verb)\",code=\"\(code)\"} \(s.requests[verb]![code]!)\n"
            }
        }
        out += "# HELP apiserver_request_duration_seconds Time to answer a request (to the start of the stream for watches).\n"
        out += "# TYPE apiserver_request_duration_seconds histogram\n"
        for verb in s.durations.keys.sorted() {
            let h = s.durations[verb]!
            for (i, bound) in Self.buckets.enumerated() {
                out += "apiserver_request_duration_seconds_bucket{verb=\"\(verb)\",le=\"\(bound)\"} \(h.counts[i])\n"
            }
            out += "apiserver_request_duration_seconds_bucket{verb=\"\(verb)\",le=\"+Inf\"} \(h.count)\n"
            out += "apiserver_request_duration_seconds_sum{verb=\"\(verb)\"} \(h.sum)\n"
            out += "apiserver_request_duration_seconds_count{verb=\"\(verb)\"} \(h.count)\n"
        }
    }
}

/// The `/metrics` document: every cache's counters and sizes, then the request metrics.
enum MetricsPage {
    static func render(caches: [ResourceCache], requests: RequestMetrics) -> String {
        let stats = caches.map { $0.statistics() }
        var out = ""
        func labels(_ s: CacheStatistics) -> String {
            "group=\"\(s.resource.group)\",version=\"\(s.resource.version)\",resource=\"\(s.resource.plural)\""
        }
        func family(_ name: String, _ type: String, _ help: String, _ value: (CacheStatistics) -> String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for s in stats { out += "\(name){\(labels(s))} \(value(s))\n" }
        }
        family("apiserver_init_events_total", "counter", "Events scanned to start or resume watches, matching or not.") { "\($0.initEvents)" }
        family("watchcache_events_recorded_total", "counter", "Changes recorded in the history window.") { "\($0.eventsRecorded)" }
        family("apiserver_watch_events_total", "counter", "Events (bookmarks included) handed to watch streams.") { "\($0.eventsDelivered)" }
        family("watchcache_bookmarks_total", "counter", "Bookmarks handed to watch streams.") { "\($0.bookmarksDelivered)" }
        family("apiserver_terminated_watchers_total", "counter", "Watchers ended because they did not keep up.") { "\($0.watchersTerminated)" }
        family("watchcache_parked_watchers_total", "counter", "Times a watcher fell behind and went back to reading the history window at its own pace.") { "\($0.watchersParked)" }
        family("watchcache_parked_replay_events_total", "counter", "History events parked watchers examined to catch up.") { "\($0.parkedReplayEvents)" }
        family("watchcache_expired_watches_total", "counter", "Watches answered 410 Expired (too old resource version).") { "\($0.watchesExpired)" }
        family("watchcache_archive_replays_total", "counter", "Watches that resumed from the storage's history, older than the window.") { "\($0.archiveReplays)" }
        family("watchcache_watchers_started_total", "counter", "Watches started.") { "\($0.watchersStarted)" }
        family("apiserver_registered_watchers", "gauge", "Watches open now.") { "\($0.currentWatchers)" }
        family("apiserver_watch_cache_capacity", "gauge", "Events the history window may hold now.") { "\($0.windowCapacity)" }
        family("watchcache_window_events", "gauge", "Events in the history window now.") { "\($0.windowEvents)" }
        family("watchcache_objects", "gauge", "Objects stored.") { "\($0.objects)" }
        family("watchcache_resource_version", "gauge", "The newest resource version the cache has processed.") { "\($0.resourceVersion)" }
        out += "# HELP watchcache_watch_init_events Init events each watch start scanned before it caught up.\n"
        out += "# TYPE watchcache_watch_init_events histogram\n"
        for s in stats {
            let labels = labels(s)
            let h = s.watchInitEvents
            var cumulative: UInt64 = 0
            for (i, bound) in InitEventHistogram.bounds.enumerated() {
                cumulative += h.bucketCounts[i]
                out += "watchcache_watch_init_events_bucket{\(labels),le=\"\(bound)\"} \(cumulative)\n"
            }
            out += "watchcache_watch_init_events_bucket{\(labels),le=\"+Inf\"} \(h.count)\n"
            out += "watchcache_watch_init_events_sum{\(labels)} \(h.sum)\n"
            out += "watchcache_watch_init_events_count{\(labels)} \(h.count)\n"
        }
        requests.render(into: &out)
        return out
    }
}
