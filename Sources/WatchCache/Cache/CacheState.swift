/// Everything a ``ResourceCache`` guards with its lock.
struct CacheState {
    var store: ObjectStore
    var log: EventLog
    /// The newest version the cache has processed: its last event's, or newer when progress
    /// (writes to other resources, storage progress notifications) moved it on.
    var version: ResourceVersion
    var watchers = WatcherIndex()
    var bookmarks = TimerWheel()
    var deadlines = TimerWheel()
    /// Watchers whose deadline falls within the current second (checked every tick).
    var imminentDeadlines: [Watcher] = []
    var budget: TimeBudget
    /// Live watchers whose queue is over its limit, and when the tolerance window for them ends.
    var blocked: [Watcher] = []
    var blockedWindowEnd: Timestamp?
    /// Reads waiting for the cache to reach a version.
    var waiters: [VersionWaiter] = []
    var nextWatcherID: UInt64 = 1
    var closed = false
}

/// A read waiting until the cache reaches `target`, or `deadline` (then 504).
struct VersionWaiter {
    enum Kind {
        case list(ListOptions, WatchFilter, @Sendable (Result<ListResult, Status>) -> Void)
        case watch(Watcher)
    }
    var target: ResourceVersion
    var deadline: Timestamp
    var kind: Kind
}

/// Work to do after the cache lock is released: wake consumers, complete waiting reads, log.
struct DeferredEffects {
    var ready: [Watcher] = []
    var completions: [@Sendable () -> Void] = []
    var terminated: [(Watcher, Int)] = []

    func run(logger: CacheLogger?) {
        for w in ready { w.notifyReady() }
        for c in completions { c() }
        if let logger {
            for (w, queued) in terminated {
                logger("Forcing \(w.cache.resource.qualifiedPlural) watcher close due to unresponsiveness: \(w). len(c.result) = \(queued), graceful = false")
            }
        }
    }
}

/// Where a cache reports what it does (the slow-watcher terminations Kubernetes logs).
/// The server passes one that writes through swift-log; the core has no logging dependency.
public typealias CacheLogger = @Sendable (String) -> Void
