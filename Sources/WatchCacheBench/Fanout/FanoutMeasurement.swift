import WatchCache

/// What one fan-out run measured.
public struct FanoutMeasurement: Sendable {
    public var parameters: FanoutParameters
    public var watchers: Int
    public var streamsEstablished: Int
    /// Streams refused (a non-200 answer) or reset before answering.
    public var streamsFailed: Int
    /// From the first watch request to the last stream's 200.
    public var establishSeconds: Double
    /// Streams the server ended during the run (slow-watcher termination, say).
    public var streamsEnded: Int
    public var writes: Int
    public var writeErrors: Int
    /// Open-loop writes not sent because too many were in flight (the server was behind).
    public var writesSkipped: Int
    public var writeSeconds: Double
    /// Events the acknowledged writes should have produced on the open streams.
    public var expectedDeliveries: Int
    /// Change events received during the write phase (bookmarks not included).
    public var deliveredEvents: Int
    public var bookmarks: Int
    public var errorEvents: Int
    public var bytesReceived: Double
    /// Send → parsed latency of the delivered events (on the streams that measure it).
    public var latency: LatencyHistogram
    public var serverRSSEmpty: Double
    public var serverRSSBeforeStreams: Double
    public var serverRSSStreamsOpen: Double
    public var serverRSSPeak: Double
    public var serverCPUSecondsWriting: Double
    public var serverCPUSecondsOpening: Double
    /// `apiserver_terminated_watchers_total` over the run.
    public var terminatedWatchers: Double
    /// `watchcache_parked_watchers_total` over the run: times a watcher fell behind and read the log.
    public var parkedWatchers: Double = 0
    /// The reconnect storm: streams reopened at once, seconds until the server had caught all of
    /// them up, its CPU seconds meanwhile, and the init events it scanned.
    public var stormStreams: Int
    public var stormSeconds: Double
    public var stormCPUSeconds: Double
    public var stormInitEvents: Double
    public var wallSeconds: Double
    /// Replicas the streams and writes were spread over (1: a single server).
    public var replicas = 1
    /// etcd's own figures when the servers were replicas over it: at the start of the run, and with
    /// every stream open after the writes.
    public var etcdBefore: EtcdMetrics?
    public var etcdAfter: EtcdMetrics?
    /// etcd's CPU seconds from the writes' start to their last delivery.
    public var etcdCPUSecondsWriting: Double?
    /// The first replica killed under its streams, which resume on the second.
    public var failover: FanoutRun.Failover?
    /// The server restarted gracefully under its streams, which resume on the new process.
    public var restart: FanoutRun.Restart?
    /// GETs of single pods sent every 10 ms on a connection of their own while the writes went on:
    /// what a request costs while the server fans out (seconds, send → complete answer).
    public var getLatencies: [Double] = []
    /// Figures measured otherwise than usual, or missing, against a remote server: one line each.
    public var notes: [String] = []

    /// Server memory per open stream, over the server with its objects loaded.
    public var bytesPerStream: Double {
        streamsEstablished == 0 ? 0 : (serverRSSStreamsOpen - serverRSSBeforeStreams) / Double(streamsEstablished)
    }

    public var deliveredPerSecond: Double { writeSeconds > 0 ? Double(deliveredEvents) / writeSeconds : 0 }
    public var writesPerSecond: Double { writeSeconds > 0 ? Double(writes) / writeSeconds : 0 }
}
