import Synchronization

/// Counters of one resource's cache, updated without locks. Read them through
/// ``ResourceCache/statistics()``.
final class CacheMetrics: Sendable {
    /// Events scanned to start or resume watches (Kubernetes' `apiserver_init_events_total`):
    /// every replayed log event and every store object considered for a synthetic ADDED, matching or not.
    let initEvents = Atomic<UInt64>(0)
    let eventsRecorded = Atomic<UInt64>(0)
    let eventsDelivered = Atomic<UInt64>(0)
    let bookmarksDelivered = Atomic<UInt64>(0)
    let watchersStarted = Atomic<UInt64>(0)
    let watchersTerminated = Atomic<UInt64>(0)
    let watchesExpired = Atomic<UInt64>(0)
    let currentWatchers = Atomic<Int>(0)

    func countDelivered(_ events: ArraySlice<WatchEvent>) {
        eventsDelivered.add(UInt64(events.count), ordering: .relaxed)
        let bookmarks = events.reduce(0) { $0 + ($1.type == .bookmark ? 1 : 0) }
        if bookmarks > 0 { bookmarksDelivered.add(UInt64(bookmarks), ordering: .relaxed) }
    }
}

/// A snapshot of one resource cache's counters and sizes.
public struct CacheStatistics: Sendable, Hashable {
    public var resource: ResourceDescriptor
    /// Events scanned to start or resume watches, matching or not (`apiserver_init_events_total`).
    public var initEvents: UInt64
    /// Changes recorded in the log.
    public var eventsRecorded: UInt64
    /// Events (including bookmarks) handed to watch consumers.
    public var eventsDelivered: UInt64
    /// Bookmarks handed to watch consumers.
    public var bookmarksDelivered: UInt64
    public var watchersStarted: UInt64
    /// Watchers ended because their queue stayed full past the slow-watcher budget.
    public var watchersTerminated: UInt64
    /// Watches answered with 410 Expired (too old resource version).
    public var watchesExpired: UInt64
    public var currentWatchers: Int
    /// Events in the history window now.
    public var windowEvents: Int
    /// How many events the window may hold now.
    public var windowCapacity: Int
    public var objects: Int
    public var resourceVersion: ResourceVersion
}
