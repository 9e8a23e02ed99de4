/// What one run (one workload point, bookmarks off or on) measured in its counted phase.
public struct RecoveryMeasurement: Sendable, Hashable {
    public var parameters: RecoveryParameters
    public var bookmarks: Bool
    /// "in-process" or "network".
    public var mode: String
    /// Watches re-opened in the counted phase (after a timeout, a restart or a relist).
    public var reconnects: Int
    /// Init events the server scanned per reconnect (`apiserver_init_events_total` deltas).
    public var initEventsPerReconnect: Distribution
    /// The server counter's delta over the counted phase (includes what relists' watches scanned).
    public var initEventsTotal: Double
    /// Server CPU seconds in the counted phase.
    public var serverCPUSeconds: Double
    /// Bytes of watch events sent to watchers (events, bookmarks, errors).
    public var watchBytes: Double
    /// 410 Expired answers to watches.
    public var expired: Int
    /// LISTs made to recover from 410s, and their bytes.
    public var relists: Int
    public var relistBytes: Double
    /// Bookmarks received.
    public var bookmarksReceived: Int
    /// Writes made in the counted phase.
    public var writes: Int
    /// Seconds (wall clock) until every watcher had caught up after every watcher reconnected at
    /// once (a reconnect storm, or the restart when there is one), and the init events it cost.
    public var stormCatchUpSeconds: Double
    public var stormInitEvents: Double
    /// Requests that failed (non-2xx writes or lists, over the network); 0 in-process.
    public var failedRequests = 0
    /// Where figures came from when not from the server's own counters (a server that does not
    /// report them, or does not let the run read them), one line each.
    public var notes: [String] = []
    /// Wall-clock seconds the run took.
    public var wallSeconds: Double

    /// Counted phase length in real (uncompressed) seconds.
    public var measuredSeconds: Double { parameters.measured }
}
