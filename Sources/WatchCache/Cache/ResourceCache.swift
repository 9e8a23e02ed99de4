import CoreMetrics
import Dispatch
import Logging
import Synchronization

/// One change fed to a cache by its storage.
public enum Change: Sendable {
    /// The object was created or replaced; it carries its new `metadata.resourceVersion`.
    case put(KubeObject)
    /// The object was deleted; it is the last state, carrying the deletion's resource version.
    case delete(KubeObject)
}

/// The watch cache of one resource: the current objects, a window of recent changes, and the
/// watchers they fan out to — Kubernetes' `Cacher` and `watchCache` for one resource.
///
/// Feed it ordered changes (``apply(_:)``) and progress (``advance(to:)``), drive its time with
/// ``tick()`` (about every 100 ms), and serve ``list(_:)`` and ``watch(_:onReady:)``. All methods are
/// thread-safe. State changes on one lock; consumers are woken after it is released.
public final class ResourceCache: Sendable {
    public let resource: ResourceDescriptor
    public let configuration: CacheConfiguration
    let clock: any WatchClock
    let metrics: CacheMetrics
    let logger: Logger
    let state: Mutex<CacheState>
    /// Where history older than the window is kept: watches resuming from there replay from it
    /// rather than get 410 Expired.
    let archive: (any Storage)?

    /// A cache holding `objects` as of `version` (its initial LIST), with no history before it.
    ///
    /// - Parameters:
    ///   - resource: the resource this cache holds.
    ///   - configuration: history window, bookmarks, slow-watcher policy and limits.
    ///   - clock: the time source for bookmarks, timeouts and the window's age.
    ///   - version: the resource version `objects` were read at.
    ///   - objects: the initial LIST.
    ///   - archive: a storage keeping this resource's history beyond the window; a watch
    ///     from a version the window no longer holds but the archive does replays from it.
    ///   - metricsFactory: where the cache reports its counters and sizes (swift-metrics; by
    ///     default the process's bootstrapped `MetricsSystem`, a no-op until a program bootstraps one).
    ///   - logger: where the cache logs.
    public init(resource: ResourceDescriptor, configuration: CacheConfiguration = CacheConfiguration(),
                clock: any WatchClock = SystemClock(), version: ResourceVersion = .zero,
                objects: [KubeObject] = [], archive: (any Storage)? = nil, metricsFactory: (any MetricsFactory)? = nil,
                logger: Logger = Logger(label: "watchcache")) {
        self.resource = resource
        metrics = CacheMetrics(resource: resource, factory: metricsFactory ?? MetricsSystem.factory)
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        self.archive = archive
        var store = ObjectStore(resource: resource)
        for o in objects { store.put(o) }
        let now = clock.now()
        state = Mutex(CacheState(
            store: store,
            log: EventLog(window: configuration.history, initialVersion: version, indexed: configuration.watchReplay == .indexed),
            version: version,
            bookmarks: TimerWheel(resolution: configuration.timerResolution),
            deadlines: TimerWheel(resolution: configuration.timerResolution),
            budget: TimeBudget(maximum: configuration.slowWatcherBudget, refillPerSecond: configuration.slowWatcherBudgetRefill, now: now)))
        reportSizes()
    }

    /// Replaces the contents of a cache no one watches yet with what a storage recovered: the
    /// objects at `version` and the newest history events (oldest first), which reach back to
    /// `historyFloor` unless there were more than the window holds.
    func restore(version: ResourceVersion, objects: [KubeObject], history: [StoredEvent], historyFloor: ResourceVersion) throws(Status) {
        let events = try CacheEvent.fromStored(history, resource: resource, now: clock.now(), wallNow: WallClock.secondsSince1970())
        // A full refill may have been cut at the window's maximum: it then reaches back to its first event only.
        let truncated = history.count >= configuration.history.maximumEvents
        let floor = truncated ? ResourceVersion(events[0].resourceVersion.rawValue - 1) : historyFloor
        // The store and the log are independent: each is filled on its own core.
        let store = Mutex(ObjectStore(resource: resource))
        let log = Mutex<EventLog?>(nil)
        let (resource, window, indexed) = (resource, configuration.history, configuration.watchReplay == .indexed)
        DispatchQueue.concurrentPerform(iterations: 2) { part in
            if part == 0 {
                let filled = ObjectStore(resource: resource, objects: objects)
                store.withLock { $0 = filled }
            } else {
                let filled = EventLog(window: window, initialVersion: floor, events: events, indexed: indexed)
                log.withLock { $0 = filled }
            }
        }
        state.withLock { cs in
            cs.store = store.withLock { $0 }
            cs.version = version
            cs.log = log.withLock { $0! }
        }
        reportSizes()
    }

