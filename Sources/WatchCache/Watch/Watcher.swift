import Synchronization

/// What ``Watcher/next(maxEvents:)`` returns.
public struct WatchBatch: Sendable {
    /// Events to deliver, in order.
    public var events: [WatchEvent]
    /// Set when the stream is over: `events` are its last.
    public var end: WatchEndReason?

    /// Nothing now and not over: the watcher's `onReady` will be called when there is.
    public var isPending: Bool { events.isEmpty && end == nil }
}

/// The server side of one watch stream.
///
/// A watcher is consumed by pulling: call ``next(maxEvents:)`` until it returns a pending batch,
/// then wait for the `onReady` callback given at creation, and pull again. A watcher has exactly one
/// consumer. Call ``cancel()`` when the client goes away.
public final class Watcher: Sendable, CustomStringConvertible {
    // Declared so that an idle watcher's object has no padding: it is held once per stream.
    /// Unique within its cache.
    public let id: UInt64
    /// How many events may wait in the queue before the watcher counts as blocked.
    let queueLimit: Int
    let cache: ResourceCache
    let filter: WatchFilter
    let state: Mutex<WatcherState>
    /// Dropped once the watch has ended and its last wake-up was delivered, so nothing the consumer
    /// captured (a transport's handler, a connection) outlives the watch in the cache's timer wheels.
    ///
    /// Boxed: a closure kept directly in a `Mutex` is re-abstracted on every `inout` access, so
    /// each wake-up would wrap it in two more thunks and calls would get slower with every event.
    private let onReady: Mutex<ReadyCallback?>
    /// When the watch ends (timeoutSeconds), if ever.
    let deadline: Timestamp?
    let allowBookmarks: Bool

    init(id: UInt64, filter: WatchFilter, allowBookmarks: Bool, queueLimit: Int, deadline: Timestamp?,
         cache: ResourceCache, state: WatcherState, onReady: @escaping @Sendable () -> Void) {
        self.id = id
        self.filter = filter
        self.allowBookmarks = allowBookmarks
        self.queueLimit = queueLimit
        self.deadline = deadline
        self.cache = cache
        self.state = Mutex(state)
        self.onReady = Mutex(ReadyCallback(onReady))
    }

    public var description: String {
        var scope: [String] = []
        if let namespace = filter.namespace { scope.append("namespace \(namespace)") }
        if let name = filter.name { scope.append("name \(name)") }
        if let value = filter.indexValue, let field = cache.resource.indexedField { scope.append("\(field)=\(value)") }
        scope.append("labels \(filter.labels)")
        if !filter.fields.isEverything { scope.append("fields \(filter.fields)") }
        return "watcher \(id) of \(cache.resource.qualifiedPlural) (\(scope.joined(separator: ", ")))"
    }

    /// Up to `maxEvents` events, in order. An empty batch without ``WatchBatch/end`` means "nothing
    /// yet": `onReady` will be called once more is available or the watch ends.
    public func next(maxEvents: Int = 64) -> WatchBatch {
        var events: [WatchEvent] = []
        let end = next(into: &events, maxEvents: maxEvents)
        return WatchBatch(events: events, end: end)
    }

    /// Appends up to `maxEvents` events to `events` (a buffer the caller reuses, so pulling costs no
    /// allocation) and returns the end reason once the stream is over. Appending nothing and
    /// returning `nil` means "nothing yet": `onReady` will be called.
    public func next(into events: inout [WatchEvent], maxEvents: Int) -> WatchEndReason? {
        precondition(maxEvents > 0)
        while true {
            var scanned = 0
            var drained = false
            let before = events.count
            let step: Step = state.withLock { s in
                let wasOver = s.queue.count > queueLimit
                let step = Self.take(&s, into: &events, max: maxEvents, filter: filter, resource: cache.resource, scanned: &scanned)
                drained = wasOver && s.queue.count <= queueLimit
                return step
            }
            if scanned > 0 { cache.metrics.initEvents.add(UInt64(scanned)) }
            if drained { cache.watcherDrained() }
            switch step {
            case .done(let end):
                if events.count > before { cache.metrics.countDelivered(events[before...]) }
                if end != nil { onReady.withLock { $0 = nil } }  // the consumer has seen the end
                return end
            case .replay(let position):
                cache.replay(self, from: position)
            }
        }
    }

    /// Ends the watch from the consumer's side.
    public func cancel() {
        cache.finish(self, reason: .cancelled, keepQueued: false)
        onReady.withLock { $0 = nil }
    }

    /// Whether the watch has ended (its queue may still hold its last events).
    public var isFinished: Bool { state.withLock { $0.isFinished } }

    func notifyReady() {
        let finished = isFinished
        let callback = onReady.withLock { callback in
            defer { if finished { callback = nil } }
            return callback
        }
        callback?.call()
    }

    /// The consumer's wake-up, in a class so that reading and clearing it never re-wraps it.
    final class ReadyCallback: Sendable {
        let call: @Sendable () -> Void
        init(_ call: @escaping @Sendable () -> Void) { self.call = call }
    }

    private enum Step {
        case done(WatchEndReason?)
        case replay(position: Int)
    }

    private static func take(_ s: inout WatcherState, into events: inout [WatchEvent], max: Int, filter: WatchFilter,
                             resource: ResourceDescriptor, scanned: inout Int) -> Step {
        while true {
            if !s.queue.isEmpty {
                var taken = 0
                while taken < max, let e = s.queue.popFirst() {
                    events.append(e)
                    taken += 1
                }
                if s.queue.isEmpty, case .finished(let reason) = s.phase { return .done(reason) }
                return .done(nil)
            }
            switch s.phase {
            case .finished(let reason):
                return .done(reason)
            case .live, .waitingForVersion, .loadingArchive:
                s.consumerWaiting = true
                return .done(nil)
            case .replay(let position):
                return .replay(position: position)
            case .archive:
                s.pullArchive(max: max, filter: filter, scanned: &scanned)
            case .snapshot:
                s.pullSnapshot(max: max, filter: filter, resource: resource, scanned: &scanned)
            }
        }
    }
}
