/// Watchers bucketed by the whole second of a due time: one shared wheel per cache instead of a
/// timer per watcher. Entries are not removed when a watcher ends; popping skips them.
struct TimerWheel {
    private var buckets: [UInt64: [Watcher]] = [:]
    private var earliest: UInt64 = .max

    var isEmpty: Bool { buckets.isEmpty }

    mutating func schedule(_ watcher: Watcher, at time: Timestamp) {
        let second = time.wholeSeconds
        buckets[second, default: []].append(watcher)
        earliest = min(earliest, second)
    }

    /// Removes and returns every watcher whose bucket second is at or before `now`'s.
    mutating func popDue(now: Timestamp) -> [Watcher] {
        let current = now.wholeSeconds
        guard earliest <= current else { return [] }
        var due: [Watcher] = []
        for second in buckets.keys where second <= current {
            due.append(contentsOf: buckets.removeValue(forKey: second)!)
        }
        earliest = buckets.keys.min() ?? .max
        return due
    }
}
