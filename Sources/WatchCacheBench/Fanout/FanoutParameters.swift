/// One fan-out run: how many watch streams of which kinds over how many HTTP/2 connections, and
/// what writes for how long.
public struct FanoutParameters: Sendable, Hashable {
    /// Watchers of one node's pods (`fieldSelector=spec.nodeName=node-k`): the index serves them.
    public var nodeWatchers: Int
    /// Nodes the node watchers and the pods spread over.
    public var nodes: Int
    /// Watchers of the whole `bench` namespace (every write reaches them).
    public var namespaceWatchers = 0
    /// Watchers with a label selector (`group=g`, one of ``labelGroups``).
    public var labelWatchers = 0
    public var labelGroups = 10
    /// Watchers of every pod in every namespace.
    public var unselectiveWatchers = 0
    /// HTTP/2 connections the streams are spread over.
    public var connections: Int
    /// Pods written (spread over the nodes).
    public var objects: Int
    /// Writes per second (a Poisson process); `nil`: as fast as the server takes them, with
    /// ``writesInFlight`` outstanding.
    public var writesPerSecond: Double?
    public var writesInFlight = 128
    /// Seconds of writing (after every stream is established).
    public var seconds: Double
    /// Approximate JSON size of a pod, padded with an annotation.
    public var objectBytes = 1024
    /// Measure latency on every stream (`false`: on 1 in 100, to spare the client at high rates).
    public var latencyOnEveryStream = true
    /// The share of streams that never read: they sit on connections that offer the server a
    /// zero flow-control window, so it can send their headers and nothing else.
    public var neverReadingShare = 0.0
    /// The share of the other connections whose socket the client stops reading once their
    /// streams are open (stalled entirely: the server's writes to them back up).
    public var stalledConnectionShare = 0.0
    /// Whether the watches ask for bookmarks.
    public var bookmarks = true
    /// After the writes, every stream reconnects at once from the newest version it saw.
    public var storm = false
    /// Follow every stream's newest version, so its streams can be moved to another replica
    /// (``FanoutRun/failover(kill:)``).
    public var tracksVersions = false
    /// HTTP/1.1 instead of HTTP/2: every stream its own TCP connection (``connections`` then only
    /// groups them for the client's bookkeeping; a never-reading stream stops reading its socket).
    public var http1 = false

    public init(nodeWatchers: Int, nodes: Int, connections: Int, objects: Int, seconds: Double) {
        self.nodeWatchers = nodeWatchers
        self.nodes = nodes
        self.connections = connections
        self.objects = objects
        self.seconds = seconds
    }

    public var watchers: Int { nodeWatchers + namespaceWatchers + labelWatchers + unselectiveWatchers }

    /// Sets the kinds of watcher from shares of `total` streams, parsed from
    /// `node=0.9,namespace=0.05,label=0.04,all=0.01` (shares are normalised; kinds left out get none).
    public mutating func mix(_ text: String, total: Int) throws {
        var shares: [String: Double] = [:]
        for part in text.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, ["node", "namespace", "label", "all"].contains(pair[0]), let share = Double(pair[1]), share >= 0,
                  shares[pair[0]] == nil else {
                throw BenchError("--mix takes node=S,namespace=S,label=S,all=S with shares of the streams, e.g. node=0.9,all=0.1; got \"\(text)\"")
            }
            shares[pair[0]] = share
        }
        let sum = shares.values.reduce(0, +)
        guard sum > 0 else { throw BenchError("--mix: the shares add up to 0") }
        func count(_ kind: String) -> Int { Int((Double(total) * (shares[kind] ?? 0) / sum).rounded()) }
        nodeWatchers = count("node")
        namespaceWatchers = count("namespace")
        labelWatchers = count("label")
        unselectiveWatchers = total - nodeWatchers - namespaceWatchers - labelWatchers
        if shares["all"] == nil { nodeWatchers += unselectiveWatchers; unselectiveWatchers = 0 }
    }

    /// Scales every kind of watcher (and the connections, keeping streams per connection) to
    /// about `total` streams.
    public mutating func scale(to total: Int) {
        let factor = Double(total) / Double(max(1, watchers))
        func scaled(_ n: Int) -> Int { n == 0 ? 0 : max(1, Int((Double(n) * factor).rounded())) }
        nodeWatchers = scaled(nodeWatchers)
        namespaceWatchers = scaled(namespaceWatchers)
        labelWatchers = scaled(labelWatchers)
        unselectiveWatchers = scaled(unselectiveWatchers)
        connections = scaled(connections)
    }

    /// The node of pod `index`.
    func node(ofPod index: Int) -> Int { index % max(1, nodes) }
}

/// What one watch stream selects.
enum WatchTarget: Hashable, Sendable {
    case node(Int)
    case namespace
    case label(group: Int)
    case all
}

/// How many of the counted (reading) streams each write reaches: node watchers of its pod's
/// node, label watchers of its group, and every namespace-wide and unselective one.
struct ReceiverTally: Sendable {
    private var perNode: [Int: Int] = [:]
    private var perGroup: [Int: Int] = [:]
    private var everything = 0

    mutating func add(_ target: WatchTarget) {
        switch target {
        case .node(let n): perNode[n, default: 0] += 1
        case .label(let g): perGroup[g, default: 0] += 1
        case .namespace, .all: everything += 1
        }
    }

    func receivers(ofPod index: Int, in p: FanoutParameters) -> Int {
        let node = p.node(ofPod: index)
        return (perNode[node] ?? 0) + (perGroup[node % p.labelGroups] ?? 0) + everything
    }
}

/// The measurements, as named presets.
public enum FanoutScenario: String, CaseIterable, Sendable {
    /// 100,000 idle node-indexed watch streams over 1,000 connections: time to establish, RSS per stream.
    case idle
    /// 10,000 watchers (9,990 node-indexed over 5,000 nodes + 10 unselective), 1,000 writes/s for 60 s.
    case latency
    /// 1,000 unselective watchers over 10 connections, writes as fast as the server takes them.
    case throughput
    /// The latency run with 10% of the streams never reading and 1% of the connections stalled.
    case slow
    /// The latency run, then every watcher reconnects at once; with bookmarks, then without.
    case storm
    /// The latency run on durable storage, then a graceful restart of the server: every watcher
    /// resumes from the newest version it saw; with bookmarks, then without.
    case restart

    public var parameters: FanoutParameters {
        switch self {
        case .idle:
            var p = FanoutParameters(nodeWatchers: 100_000, nodes: 100_000, connections: 1_000, objects: 0, seconds: 0)
            p.writesPerSecond = 0
            return p
        case .latency:
            var p = FanoutParameters(nodeWatchers: 9_990, nodes: 5_000, connections: 100, objects: 10_000, seconds: 60)
            p.unselectiveWatchers = 10
            p.writesPerSecond = 1_000
            return p
        case .storm:
            var p = FanoutScenario.latency.parameters
            p.storm = true
            return p
        case .restart:
            var p = FanoutScenario.latency.parameters
            p.tracksVersions = true
            return p
        case .slow:
            var p = FanoutScenario.latency.parameters
            p.neverReadingShare = 0.1
            p.stalledConnectionShare = 0.01
            return p
        case .throughput:
            var p = FanoutParameters(nodeWatchers: 0, nodes: 100, connections: 10, objects: 1_000, seconds: 30)
            p.unselectiveWatchers = 1_000
            p.writesPerSecond = nil
            p.latencyOnEveryStream = false
            return p
        }
    }
}
