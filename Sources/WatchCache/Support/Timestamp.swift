/// A monotonic instant in nanoseconds, from an injected ``WatchClock``.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanoseconds: UInt64

    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    /// An instant `seconds` after the clock's origin.
    public static func seconds(_ seconds: Double) -> Timestamp { Timestamp(nanoseconds: UInt64(seconds * 1e9)) }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.nanoseconds < b.nanoseconds }

    public static func + (t: Timestamp, d: Duration) -> Timestamp {
        let delta = d.nanosecondsClamped
        return delta >= 0 ? Timestamp(nanoseconds: t.nanoseconds &+ UInt64(delta))
                          : Timestamp(nanoseconds: t.nanoseconds - min(t.nanoseconds, UInt64(-delta)))
    }

    public static func - (t: Timestamp, d: Duration) -> Timestamp { t + (.zero - d) }

    /// The duration from `b` to `a` (negative if `a` is earlier).
    public static func - (a: Timestamp, b: Timestamp) -> Duration {
        a >= b ? .nanoseconds(Int64(clamping: a.nanoseconds - b.nanoseconds)) : .zero - .nanoseconds(Int64(clamping: b.nanoseconds - a.nanoseconds))
    }

    /// Seconds since the origin, as text (`12.5s`).
    public var description: String { "\(Double(nanoseconds) / 1e9)s" }
}

extension Duration {
    var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = components
        let (ns, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return ns &+ attoseconds / 1_000_000_000
    }

    /// The duration in seconds as a `Double`.
    public var seconds: Double { Double(nanosecondsClamped) / 1e9 }
}
