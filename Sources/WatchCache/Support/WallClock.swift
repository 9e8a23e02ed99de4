#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Calendar time, for the timestamps Kubernetes puts in objects and the times stored with
/// history events (not for scheduling).
public enum WallClock {
    /// Now, in seconds since 1970.
    public static func secondsSince1970() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    /// Now in RFC 3339 UTC with second precision (`2026-11-24T17:28:00Z`), as `creationTimestamp`.
    static func rfc3339Now() -> String {
        var t = time(nil)
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ v: Int32) -> String { String(v).leftPadded(to: 2) }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }
}
