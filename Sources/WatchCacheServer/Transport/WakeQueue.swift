import NIOCore
import Synchronization

/// Collects watch streams that became ready, from any thread, and asks the connection's event
/// loop to handle them in one hop however many there are (fan-out costs one hop per connection
/// per dispatch, not one per stream).
final class WakeQueue: Sendable {
    private struct State {
        var ready: [Int32] = []
        var scheduled = false
        /// `nil` once closed.
        var drain: (@Sendable ([Int32]) -> Void)?
    }
    private let state: Mutex<State>
    private let eventLoop: any EventLoop

    init(eventLoop: any EventLoop, drain: @escaping @Sendable ([Int32]) -> Void) {
        self.eventLoop = eventLoop
        state = Mutex(State(drain: drain))
    }

    /// Drops the drain (and what it holds: the connection's handler); later wake-ups do nothing.
    func close() {
        state.withLock { s in
            s.drain = nil
            s.ready = []
        }
    }

    func wake(_ stream: Int32) {
        let schedule: Bool = state.withLock { s in
            guard s.drain != nil else { return false }
            s.ready.append(stream)
            defer { s.scheduled = true }
            return !s.scheduled
        }
        guard schedule else { return }
        eventLoop.execute { [self] in
            let (ready, drain) = state.withLock { s in
                s.scheduled = false
                defer { s.ready.removeAll(keepingCapacity: true) }
                return (s.ready, s.drain)
            }
            drain?(ready)
        }
    }
}
