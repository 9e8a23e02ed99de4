#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Calendar time, for the timestamps Kubernetes puts in objects (not for scheduling).
enum WallClock {
    /// Now in RFC 3339 UTC with second precision (`2026-11-24T17:28:00Z`), as `creationTimestamp`.
    static func rfc3339Now() -> String {
        var t = time(nil)
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ v: Int32) -> String { String(v).leftPadded(to: 2) }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }
}
