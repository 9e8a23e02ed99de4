/// Settings of a resource cache. Every field has Kubernetes' default.
public struct CacheConfiguration: Sendable, Hashable {
    /// How much history is kept for watches to resume from.
    public var history: HistoryWindow
    /// How often a bookmark-enabled watcher gets a bookmark (`defaultBookmarkFrequency`).
    public var bookmarkInterval: Duration
    /// How long before a watch's deadline the last bookmark is sent.
    public var bookmarkLead: Duration
    /// How long a read at a version the cache has not reached waits before 504 (`blockTimeout`).
    public var versionWaitTimeout: Duration
    /// The most time the dispatcher tolerates watchers with full queues (slow-watcher budget).
    public var slowWatcherBudget: Duration
    /// How fast that budget refills, per second.
    public var slowWatcherBudgetRefill: Duration
    /// A fixed queue length per watcher; `nil` sizes it as Kubernetes does (10 to 1,000 by history size and indexing).
    public var watcherQueueLimit: Int?
    /// How many log events a resuming watcher copies per lock acquisition.
    public var replayChunk: Int
    /// How a resuming watch finds its events in the log: `.indexed` (the default) visits only the
    /// events of the value, object or namespace it is pinned to; `.scan` scans every event since
    /// its version, as kube-apiserver does.
    public var watchReplay: WatchReplay
    /// What becomes of a watcher whose consumer does not keep up: `.park` (the default) lets it
    /// fall back to reading the log at its own pace; `.terminate` ends it as kube-apiserver does.
    public var slowWatchers: SlowWatcherPolicy
    /// The slot width of the bookmark and deadline timer wheels (Kubernetes: 1 s): entries are
    /// bucketed by slot, and each comes out at the first ``ResourceCache/tick()`` at or after its
    /// due time. Benchmarks that compress time scale it with the other durations.
    public var timerResolution: Duration

    public init(history: HistoryWindow = HistoryWindow(), bookmarkInterval: Duration = .seconds(60),
                bookmarkLead: Duration = .seconds(2), versionWaitTimeout: Duration = .seconds(3),
                slowWatcherBudget: Duration = .milliseconds(100), slowWatcherBudgetRefill: Duration = .milliseconds(50),
                watcherQueueLimit: Int? = nil, replayChunk: Int = 100, timerResolution: Duration = .seconds(1),
                watchReplay: WatchReplay = .indexed, slowWatchers: SlowWatcherPolicy = .park) {
        self.history = history
        self.bookmarkInterval = bookmarkInterval
        self.bookmarkLead = bookmarkLead
        self.versionWaitTimeout = versionWaitTimeout
        self.slowWatcherBudget = slowWatcherBudget
        self.slowWatcherBudgetRefill = slowWatcherBudgetRefill
        self.watcherQueueLimit = watcherQueueLimit
        self.replayChunk = replayChunk
        self.watchReplay = watchReplay
        self.slowWatchers = slowWatchers
        self.timerResolution = timerResolution
    }

    /// Kubernetes' `suggestedWatchChannelSize`: `ceil(capacity / 75)` within 10 and a maximum of
    /// 10 for watchers reached through the index, 1,000 when the resource is indexed but the
    /// watcher is not, and 100 otherwise.
    func queueLimit(historyCapacity: Int, resourceIndexed: Bool, watcherIndexed: Bool) -> Int {
        if let watcherQueueLimit { return max(1, watcherQueueLimit) }  // 0 would park every watcher at its first event
        let upper = watcherIndexed ? 10 : (resourceIndexed ? 1000 : 100)
        return min(max((historyCapacity + 74) / 75, 10), upper)
    }
}
