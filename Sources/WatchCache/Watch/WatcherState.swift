import DequeModule

/// The mutable part of a ``Watcher``: where it is in its life, and the events queued for its consumer.
///
/// ```
/// waitingForVersion ─► snapshot ─► replay ◄─► live ─► finished
///                        (synthetic ADDED) (from the log) (dispatched)
///     loadingArchive ─► archive ─┘        (parked: its consumer fell behind)
///           (from the storage, older than the log)
/// ```
/// A watcher that must replay is not registered for live dispatch: its consumer pulls the replay
/// from the log, and the switch to live happens under the cache lock exactly when the replay
/// reaches the newest event, so nothing is missed or delivered twice. Its phase changes only
/// through the transitions in `WatcherState+Transitions.swift` (and ``finish(_:keepQueued:)``).
struct WatcherState {
    enum Phase {
        /// Watch-list at a version the cache has not reached: wait until `deadline`, then 504.
        case waitingForVersion(ResourceVersion, deadline: Timestamp)
        /// Synthetic ADDED events for `objects` (the store at `version`), then the log from `resumeAt`.
        case snapshot(objects: [KubeObject], next: Int, resumeAt: Int, version: ResourceVersion)
        /// Waiting while the storage's history of `(after, through]` is read (off the lock and
        /// off the consumer's thread).
        case loadingArchive(after: ResourceVersion, through: ResourceVersion)
        /// Replaying `events` read from the storage's history (older than the log), then the log
        /// from `resumeAt`.
        case archive(events: [CacheEvent], next: Int, resumeAt: Int)
        /// Replaying the log from absolute position `position`.
        case replay(position: Int)
        /// Registered with the dispatcher.
        case live
        case finished(WatchEndReason)
    }

    // Declared widest first, so an idle watcher's state has no padding between fields.
    var queue = Deque<WatchEvent>()
    /// The newest version queued (or the version the watch starts after): later events and
    /// bookmarks must be newer, so nothing is delivered twice or out of order.
    var lastVersion: ResourceVersion
    /// Init events scanned for this watch so far (snapshot objects and replayed log events).
    var initScanned = 0
    var phase: Phase
    /// A bookmark came due while the watcher was still catching up: sent when it goes live.
    var pendingBookmark: ResourceVersion?
    /// Send the `k8s.io/initial-events-end` bookmark when the snapshot is done.
    var sendEndBookmark: Bool
    /// The consumer found nothing and expects `onReady`.
    var consumerWaiting = false
    /// It fell behind while live and reads the log to catch up (``SlowWatcherPolicy/park``): what
    /// it examines then is not an init event.
    var parked = false
    /// In its cache's list of parked watchers (``CacheState/parked``), once at most.
    var inParkedList = false

    init(phase: Phase, lastVersion: ResourceVersion, sendEndBookmark: Bool) {
        self.phase = phase
        self.lastVersion = lastVersion
        self.sendEndBookmark = sendEndBookmark
    }

    var isLive: Bool { if case .live = phase { true } else { false } }
    var isFinished: Bool { if case .finished = phase { true } else { false } }

    /// Converts a change to what this watcher sees (Kubernetes' `convertToWatchEvent`): ADDED when
    /// the object enters the selection, MODIFIED while it stays, DELETED — with the previous state
    /// at the event's version — when it leaves or is deleted.
    static func convert(_ event: CacheEvent, filter: WatchFilter) -> WatchEvent? {
        let newMatches = event.type != .deleted && filter.matches(event.object)
        let oldMatches: Bool
        if let previous = event.previous { oldMatches = filter.matches(previous) } else { oldMatches = false }
        switch (newMatches, oldMatches) {
        case (true, false): return WatchEvent(type: .added, object: event.object)
        case (true, true): return WatchEvent(type: .modified, object: event.object)
        case (false, true): return WatchEvent(type: .deleted, object: event.departedObject)
        case (false, false): return nil
        }
    }

    /// Queues `event` if it is newer than anything queued. Returns whether it was queued.
    mutating func enqueue(_ event: CacheEvent, filter: WatchFilter) -> Bool {
        guard event.resourceVersion > lastVersion, let converted = Self.convert(event, filter: filter) else { return false }
        queue.append(converted)
        lastVersion = event.resourceVersion
        return true
    }

    /// Takes the consumer's wake-up request, if any.
    mutating func takeWaiting() -> Bool {
        defer { consumerWaiting = false }
        return consumerWaiting
    }

    /// Ends the watch. Returns `false` if it had already ended.
    mutating func finish(_ reason: WatchEndReason, keepQueued: Bool) -> Bool {
        guard !isFinished else { return false }
        phase = .finished(reason)
        if !keepQueued { queue.removeAll() }
        return true
    }
}
