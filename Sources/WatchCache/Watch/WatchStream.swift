import Synchronization

/// A watch as an `AsyncSequence` of ``WatchEvent``s, for programs that embed the cache.
///
/// The sequence ends when the watch ends (timeout, termination, error — an ERROR event comes first
/// — or the cache closing); ``endReason`` then says why. Ending the iteration early (`break`, task
/// cancellation) cancels the watch.
public struct WatchStream: AsyncSequence, Sendable {
    public typealias Element = WatchEvent

    /// The watcher behind the stream.
    public let watcher: Watcher
    private let signal: ReadySignal

    init(watcher: Watcher, signal: ReadySignal) {
        self.watcher = watcher
        self.signal = signal
    }

    /// Why the watch ended, once it has.
    public var endReason: WatchEndReason? { signal.endReason }

    public func makeAsyncIterator() -> Iterator { Iterator(watcher: watcher, signal: signal) }

    public final class Iterator: AsyncIteratorProtocol {
        private let watcher: Watcher
        private let signal: ReadySignal
        private var buffered: [WatchEvent] = []
        private var index = 0
        private var done = false

        init(watcher: Watcher, signal: ReadySignal) {
            self.watcher = watcher
            self.signal = signal
        }

        deinit {
            if !done { watcher.cancel() }
        }

        public func next() async -> WatchEvent? {
            while true {
                if index < buffered.count {
                    defer { index += 1 }
                    return buffered[index]
                }
                if done { return nil }
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
        return WatchStream(watcher: watcher, signal: signal)
    }
}
