/// A metric the core reports through swift-metrics: its label — kube-apiserver's `/metrics` name
/// where it has one — and what it measures. A cache's metrics carry the dimensions `group`,
/// `version` and `resource`; ``storageRelists`` is the registry's and has none.
///
/// An embedding program that renders them itself (a Prometheus exposition, a dashboard) can take
/// the descriptions from ``all``.
public struct ReportedMetric: Sendable, Hashable {
    /// How a metric is reported.
    public enum Kind: Sendable, Hashable {
        /// A swift-metrics `Counter`: only grows.
        case counter
        /// A swift-metrics `Gauge`, set to the current value.
        case gauge
        /// A swift-metrics `Meter`, incremented and decremented.
        case meter
        /// A swift-metrics `Recorder` that aggregates (a histogram), one value per observation.
        case histogram
    }

    /// The swift-metrics label.
    public let label: String
    public let kind: Kind
    /// One sentence on what it measures (a Prometheus `# HELP` text).
    public let help: String

    public static let initEvents = ReportedMetric(label: "apiserver_init_events_total", kind: .counter, help: "Events scanned to start or resume watches, matching or not.")
    public static let eventsRecorded = ReportedMetric(label: "watchcache_events_recorded_total", kind: .counter, help: "Changes recorded in the history window.")
    public static let eventsDelivered = ReportedMetric(label: "apiserver_watch_events_total", kind: .counter, help: "Events (bookmarks included) handed to watch streams.")
    public static let bookmarksDelivered = ReportedMetric(label: "watchcache_bookmarks_total", kind: .counter, help: "Bookmarks handed to watch streams.")
    public static let watchersStarted = ReportedMetric(label: "watchcache_watchers_started_total", kind: .counter, help: "Watches started.")
    public static let watchersTerminated = ReportedMetric(label: "apiserver_terminated_watchers_total", kind: .counter, help: "Watchers ended because they did not keep up.")
    public static let watchersParked = ReportedMetric(label: "watchcache_parked_watchers_total", kind: .counter, help: "Times a watcher fell behind and went back to reading the history window at its own pace.")
    public static let parkedReplayEvents = ReportedMetric(label: "watchcache_parked_replay_events_total", kind: .counter, help: "History events parked watchers examined to catch up.")
    public static let watchesExpired = ReportedMetric(label: "watchcache_expired_watches_total", kind: .counter, help: "Watches answered 410 Expired (too old resource version).")
    public static let archiveReplays = ReportedMetric(label: "watchcache_archive_replays_total", kind: .counter, help: "Watches that resumed from the storage's history, older than the window.")
    public static let currentWatchers = ReportedMetric(label: "apiserver_registered_watchers", kind: .meter, help: "Watches open now.")
    public static let windowCapacity = ReportedMetric(label: "apiserver_watch_cache_capacity", kind: .gauge, help: "Events the history window may hold now.")
    public static let windowEvents = ReportedMetric(label: "watchcache_window_events", kind: .gauge, help: "Events in the history window now.")
    public static let objects = ReportedMetric(label: "watchcache_objects", kind: .gauge, help: "Objects stored.")
    public static let resourceVersion = ReportedMetric(label: "watchcache_resource_version", kind: .gauge, help: "The newest resource version the cache has processed.")
    public static let watchInitEvents = ReportedMetric(label: "watchcache_watch_init_events", kind: .histogram, help: "Init events each watch start scanned before it caught up.")
    public static let storageRelists = ReportedMetric(label: "watchcache_storage_relists_total", kind: .counter, help: "Lists of the source of truth after the first (a feed fell behind its compaction).")

    /// Every metric the core reports.
    public static let all: [ReportedMetric] = [
        initEvents, eventsRecorded, eventsDelivered, bookmarksDelivered, watchersStarted, watchersTerminated, watchersParked,
        parkedReplayEvents, watchesExpired, archiveReplays, currentWatchers, windowCapacity, windowEvents, objects,
        resourceVersion, watchInitEvents, storageRelists,
    ]
}