    /// Replaces the whole contents with a fresh list of the storage at `snapshot.version` — a
    /// relist, as kube-apiserver's reflector does when its watch fell behind compaction. The window
    /// starts again at that version and every watcher is ended (``WatchEndReason/cacheReset``):
    /// clients resume from their last version, replayed if still in a window, else 410.
    public func replace(with snapshot: StoreSnapshot) {
        var store = ObjectStore(resource: resource)
        for o in snapshot.objects { store.put(o) }
        let now = clock.now()
        var effects = DeferredEffects()
        state.withLock { cs in
            var all: [Watcher] = []
            cs.watchers.forEach { all.append($0) }
            for w in all { finishLocked(w, in: &cs, reason: .cacheReset, keepQueued: true, effects: &effects) }
            var waiting: [VersionWaiter] = []
            for waiter in cs.waiters {
                if case .watch(let w) = waiter.kind {
                    finishLocked(w, in: &cs, reason: .cacheReset, keepQueued: true, effects: &effects)
                } else {
                    waiting.append(waiter)
                }
            }
            cs.waiters = waiting
            // Watchers that are not live (parked, replaying, in a snapshot) end too: the parked now,
            // the others at their next pull, since the new log's positions continue after the old
            // one's and theirs fall below its start.
            endParked(&cs, reason: .cacheReset, effects: &effects)
            cs.store = store
            cs.log = EventLog(window: configuration.history, initialVersion: snapshot.version, indexed: configuration.watchReplay == .indexed,
                              startingAt: cs.log.end)
            cs.version = max(cs.version, snapshot.version)
            resolveWaiters(&cs, now: now, effects: &effects)
        }
        effects.run(logger: logger)
    }

    /// Calls `completion` once the cache has reached `version` — at once if it has — or with 504
    /// (``Status/tooLargeResourceVersion(_:current:)``) after `timeout` (by default
    /// ``CacheConfiguration/versionWaitTimeout``).
    public func whenReached(_ version: ResourceVersion, timeout: Duration? = nil,
                            completion: @escaping @Sendable (Result<Void, Status>) -> Void) {
        let now = clock.now()
        let reached: Bool = state.withLock { cs in
            if cs.version >= version { return true }
            cs.waiters.append(VersionWaiter(target: version, deadline: now + (timeout ?? configuration.versionWaitTimeout), kind: .reached(completion)))
            return false
        }
        if reached { completion(.success(())) }
    }

    /// The cache's version and how many objects it holds at that version (read together).
    public var versionAndCount: (version: ResourceVersion, objects: Int) {
        state.withLock { ($0.version, $0.store.count) }
    }

    /// The newest version the cache has processed.
    public var currentVersion: ResourceVersion { state.withLock { $0.version } }

    /// The current object with this namespace and name.
    public func get(namespace: String?, name: String) -> KubeObject? {
        let key = resource.namespaced ? "\(namespace ?? "")/\(name)" : name
        return state.withLock { $0.store[key] }
    }

    /// The current objects, all or those of one namespace (for controllers that sweep them; a
    /// LIST is ``list(_:completion:)``).
    public func snapshot(namespace: String? = nil) -> [KubeObject] {
        state.withLock { cs in
            guard let namespace else { return Array(cs.store.objects.values) }
            return cs.store.keys(inNamespace: namespace).compactMap { cs.store.objects[$0] }
        }
    }

