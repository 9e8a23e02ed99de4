import CoreMetrics
import Synchronization

/// Counters of one resource's cache, updated without locks. Read them through
/// ``ResourceCache/statistics()``; each is also reported through swift-metrics, to the factory the
/// cache was given (`ResourceCache.init(..., metricsFactory:, ...)`),
/// under kube-apiserver's names where it has one, with the dimensions `group`, `version` and
/// `resource`.
final class CacheMetrics: Sendable {
    /// Events scanned to start or resume watches (Kubernetes' `apiserver_init_events_total`):
    /// every replayed log event and every store object considered for a synthetic ADDED, matching or not.
    let initEvents: ReportedCounter
    let eventsRecorded: ReportedCounter
    let eventsDelivered: ReportedCounter
    let bookmarksDelivered: ReportedCounter
    let watchersStarted: ReportedCounter
    let watchersTerminated: ReportedCounter
    /// Watchers that fell behind and went back to reading the log (``SlowWatcherPolicy/park``).
    let watchersParked: ReportedCounter
    /// Log events parked watchers examined to catch up (not init events: no watch started).
    let parkedReplayEvents: ReportedCounter
    let watchesExpired: ReportedCounter
    /// Watches that resumed from the storage's history, older than the window.
    let archiveReplays: ReportedCounter
    let currentWatchers: ReportedMeter
    /// Init events per watch start, recorded when the watch has caught up.
    let watchInitEvents = Mutex(InitEventHistogram())
    private let watchInitEventsRecorder: Recorder
    /// The sizes, reported as gauges after each change (``reportSizes(windowEvents:windowCapacity:objects:version:)``).
    private let windowEvents: Gauge
    private let windowCapacity: Gauge
    private let objects: Gauge
    private let resourceVersion: Gauge

    init(resource: ResourceDescriptor, factory: any MetricsFactory) {
        let dimensions = [("group", resource.group), ("version", resource.version), ("resource", resource.plural)]
        func counter(_ metric: ReportedMetric) -> ReportedCounter { ReportedCounter(metric, dimensions: dimensions, factory: factory) }
        func gauge(_ metric: ReportedMetric) -> Gauge { Gauge(label: metric.label, dimensions: dimensions, factory: factory) }
        initEvents = counter(.initEvents)
        eventsRecorded = counter(.eventsRecorded)
        eventsDelivered = counter(.eventsDelivered)
        bookmarksDelivered = counter(.bookmarksDelivered)
        watchersStarted = counter(.watchersStarted)
        watchersTerminated = counter(.watchersTerminated)
        watchersParked = counter(.watchersParked)
        parkedReplayEvents = counter(.parkedReplayEvents)
        watchesExpired = counter(.watchesExpired)
        archiveReplays = counter(.archiveReplays)
        currentWatchers = ReportedMeter(.currentWatchers, dimensions: dimensions, factory: factory)
        watchInitEventsRecorder = Recorder(label: ReportedMetric.watchInitEvents.label, dimensions: dimensions, aggregate: true, factory: factory)
        windowEvents = gauge(.windowEvents)
        windowCapacity = gauge(.windowCapacity)
        objects = gauge(.objects)
        resourceVersion = gauge(.resourceVersion)
    }

    func countDelivered(_ events: ArraySlice<WatchEvent>) {
        eventsDelivered.add(UInt64(events.count))
        let bookmarks = events.reduce(0) { $0 + ($1.type == .bookmark ? 1 : 0) }
        if bookmarks > 0 { bookmarksDelivered.add(UInt64(bookmarks)) }
    }

    /// Records how many init events a watch start took, once it has caught up.
    func recordWatchInitEvents(_ events: Int) {
        watchInitEvents.withLock { $0.record(events) }
        watchInitEventsRecorder.record(max(0, events))
    }

    /// Reports the cache's sizes after a change.
    func reportSizes(windowEvents: Int, windowCapacity: Int, objects: Int, version: ResourceVersion) {
        self.windowEvents.record(windowEvents)
        self.windowCapacity.record(windowCapacity)
        self.objects.record(objects)
        resourceVersion.record(Int64(truncatingIfNeeded: version.rawValue))
    }
}

/// A counter kept in an atomic (for ``ResourceCache/statistics()``) and reported through
/// swift-metrics at every increment.
final class ReportedCounter: Sendable {
    private let value = Atomic<UInt64>(0)
    private let counter: Counter

