import Logging

/// Everything a ``ResourceCache`` guards with its lock.
struct CacheState {
    var store: ObjectStore
    var log: EventLog
    /// The newest version the cache has processed: its last event's, or newer when progress
    /// (writes to other resources, storage progress notifications) moved it on.
    var version: ResourceVersion
    var watchers = WatcherIndex()
    var bookmarks: TimerWheel
    var deadlines: TimerWheel
    var budget: TimeBudget
    /// Live watchers whose queue is over its limit, and when the tolerance window for them ends.
    var blocked: [Watcher] = []
    var blockedWindowEnd: Timestamp?
    /// Watchers parked behind the log (``SlowWatcherPolicy/park``), some perhaps live or ended
    /// since, and the lowest log position any of them was at when last looked at: once the log
    /// drops that position, the ones whose next event is gone are ended.
    var parked: [Watcher] = []
    var parkedLowest = Int.max
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
        /// A read that only needs the cache to have reached the version (a consistent GET, a write
        /// waiting to be visible in its own cache).
        case reached(@Sendable (Result<Void, Status>) -> Void)
    }
    var target: ResourceVersion
    var deadline: Timestamp
    var kind: Kind
}

/// Work to do after the cache lock is released: wake consumers, complete waiting reads, log.
struct DeferredEffects {
    var ready: [Watcher] = []
    var completions: [@Sendable () -> Void] = []
    var terminated: [(watcher: Watcher, queued: Int, graceful: Bool)] = []

    func run(logger: Logger) {
        for w in ready { w.notifyReady() }
        for c in completions { c() }
        for (w, queued, graceful) in terminated {
            // kube-apiserver's wording, so operators' log searches keep working.
            logger.info("Forcing \(w.cache.resource.qualifiedPlural) watcher close due to unresponsiveness: \(w). len(c.result) = \(queued), graceful = \(graceful)",
                        metadata: ["watchcache.resource": "\(w.cache.resource.qualifiedPlural)", "watchcache.watcher": "\(w.id)",
                                   "watchcache.queued": "\(queued)"])
        }
    }
}