    /// Records a change and fans it out. Changes must come in strictly increasing version order;
    /// an older one is refused with a 500 InternalError and changes nothing.
    public func apply(_ change: Change) throws(Status) {
        var effects = DeferredEffects()
        try apply(change, effects: &effects)
        effects.run(logger: logger)
    }

    /// ``apply(_:)`` leaving the wake-ups to the caller, to run once its own lock is released.
    func apply(_ change: Change, effects: inout DeferredEffects) throws(Status) {
        let now = clock.now()
        try state.withLock { (cs: inout CacheState) throws(Status) in
            let object: KubeObject
            switch change { case .put(let o), .delete(let o): object = o }
            guard object.resourceVersion > cs.version else {
                throw Status.internalError("change to \(resource.qualifiedPlural) \"\(object.key)\" at resource version \(object.resourceVersion) is not newer than the cache's \(cs.version)")
            }
            let event: CacheEvent
            switch change {
            case .put(let o):
                let previous = cs.store.put(o)
                event = CacheEvent(type: previous == nil ? .added : .modified, object: o, previous: previous, recordedAt: now)
            case .delete(let o):
                guard let previous = cs.store.remove(o.key) else {
                    cs.version = o.resourceVersion  // nothing to delete: only progress
                    resolveWaiters(&cs, now: now, effects: &effects)
                    return
                }
                event = CacheEvent(type: .deleted, object: o, previous: previous, recordedAt: now)
            }
            cs.log.append(event)
            cs.version = event.resourceVersion
            metrics.eventsRecorded.add(1)
            dispatch(event, in: &cs, now: now, effects: &effects)
            endParkedBehindTheLog(&cs, effects: &effects)
            resolveWaiters(&cs, now: now, effects: &effects)
        }
    }

    /// Moves the cache's version forward without a change to this resource (a write elsewhere, or
    /// a storage progress notification), so bookmarks carry it and waiting reads can proceed.
    public func advance(to version: ResourceVersion) {
        var effects = DeferredEffects()
        advance(to: version, effects: &effects)
        effects.run(logger: logger)
    }

    func advance(to version: ResourceVersion, effects: inout DeferredEffects) {
        let now = clock.now()
        state.withLock { cs in
            guard version > cs.version else { return }
            cs.version = version
            resolveWaiters(&cs, now: now, effects: &effects)
        }
    }

    /// Does the time-driven work due now: watch deadlines, bookmarks, the slow-watcher window and
    /// reads that waited too long for a version. Call it every 100 ms or so.
    ///
    /// The sizes (window, objects, version) are reported to swift-metrics here, at each tick,
    /// rather than at every change.
    public func tick() {
        let now = clock.now()
        var effects = DeferredEffects()
        let sizes = state.withLock { cs in
            cs.budget.refill(now: now)
            reviewBlocked(&cs, now: now, effects: &effects)
            expireDeadlines(&cs, now: now, effects: &effects)
            sendBookmarks(&cs, now: now, effects: &effects)
            expireWaiters(&cs, now: now, effects: &effects)
            return (cs.log.count, cs.log.capacity, cs.store.count, cs.version)
        }
        effects.run(logger: logger)
        metrics.reportSizes(windowEvents: sizes.0, windowCapacity: sizes.1, objects: sizes.2, version: sizes.3)
    }

    /// Reports the sizes (window, objects, version) through swift-metrics now. ``tick()`` does
    /// it too; a program that scrapes its metrics calls this first, so the scrape sees the sizes
    /// of this moment rather than of the last tick.
    public func reportSizes() {
        let sizes = state.withLock { cs in (cs.log.count, cs.log.capacity, cs.store.count, cs.version) }
        metrics.reportSizes(windowEvents: sizes.0, windowCapacity: sizes.1, objects: sizes.2, version: sizes.3)
    }

