/// Watchers bucketed by the slot (a whole second, as Kubernetes buckets them) of a due time: one
/// shared wheel per cache instead of a timer per watcher. Entries are not removed when a watcher
/// ends; popping skips them.
///
/// Popping is exact: an entry comes out at the first pop at or after its due time, not at the start
/// of its slot (Kubernetes pops whole seconds, so its pre-timeout bookmark can leave up to a second
/// before "deadline − 2 s" and carry an older version than it could).
struct TimerWheel {
    private var buckets: [UInt64: [(watcher: Watcher, due: Timestamp)]] = [:]
    private var earliest: UInt64 = .max
    /// The slot width in nanoseconds.
    private let resolution: UInt64

    init(resolution: Duration = .seconds(1)) {
        self.resolution = UInt64(max(1, resolution.nanosecondsClamped))
    }

    var isEmpty: Bool { buckets.isEmpty }

    mutating func schedule(_ watcher: Watcher, at time: Timestamp) {
        let slot = time.nanoseconds / resolution
        buckets[slot, default: []].append((watcher, time))
        earliest = min(earliest, slot)
    }

    /// Removes and returns every watcher in the wheel.
    mutating func removeAll() -> [Watcher] {
        defer {
            buckets.removeAll()
            earliest = .max
        }
        return buckets.values.flatMap { $0.map(\.watcher) }
    }

    /// Removes and returns every watcher due at or before `now`.
    mutating func popDue(now: Timestamp) -> [Watcher] {
        let current = now.nanoseconds / resolution
        guard earliest <= current else { return [] }
        var due: [Watcher] = []
        for slot in buckets.keys where slot < current {
            due.append(contentsOf: buckets.removeValue(forKey: slot)!.lazy.map(\.watcher))
        }
        if var entries = buckets[current] {
            // The current slot: only what is due yet; the rest waits for a later pop.
            due.append(contentsOf: entries.lazy.filter { $0.due <= now }.map(\.watcher))
            entries.removeAll { $0.due <= now }
            buckets[current] = entries.isEmpty ? nil : entries
        }
        earliest = buckets.keys.min() ?? .max
        return due
    }
}
