import Synchronization

/// A watch as an `AsyncSequence` of ``WatchEvent``s, for programs that embed the cache.
///
/// Iterate it with `for try await`. The sequence finishes normally (`nil`) only when its consumer
/// ended it: leaving the loop (`break`, which cancels the watch), cancelling the task, cancelling
/// ``watcher``, or the `timeoutSeconds` it asked for passing. Any other end — the server's side of
/// the watch — throws a ``WatchInterruption`` that says why and from which version to resume, as
/// client-go's watch delivers an `ERROR` event or closes with a reason:
///
/// ```swift
/// do {
///     for try await event in stream { handle(event) }
/// } catch let interruption as WatchInterruption {
///     if let version = interruption.resumeFrom { /* watch again from `version` */ } else { /* list again */ }
/// }
/// ```
///
/// An `ERROR` event (with its ``Status``) is still delivered first where the watch ended with one.
public struct WatchStream: AsyncSequence, Sendable {
    public typealias Element = WatchEvent
    public typealias Failure = WatchInterruption

    /// The watcher behind the stream.
    public let watcher: Watcher
    private let signal: ReadySignal
    /// Whether the consumer asked for a timeout (its passing is then a normal end).
    private let askedForTimeout: Bool

    init(watcher: Watcher, signal: ReadySignal, askedForTimeout: Bool) {
        self.watcher = watcher
        self.signal = signal
        self.askedForTimeout = askedForTimeout
    }

    /// Why the watch ended, once it has.
    public var endReason: WatchEndReason? { signal.endReason }

    public func makeAsyncIterator() -> Iterator { Iterator(watcher: watcher, signal: signal, askedForTimeout: askedForTimeout) }

    public final class Iterator: AsyncIteratorProtocol {
        private let watcher: Watcher
        private let signal: ReadySignal
        private let askedForTimeout: Bool
        private var buffered: [WatchEvent] = []
        private var index = 0
        private var done = false
        /// The newest version handed to the consumer (an event's or a bookmark's).
        private var delivered: ResourceVersion?

        init(watcher: Watcher, signal: ReadySignal, askedForTimeout: Bool) {
            self.watcher = watcher
            self.signal = signal
            self.askedForTimeout = askedForTimeout
        }

        deinit {
            if !done { watcher.cancel() }
        }

        public func next() async throws(WatchInterruption) -> WatchEvent? {
            while true {
                if index < buffered.count {
                    defer { index += 1 }
                    let event = buffered[index]
                    if event.type != .error, event.resourceVersion > (delivered ?? .zero) { delivered = event.resourceVersion }
                    return event
                }
                if done {
                    guard let reason = signal.endReason, let interruption = interruption(reason) else { return nil }
                    throw interruption
                }
                let batch = watcher.next(maxEvents: 64)
                buffered = batch.events
                index = 0
                if let end = batch.end {
                    done = true
                    signal.finish(end)
                    continue
                }
                if batch.isPending {
                    let cancelled = await signal.wait()
                    if cancelled {
                        watcher.cancel()
                        done = true
                        signal.finish(.cancelled)
                        return nil
                    }
                }
            }
        }

        /// What the consumer must be told of `reason`: nothing for the ends it caused.
        private func interruption(_ reason: WatchEndReason) -> WatchInterruption? {
            switch reason {
            case .cancelled: return nil
            case .timeout where askedForTimeout: return nil
            case .historyLost: return WatchInterruption(reason: reason, resumeFrom: nil)
            case .error(let status) where status.code == 410: return WatchInterruption(reason: reason, resumeFrom: nil)
            default: return WatchInterruption(reason: reason, resumeFrom: delivered)
            }
        }
    }
}

/// Why a ``WatchStream`` ended without its consumer ending it, and where it can go on.
public struct WatchInterruption: Error, Sendable, Hashable, CustomStringConvertible {
    /// Why the watch ended: the server's timeout, a slow consumer's termination, the cache closing
    /// or listing its storage again, an error, or the history it still had to replay lost (410).
    public let reason: WatchEndReason
    /// The version to watch again from (`resourceVersion=` it, `allowWatchBookmarks` as before):
    /// the newest event or bookmark the stream delivered. `nil` when there is none to resume from:
    /// the history after it is gone (``reason`` is ``WatchEndReason/historyLost`` or a 410
    /// error — list again, then watch from the list's version, as client-go's reflector does), or
    /// the stream delivered nothing (start the watch again as it was first started).
    public let resumeFrom: ResourceVersion?

    public init(reason: WatchEndReason, resumeFrom: ResourceVersion?) {
        self.reason = reason
        self.resumeFrom = resumeFrom
    }

    /// Whether the consumer must list again (its version's history is gone): a 410.
    public var mustRelist: Bool {
        switch reason {
        case .historyLost: true
        case .error(let status): status.code == 410
        default: false
        }
    }

    public var description: String {
        "watch ended (\(reason))" + (resumeFrom.map { ", resume from \($0)" } ?? (mustRelist ? ", list again" : ""))
    }
}

/// The wake-up between a watcher's `onReady` and the task iterating its stream. A signal that
/// arrives before the task waits is remembered, so no wake-up is lost.
final class ReadySignal: Sendable {
    private struct State {
        var signalled = false
        var cancelled = false
        var continuation: CheckedContinuation<Bool, Never>?
        var endReason: WatchEndReason?
    }
    private let state = Mutex(State())

    func signal() {
        let continuation: CheckedContinuation<Bool, Never>? = state.withLock { s in
            if let c = s.continuation {
                s.continuation = nil
                return c
            }
            s.signalled = true
            return nil
        }
        continuation?.resume(returning: false)
    }

    /// Waits for a signal; returns `true` if the waiting task was cancelled instead.
    func wait() async -> Bool {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
                let resumeWith: Bool? = state.withLock { s in
                    if s.cancelled { return true }
                    if s.signalled {
                        s.signalled = false
                        return false
                    }
                    s.continuation = c
                    return nil
                }
                if let resumeWith { c.resume(returning: resumeWith) }
            }
        } onCancel: {
            let c: CheckedContinuation<Bool, Never>? = state.withLock { s in
                s.cancelled = true
                defer { s.continuation = nil }
                return s.continuation
            }
            c?.resume(returning: true)
        }
    }

    func finish(_ reason: WatchEndReason) { state.withLock { $0.endReason = reason } }

    var endReason: WatchEndReason? { state.withLock { $0.endReason } }
}

extension ResourceCache {
    /// Starts a watch (see ``watch(_:onReady:)``) and returns it as an `AsyncSequence`.
    public func stream(_ options: WatchOptions) throws(Status) -> WatchStream {
        let signal = ReadySignal()
        let watcher = try watch(options) { signal.signal() }
        return WatchStream(watcher: watcher, signal: signal, askedForTimeout: options.timeoutSeconds != nil)
    }
}
