import WatchCache

/// One point of the restart-recovery workload (KEP-956's case): `watchers` node-scoped watchers
/// (pods with `fieldSelector=spec.nodeName=node-i`), `objectsPerWatcher` pods per node, a global
/// write rate spread uniformly over the pods, and client-go's reconnect behaviour.
///
/// Durations and the write rate are given in real (uncompressed) units; a run divides every
/// duration by ``compression`` and multiplies the write rate by it, so the shape — and the ratio
/// of init events — stays the same while the run takes less time.
public struct RecoveryParameters: Sendable, Hashable {
    /// N: watchers (one per node).
    public var watchers: Int
    /// Pods per node (Kubernetes' scalability threshold: 150,000 pods on 5,000 nodes, 30 each).
    public var objectsPerWatcher = 30
    /// R: writes per second across all pods.
    public var writesPerSecond: Double
    /// `false` for the control scenario: every watcher watches every pod (no selector).
    public var selective = true
    /// client-go's minimum watch timeout T: each watch asks for `timeoutSeconds` uniform in [T, 2T).
    public var watchTimeout: Double = 300
    /// The server's periodic bookmark interval.
    public var bookmarkInterval: Double = 60
    /// How long before a watch's deadline the server sends its last bookmark.
    public var bookmarkLead: Double = 2
    /// client-go's first backoff before relisting after a 410.
    public var relistBackoff: Double = 0.8
    /// Seconds run before anything is counted (every watcher has reconnected at least once by 2T).
    public var warmup: Double = 600
    /// Seconds counted (at least two timeout periods).
    public var measured: Double = 1200
    /// Time compression factor (1 = real time).
    public var compression: Double = 1
    /// The history window in events, fixed; `nil` sizes it as Kubernetes does today (75 s of
    /// events, 100 to 102,400).
    public var windowEvents: Int?
    /// Seconds into the counted phase at which the server restarts gracefully on its durable
    /// storage (objects, version and history kept), or `nil` for none.
    public var restartAt: Double?
    /// Seed of the run's random choices (timeouts, which pod each write changes).
    public var seed: UInt64 = 1
    /// How the server replays a resumed watch: kube-apiserver's scan (what KEP-956 measured) or
    /// the indexed replay.
    public var replay: WatchReplay = .scan

    public init(watchers: Int, writesPerSecond: Double) {
        self.watchers = watchers
        self.writesPerSecond = writesPerSecond
    }

    /// The window KEP-956's scale tests had: kube-apiserver's 2019 heuristic sized the pod watch
    /// cache at 50 events per node (`cachesize.go`), here 50 per watcher, at least 1,000.
    public static func window2019(watchers: Int) -> Int { max(50 * watchers, 1000) }

    /// Seconds of history the window holds at this write rate. For the dynamic window, the least
    /// it keeps: Kubernetes' rule grows it while it spans under 75 s and halves it once its newest
    /// quarter spans over 75 s, so it holds 75 to 300 s.
    public var windowSeconds: Double {
        guard let windowEvents else { return 75 }
        return Double(windowEvents) / writesPerSecond
    }

    /// Objects stored.
    public var objects: Int { watchers * objectsPerWatcher }
}

extension RecoveryParameters: CustomStringConvertible {
    public var description: String {
        "N=\(watchers) R=\(Self.format(writesPerSecond))/s\(selective ? "" : " unselective"), \(replay.rawValue) replay"
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}
