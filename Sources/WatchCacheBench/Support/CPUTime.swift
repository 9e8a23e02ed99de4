#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// CPU time, for charging work to the server side of an in-process run.
public enum CPUTime {
    /// CPU seconds the calling thread has used.
    public static func thread() -> Double { read(CLOCK_THREAD_CPUTIME_ID) }

    /// CPU seconds the whole process has used.
    public static func process() -> Double { read(CLOCK_PROCESS_CPUTIME_ID) }

    private static func read(_ clock: clockid_t) -> Double {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Monotonic wall-clock seconds.
    public static func wall() -> Double { read(CLOCK_MONOTONIC) }
}

/// Adds up the thread CPU time spent inside measured calls.
struct CPUStopwatch {
    private(set) var seconds: Double = 0

    mutating func measure<T>(_ body: () throws -> T) rethrows -> T {
        let start = CPUTime.thread()
        defer { seconds += CPUTime.thread() - start }
        return try body()
    }

    mutating func reset() { seconds = 0 }
}