    /// Ends every watch (``WatchEndReason/cacheClosed``) and refuses new ones. Live watchers that
    /// allow bookmarks get a last one at the newest version first, so a client that reconnects to
    /// the restarted server resumes from exactly where it was: it replays only what changed while
    /// it was away (the "bookmark on shutdown" KEP-1904 lists as future work).
    public func close() {
        var effects = DeferredEffects()
        state.withLock { cs in
            cs.closed = true
            var all: [Watcher] = []
            cs.watchers.forEach { all.append($0) }
            let version = cs.version
            let bookmark = version > .zero ? WatchEvent.bookmark(for: resource, at: version) : nil
            for w in all where w.allowBookmarks {
                guard let bookmark else { break }
                w.state.withLock { ws in
                    guard ws.isLive, version > ws.lastVersion else { return }
                    ws.queue.append(bookmark)
                    ws.lastVersion = version
                }
            }
            for w in all { finishLocked(w, in: &cs, reason: .cacheClosed, keepQueued: true, effects: &effects) }
            endParked(&cs, reason: .cacheClosed, effects: &effects)
            // The timer wheels keep ended watchers until their due time (removal is lazy), and
            // each watcher refers to this cache: emptied here, so a closed cache can be freed. Those
            // still replaying (not live yet) end too.
            for w in cs.deadlines.removeAll() + cs.bookmarks.removeAll() {
                finishLocked(w, in: &cs, reason: .cacheClosed, keepQueued: true, effects: &effects)
            }
            for waiter in cs.waiters {
                switch waiter.kind {
                case .list(_, _, let completion): effects.completions.append { completion(.failure(Self.closedStatus)) }
                case .reached(let completion): effects.completions.append { completion(.failure(Self.closedStatus)) }
                case .watch(let w): finishLocked(w, in: &cs, reason: .cacheClosed, keepQueued: true, effects: &effects)
                }
            }
            cs.waiters.removeAll()
        }
        effects.run(logger: logger)
    }

    static let closedStatus = Status(code: 503, reason: .serviceUnavailable, message: "the watch cache is shutting down")

    /// Counters and sizes now.
    public func statistics() -> CacheStatistics {
        let (windowEvents, windowCapacity, objects, version) = state.withLock { ($0.log.count, $0.log.capacity, $0.store.count, $0.version) }
        return CacheStatistics(
            resource: resource,
            initEvents: metrics.initEvents.load(),
            watchInitEvents: metrics.watchInitEvents.withLock { $0 },
            eventsRecorded: metrics.eventsRecorded.load(),
            eventsDelivered: metrics.eventsDelivered.load(),
            bookmarksDelivered: metrics.bookmarksDelivered.load(),
            watchersStarted: metrics.watchersStarted.load(),
            watchersTerminated: metrics.watchersTerminated.load(),
            watchersParked: metrics.watchersParked.load(),
            parkedReplayEvents: metrics.parkedReplayEvents.load(),
            watchesExpired: metrics.watchesExpired.load(),
            archiveReplays: metrics.archiveReplays.load(),
            currentWatchers: metrics.currentWatchers.load(),
            windowEvents: windowEvents, windowCapacity: windowCapacity, objects: objects, resourceVersion: version)
    }

    private func expireDeadlines(_ cs: inout CacheState, now: Timestamp, effects: inout DeferredEffects) {
        for w in cs.deadlines.popDue(now: now) {
            finishLocked(w, in: &cs, reason: .timeout, keepQueued: true, effects: &effects)
        }
    }

    private func sendBookmarks(_ cs: inout CacheState, now: Timestamp, effects: inout DeferredEffects) {
        let due = cs.bookmarks.popDue(now: now)
        guard !due.isEmpty else { return }
        let version = cs.version
        // One bookmark body per tick, shared by every watcher that gets it.
        let bookmark = version > .zero ? WatchEvent.bookmark(for: resource, at: version) : nil
        for w in due {
            let reschedule: Bool = w.state.withLock { ws in
                if ws.isFinished { return false }
                guard let bookmark, version > ws.lastVersion else { return true }
                if !ws.isLive {
                    ws.pendingBookmark = version  // delivered once the replay has caught up
                } else if ws.queue.count < w.queueLimit {
                    ws.queue.append(bookmark)
                    ws.lastVersion = version
                    if ws.takeWaiting() { effects.ready.append(w) }
                }
                return true
            }
            if reschedule, let next = nextBookmarkTime(for: w, now: now) { cs.bookmarks.schedule(w, at: next) }
        }
    }

