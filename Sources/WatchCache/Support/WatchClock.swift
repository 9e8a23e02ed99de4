import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The time source of a cache. Everything time-based in the core (history freshness, bookmarks,
/// watch deadlines, the slow-watcher budget) reads this clock, so tests can control time.
public protocol WatchClock: Sendable {
    /// The current instant.
    func now() -> Timestamp
}

/// The system's monotonic clock.
public struct SystemClock: WatchClock {
    public init() {}

    public func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Timestamp(nanoseconds: UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec))
    }
}

/// A clock that moves only when told to: for tests and deterministic simulations.
public final class ManualClock: WatchClock {
    private let current: Mutex<Timestamp>

    /// A clock starting at `start`.
    public init(start: Timestamp = Timestamp(nanoseconds: 0)) {
        current = Mutex(start)
    }

    public func now() -> Timestamp { current.withLock { $0 } }

    /// Moves the clock forward by `duration`.
    public func advance(by duration: Duration) {
        current.withLock { $0 = $0 + duration }
    }

    /// Sets the clock to `instant` (never backwards).
    public func advance(to instant: Timestamp) {
        current.withLock { $0 = max($0, instant) }
    }
}
