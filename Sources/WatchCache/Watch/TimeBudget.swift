/// The shared time a resource's dispatcher tolerates watchers whose queues are full, as Kubernetes'
/// `timeBudget`: it refills by 50 ms every second up to 100 ms.
///
/// Dispatch never waits here: a watcher that overflows its queue gets until the end of the current
/// tolerance window to drain it, and is terminated if it has not.
struct TimeBudget {
    let maximum: Duration
    let refillPerSecond: Duration
    private(set) var available: Duration
    private var lastRefill: Timestamp

    init(maximum: Duration = .milliseconds(100), refillPerSecond: Duration = .milliseconds(50), now: Timestamp) {
        self.maximum = maximum
        self.refillPerSecond = refillPerSecond
        self.available = maximum
        self.lastRefill = now
    }

    mutating func refill(now: Timestamp) {
        guard now > lastRefill else { return }
        let gained = refillPerSecond * (now - lastRefill).seconds
        available = min(maximum, available + gained)
        lastRefill = now
    }

    /// Takes everything available.
    mutating func takeAvailable(now: Timestamp) -> Duration {
        refill(now: now)
        defer { available = .zero }
        return available
    }

    /// Gives back what a window did not use.
    mutating func returnUnused(_ unused: Duration) {
        guard unused > .zero else { return }
        available = min(maximum, available + unused)
    }
}
