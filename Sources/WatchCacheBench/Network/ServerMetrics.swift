/// The figures the network benchmark reads from a server's `/metrics` (Prometheus text format).
struct ServerMetrics: Sendable {
    var initEventsTotal = 0.0
    var expiredWatches = 0.0
    var cpuSeconds = 0.0
    var residentBytes = 0.0
    /// `apiserver_terminated_watchers_total` for pods.
    var terminatedWatchers = 0.0
    /// `watchcache_parked_watchers_total` for pods.
    var parkedWatchers = 0.0
    /// `watchcache_watch_init_events` for pods: cumulative bucket counts by upper bound, sum, count.
    var initBuckets: [(bound: Double, cumulative: Double)] = []
    var initSum = 0.0
    var initCount = 0.0
    /// Which series the text had: kube-apiserver has the init events counter and the process
    /// figures, not watchcache's per-watch histogram.
    var hasInitEventsCounter = false
    var hasInitHistogram = false
    var hasProcessCPU = false

    init() {}

    /// Parses the pod series and the process metrics out of `text`.
    init(parsing text: String) {
        let pods = "group=\"\",version=\"v1\",resource=\"pods\""
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            let series = line[..<space]
            if series.hasPrefix("apiserver_init_events_total{"), Self.isPods(series) {
                initEventsTotal = value
                hasInitEventsCounter = true
            } else if series == "watchcache_expired_watches_total{\(pods)}" {
                expiredWatches = value
            } else if series == "apiserver_terminated_watchers_total{\(pods)}" {
                terminatedWatchers = value
            } else if series == "watchcache_parked_watchers_total{\(pods)}" {
                parkedWatchers = value
            } else if series == "process_cpu_seconds_total" {
                cpuSeconds = value
                hasProcessCPU = true
            } else if series == "process_resident_memory_bytes" {
                residentBytes = value
            } else if series == "watchcache_watch_init_events_sum{\(pods)}" {
                initSum = value
            } else if series == "watchcache_watch_init_events_count{\(pods)}" {
                initCount = value
                hasInitHistogram = true
            } else if series.hasPrefix("watchcache_watch_init_events_bucket{\(pods),le=\"") {
                let bound = series.dropFirst("watchcache_watch_init_events_bucket{\(pods),le=\"".count).dropLast(2)
                initBuckets.append((bound == "+Inf" ? .infinity : Double(bound) ?? .infinity, value))
            }
        }
    }

    /// Whether a series' labels name core pods: `resource="pods"` and, if there is a group label,
    /// the core group (kube-apiserver's labels vary by release: `resource` alone, or with `group`).
    static func isPods(_ series: Substring) -> Bool {
        guard let open = series.firstIndex(of: "{") else { return false }
        let labels = series[series.index(after: open)...].dropLast().split(separator: ",")
        guard labels.contains("resource=\"pods\"") else { return false }
        return !labels.contains { $0.hasPrefix("group=") && $0 != "group=\"\"" }
    }

    /// The counters of two processes added up (a server restarted: the new one counts from zero).
    func adding(_ other: ServerMetrics) -> ServerMetrics {
        var sum = self
        sum.initEventsTotal += other.initEventsTotal
        sum.expiredWatches += other.expiredWatches
        sum.cpuSeconds += other.cpuSeconds
        sum.residentBytes = max(residentBytes, other.residentBytes)
        sum.initSum += other.initSum
        sum.initCount += other.initCount
        sum.initBuckets = zip(initBuckets, other.initBuckets).map { ($0.bound, $0.cumulative + $1.cumulative) }
        sum.hasInitEventsCounter = hasInitEventsCounter && other.hasInitEventsCounter
        sum.hasInitHistogram = hasInitHistogram && other.hasInitHistogram
        sum.hasProcessCPU = hasProcessCPU && other.hasProcessCPU
        return sum
    }

    /// Two servers running side by side (replicas), added up: memory too.
    func summing(_ other: ServerMetrics) -> ServerMetrics {
        var sum = adding(other)
        sum.residentBytes = residentBytes + other.residentBytes
        sum.terminatedWatchers += other.terminatedWatchers
        sum.parkedWatchers += other.parkedWatchers
        return sum
    }

    /// The watch starts between `earlier` and `self`, summarised from the histogram's deltas.
    func initEventsPerWatch(since earlier: ServerMetrics) -> Distribution {
        let count = initCount - earlier.initCount
        guard count > 0 else { return Distribution([]) }
        var deltas: [(bound: Double, cumulative: Double)] = []
        for (i, bucket) in initBuckets.enumerated() {
            let before = i < earlier.initBuckets.count ? earlier.initBuckets[i].cumulative : 0
            deltas.append((bucket.bound, bucket.cumulative - before))
        }
        func quantile(_ q: Double) -> Double {
            let rank = (q * count).rounded(.up)
            return deltas.first { $0.cumulative >= rank }?.bound ?? .infinity
        }
        let sum = initSum - earlier.initSum
        return Distribution(count: Int(count), total: sum, mean: sum / count, p50: quantile(0.5), p99: quantile(0.99), max: quantile(1))
    }
}