    init(_ metric: ReportedMetric, dimensions: [(String, String)], factory: any MetricsFactory) {
        counter = Counter(label: metric.label, dimensions: dimensions, factory: factory)
    }

    func add(_ amount: UInt64) {
        value.add(amount, ordering: .relaxed)
        counter.increment(by: Int64(truncatingIfNeeded: amount))
    }

    func load() -> UInt64 { value.load(ordering: .relaxed) }
}

/// A count that goes up and down, kept in an atomic and reported through a swift-metrics `Meter`:
/// the backend adds and subtracts too, so concurrent changes cannot leave it at a stale value (as
/// setting a gauge to each new total could, when two totals are set in the other order).
final class ReportedMeter: Sendable {
    private let value = Atomic<Int>(0)
    private let meter: Meter

    init(_ metric: ReportedMetric, dimensions: [(String, String)], factory: any MetricsFactory) {
        meter = Meter(label: metric.label, dimensions: dimensions, factory: factory)
    }

    func add(_ amount: Int) {
        value.add(amount, ordering: .relaxed)
        meter.increment(by: Double(amount))
    }

    func subtract(_ amount: Int) {
        value.subtract(amount, ordering: .relaxed)
        meter.decrement(by: Double(amount))
    }

    func load() -> Int { value.load(ordering: .relaxed) }
}

/// How many init events watch starts took: a histogram (Prometheus-style buckets), with count and sum.
public struct InitEventHistogram: Sendable, Hashable {
    /// Upper bounds of the buckets; a last, unbounded bucket follows.
    public static let bounds: [UInt64] = [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000]
    /// Watch starts per bucket (not cumulative); one more entry than ``bounds`` for the overflow.
    public var bucketCounts = [UInt64](repeating: 0, count: InitEventHistogram.bounds.count + 1)
    public var count: UInt64 = 0
    public var sum: UInt64 = 0

    public init() {}

    mutating func record(_ events: Int) {
        let value = UInt64(max(0, events))
        let bucket = Self.bounds.firstIndex { value <= $0 } ?? Self.bounds.count
        bucketCounts[bucket] += 1
        count += 1
        sum += value
    }

    /// The upper bound of the bucket holding the `q` quantile (∞ for the overflow bucket): what a
    /// Prometheus `histogram_quantile` would bound it by.
    public func quantileUpperBound(_ q: Double) -> Double {
        guard count > 0 else { return 0 }
        let rank = UInt64((q * Double(count)).rounded(.up))
        var seen: UInt64 = 0
        for (i, c) in bucketCounts.enumerated() {
            seen += c
            if seen >= rank { return i < Self.bounds.count ? Double(Self.bounds[i]) : .infinity }
        }
        return .infinity
    }
}

/// A snapshot of one resource cache's counters and sizes.
public struct CacheStatistics: Sendable, Hashable {
    public var resource: ResourceDescriptor
    /// Events scanned to start or resume watches, matching or not (`apiserver_init_events_total`).
    public var initEvents: UInt64
    /// Init events per watch start, as a histogram.
    public var watchInitEvents: InitEventHistogram
    /// Changes recorded in the log.
    public var eventsRecorded: UInt64
    /// Events (including bookmarks) handed to watch consumers.
    public var eventsDelivered: UInt64
    /// Bookmarks handed to watch consumers.
    public var bookmarksDelivered: UInt64
    public var watchersStarted: UInt64
    /// Watchers ended because their queue stayed full past the slow-watcher budget.
    public var watchersTerminated: UInt64
    /// Times a watcher fell behind and went back to reading the log (``SlowWatcherPolicy/park``).
    public var watchersParked: UInt64
    /// Log events parked watchers examined to catch up again.
    public var parkedReplayEvents: UInt64
    /// Watches answered with 410 Expired (too old resource version).
    public var watchesExpired: UInt64
    /// Watches that resumed from the storage's history because the window no longer reached back.
    public var archiveReplays: UInt64
    public var currentWatchers: Int
    /// Events in the history window now.
    public var windowEvents: Int
    /// How many events the window may hold now.
    public var windowCapacity: Int
    public var objects: Int
    public var resourceVersion: ResourceVersion
}