    /// Kubernetes' `nextBookmarkTime`: a bookmark period from now, but no later than the bookmark
    /// lead before the deadline; none once that moment has passed.
    func nextBookmarkTime(for w: Watcher, now: Timestamp) -> Timestamp? {
        var next = now + configuration.bookmarkInterval
        if let deadline = w.deadline {
            next = min(next, deadline - configuration.bookmarkLead)
            if next < now { return nil }
        }
        return next
    }

    private func expireWaiters(_ cs: inout CacheState, now: Timestamp, effects: inout DeferredEffects) {
        guard !cs.waiters.isEmpty else { return }
        var remaining: [VersionWaiter] = []
        for waiter in cs.waiters {
            guard now >= waiter.deadline else { remaining.append(waiter); continue }
            let status = Status.tooLargeResourceVersion(waiter.target, current: cs.version)
            switch waiter.kind {
            case .list(_, _, let completion):
                effects.completions.append { completion(.failure(status)) }
            case .reached(let completion):
                effects.completions.append { completion(.failure(status)) }
            case .watch(let w):
                w.state.withLock { ws in
                    ws.queue.append(WatchEvent(error: status))
                }
                finishLocked(w, in: &cs, reason: .error(status), keepQueued: true, effects: &effects)
            }
        }
        cs.waiters = remaining
    }

    /// Serves reads and watch-lists that were waiting for a version the cache has now reached.
    func resolveWaiters(_ cs: inout CacheState, now: Timestamp, effects: inout DeferredEffects) {
        guard !cs.waiters.isEmpty else { return }
        var remaining: [VersionWaiter] = []
        for waiter in cs.waiters {
            guard waiter.target <= cs.version else { remaining.append(waiter); continue }
            switch waiter.kind {
            case .list(let options, let filter, let completion):
                let result: Result<ListResult, Status>
                do throws(Status) {
                    switch try listLocked(options, filter: filter, in: &cs) {
                    case .done(let r): result = .success(r)
                    case .wait: result = .failure(.internalError("list still waiting at \(cs.version)"))
                    }
                } catch {
                    result = .failure(error)
                }
                effects.completions.append { completion(result) }
            case .reached(let completion):
                effects.completions.append { completion(.success(())) }
            case .watch(let w):
                startSnapshot(w, in: &cs)
                if w.state.withLock({ $0.takeWaiting() }) { effects.ready.append(w) }
            }
        }
        cs.waiters = remaining
    }

    /// Ends `w` and unregisters it. Safe to call more than once.
    func finishLocked(_ w: Watcher, in cs: inout CacheState, reason: WatchEndReason, keepQueued: Bool, effects: inout DeferredEffects) {
        let (changed, wasLive, notify, listed) = w.state.withLock { ws in
            let wasLive = ws.isLive
            let changed = ws.finish(reason, keepQueued: keepQueued)
            let listed = ws.inParkedList
            ws.inParkedList = false
            return (changed, wasLive, ws.takeWaiting(), listed)
        }
        if listed { cs.parked.removeAll { $0 === w } }
        guard changed else { return }
        if wasLive { cs.watchers.remove(w) }
        metrics.currentWatchers.subtract(1)
        if notify { effects.ready.append(w) }
    }

    func finish(_ w: Watcher, reason: WatchEndReason, keepQueued: Bool) {
        var effects = DeferredEffects()
        state.withLock { cs in
            finishLocked(w, in: &cs, reason: reason, keepQueued: keepQueued, effects: &effects)
            cs.waiters.removeAll { if case .watch(let other) = $0.kind { other === w } else { false } }
        }
        effects.run(logger: logger)
    }
}
