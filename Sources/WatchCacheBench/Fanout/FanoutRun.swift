import Foundation
import NIOCore
import NIOPosix
import WatchCache

/// Drives one ``FanoutParameters`` against a real server over loopback — or several replicas of
/// one (over etcd): the connections are spread over them in turn, and so are the writes — opens
/// the watch streams (HTTP/2, multiplexed over the connections, on `clientThreads` SwiftNIO event
/// loops with libnghttp2 client sessions), writes pods carrying their send time, and measures what
/// arrives.
///
/// Latency is from the moment the client sends a write to the moment it has parsed the event on a
/// watch stream: the write's own round trip through the server (parse, commit, fan-out) is inside
/// it, so it bounds "acknowledged → parsed" from above.
///
/// Against a server it did not start (``remote``: any Kubernetes API server) the run works in a
/// namespace of its own, deleted at the end; its pods are never scheduled and are placed on their
/// nodes by a label (``PodWorkload/Placement/label``); every stream watches that namespace only;
/// and figures the server's `/metrics` does not give (or does not let the run read) are left out,
/// with a note saying so.
public final class FanoutRun: @unchecked Sendable {  // state confined as noted on each part
    public let parameters: FanoutParameters
    /// The servers: one, or one per replica.
    public let endpoints: [APIServerEndpoint]
    /// The servers' ports, in the same order.
    public var ports: [Int] { endpoints.map(\.port) }
    /// A server the run did not start: its own namespace, label placement, cleanup.
    public let remote: Bool
    /// The namespace of the run's pods (a fresh one against a remote server).
    public let namespace: String
    /// Called with (fraction done, phase) from the driving task.
    public var progress: ((Double, String) -> Void)?
    /// etcd's `/metrics`, when the servers are replicas over it: its CPU is read around the writes.
    public var etcdMetricsURL: String?

    private let group: MultiThreadedEventLoopGroup
    private let writerLoop: any EventLoop
    // Confined to each connection's own loop.
    private var connections: [FanoutConnection] = []
    /// The port each connection was opened to.
    private var connectionPorts: [Int] = []
    // Confined to `writerLoop`.
    private var writers: [HTTP2ClientConnection] = []
    private var control: HTTP2ClientConnection!
    /// One per server, for its /metrics.
    private var controls: [HTTP2ClientConnection] = []
    private var channels: [any Channel] = []
    private var rng = SplitMix64(seed: 7)
    private var revisions: [Int] = []
    private var writing = false
    private var writesSent = 0
    private var writesAcknowledged = 0
    private var writesFailed = 0
    private var writesSkipped = 0
    private var writesInFlight = 0
    private var expectedDeliveries = 0
    /// Who receives what, among the counted streams.
    private var tally = ReceiverTally()
    /// Closed-loop writes: the newest write sequence seen on the probe stream.
    private let probe = DeliveryProbe()
    /// The next Poisson write, as an absolute time (so the rate does not drift with timer lag).
    private var nextWriteAt = 0.0

    public convenience init(parameters: FanoutParameters, port: Int, clientThreads: Int = 1) {
        self.init(parameters: parameters, ports: [port], clientThreads: clientThreads)
    }

    /// Servers the benchmark started on loopback (cleartext).
    public convenience init(parameters: FanoutParameters, ports: [Int], clientThreads: Int = 1) {
        self.init(parameters: parameters, endpoints: ports.map { .loopback(port: $0) }, remote: false, clientThreads: clientThreads)
    }

    public init(parameters: FanoutParameters, endpoints: [APIServerEndpoint], remote: Bool, clientThreads: Int = 1) {
        precondition(!endpoints.isEmpty, "at least one server")
        precondition(!remote || !parameters.http1, "a remote server is measured over HTTP/2")
        self.parameters = parameters
        self.endpoints = endpoints
        self.remote = remote
        namespace = remote ? "watchcache-bench-" + String(UInt32.random(in: .min ... .max), radix: 16) : PodWorkload.namespace
        group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, clientThreads))
        writerLoop = group.next()
    }

    // MARK: - The run

    /// Runs the scenario. Against a ``remote`` server the namespace it created is deleted at the
    /// end, whether the run succeeded or not.
    public func run() async throws -> FanoutMeasurement {
        do {
            var measurement = try await measure()
            measurement.notes = notes
            try await deleteNamespace()
            return measurement
        } catch {
            do { try await deleteNamespace() } catch let cleanup {
                throw RemoteNamespace.leftBehind(namespace, after: error, because: cleanup)
            }
            throw error
        }
    }

    /// Where figures came from, or why they are missing (a remote server).
    private var notes: [String] = []
    /// Why `/metrics` could not be read (a remote server that does not allow it).
    private var metricsProblem: String?
    /// Whether the namespace this run created (remote) still exists.
    private var namespaceCreated = false

    private func measure() async throws -> FanoutMeasurement {
        let p = parameters
        let wallStart = CPUTime.wall()
        for endpoint in endpoints { controls.append(try await connect(on: writerLoop, to: endpoint)) }
        control = controls[0]
        for i in 0..<max(4, endpoints.count) { writers.append(try await connect(on: writerLoop, to: endpoints[i % endpoints.count])) }
        let empty = try await scrape()
        progress?(0, "creating \(p.objects) pods")
        try await populate()
        let version = try await currentVersion()

        // Open every stream at once and wait for every 200.
        progress?(0, "opening \(p.watchers) watch streams")
        let loadedBeforeStreams = try await scrape()
        // Reading connections, then those offering a zero window (never-reading streams).
        let plan = watchPlan()
        let neverReading = plan.filter { !$0.reads }.count
        let closedConnections = neverReading == 0 ? 0 : max(1, Int((Double(p.connections) * p.neverReadingShare).rounded()))
        let readingConnections = max(1, p.connections - closedConnections)
        let stalledConnections = p.stalledConnectionShare > 0 ? max(1, Int((Double(readingConnections) * p.stalledConnectionShare).rounded())) : 0
        var opened: [FanoutConnection] = []
        for c in 0..<(readingConnections + closedConnections) {
            let loop = group.next()
            let closed = c >= readingConnections
            let endpoint = endpoints[c % endpoints.count]
            let transport: any WatchTransport = p.http1
                ? HTTP1WatchClient(loop: loop, host: endpoint.host, port: endpoint.port)
                : try await connect(on: loop, to: endpoint, initialWindow: closed ? 0 : 4 << 20)
            opened.append(FanoutConnection(http: transport, loop: loop, counted: !closed && c >= stalledConnections))
            connectionPorts.append(endpoint.port)
        }
        connections = opened
        let openStart = CPUTime.wall()
        var reading = 0, closedIndex = 0
        var tally = ReceiverTally()
        // The probe: the first reading stream that sees every write, when there is one.
        let probeIndex = plan.firstIndex { $0.target == .all && $0.reads }
        for (index, stream) in plan.enumerated() {
            let c: Int
            if stream.reads {
                c = reading % readingConnections
                reading += 1
            } else {
                c = readingConnections + closedIndex % closedConnections
                closedIndex += 1
            }
            let connection = connections[c]
            if connection.counted { tally.add(stream.target) }
            let measure = p.latencyOnEveryStream || index % 100 == 0
            let probe = index == probeIndex ? self.probe : nil
            let track = p.storm || p.tracksVersions
            connection.loop.execute {
                connection.open(stream.path, version: version.rawValue, trackVersion: track, measureLatency: measure, probe: probe)
            }
        }
        let counted = tally
        try await writerLoop.submit { self.tally = counted }.get()
        var opening = FanoutCounters()
        while true {
            opening = try await totals()
            progress?(Double(opening.established) / Double(max(1, p.watchers)), "opening watch streams")
            if opening.established + opening.failed >= p.watchers { break }
            guard CPUTime.wall() - openStart < 300 else { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        let establishSeconds = max(0, opening.lastEstablishedAt - openStart)
        // Stall the chosen connections: their sockets are no longer read (over HTTP/1.1 the
        // never-reading streams' sockets too: HTTP/1.1 has no stream window to close).
        for (i, c) in connections.enumerated() where i < stalledConnections || (p.http1 && i >= readingConnections) {
            try await c.loop.submit { c.http.stopReading() }.get()
        }
        try await Task.sleep(for: .seconds(1))
        let streamsOpen = try await scrape()
        let etcdURL = etcdMetricsURL
        let etcdAtWrites = try await Self.scrapeEtcd(etcdURL)

        // Writes, then a grace second for the last deliveries.
        var peakRSS = streamsOpen.residentBytes
        let eventsBefore = try await totals().events
        var writeSeconds = 0.0
        var getLatencies: [Double] = []
        if p.seconds > 0, p.objects > 0, p.writesPerSecond != 0 {
            let getLoop = group.next()
            let getter = try await connect(on: getLoop, to: endpoints[0])
            let namespace = self.namespace
            let gets = Task { try await Self.probeGets(getter, namespace: namespace, objects: p.objects, on: getLoop) }
            defer { gets.cancel() }
            let writeStart = CPUTime.wall()
            try await writerLoop.submit {
                self.writing = true
                if let rate = self.parameters.writesPerSecond {
                    self.nextWriteAt = CPUTime.wall()
                    self.scheduleWrite(rate: rate)
                } else {
                    self.topUp()
                }
            }.get()
            while CPUTime.wall() - writeStart < p.seconds {
                try await Task.sleep(for: .milliseconds(500))
                peakRSS = max(peakRSS, try await scrape().residentBytes)
                progress?((CPUTime.wall() - writeStart) / p.seconds, "writing")
            }
            try await writerLoop.submit { self.writing = false }.get()
            writeSeconds = CPUTime.wall() - writeStart
            gets.cancel()
            getLatencies = try await gets.value
            // Let in-flight writes finish and their events arrive.
            let drainStart = CPUTime.wall()
            while try await writerLoop.submit({ self.writesInFlight }).get() > 0, CPUTime.wall() - drainStart < 10 {
                try await Task.sleep(for: .milliseconds(20))
            }
            try await Task.sleep(for: .seconds(1))
        }
        let end = try await scrape()
        peakRSS = max(peakRSS, end.residentBytes)
        let final = try await totals()

        // The reconnect storm: every stream at once, from the newest version it saw; over when the
        // server has recorded that many caught-up watch starts.
        var storm: (seconds: Double, cpu: Double, initEvents: Double, streams: Int)?
        if p.storm {
            let before = try await scrape()
            let start = CPUTime.wall()
            var reopened = 0
            for c in connections { reopened += try await c.loop.submit { c.reopenAll() }.get() }
            var now = before
            if before.hasInitHistogram {
                while now.initCount - before.initCount < Double(reopened), CPUTime.wall() - start < 600 {
                    try await Task.sleep(for: .milliseconds(10))
                    now = try await scrape()
                }
            } else {
                // The server does not say when a watch has caught up: until every re-opened
                // stream is established again (its 200).
                let establishedBefore = final.established
                while try await totals().established - establishedBefore < reopened, CPUTime.wall() - start < 600 {
                    try await Task.sleep(for: .milliseconds(10))
                }
                now = try await scrape()
                notes.append("storm: seconds until every re-opened stream had its 200 (the server does not report caught-up watches)")
            }
            storm = (CPUTime.wall() - start, now.cpuSeconds - before.cpuSeconds, now.initEventsTotal - before.initEventsTotal, reopened)
            peakRSS = max(peakRSS, now.residentBytes)
        }
        let writes = try await writerLoop.submit {
            (self.writesAcknowledged, self.writesFailed, self.writesSkipped, self.expectedDeliveries)
        }.get()

        let etcdAfterWrites = try await Self.scrapeEtcd(etcdURL)
        var measurement = FanoutMeasurement(
            parameters: p, watchers: p.watchers, streamsEstablished: opening.established, streamsFailed: opening.failed,
            establishSeconds: establishSeconds, streamsEnded: final.ended,
            writes: writes.0, writeErrors: writes.1, writesSkipped: writes.2, writeSeconds: writeSeconds,
            expectedDeliveries: writes.3, deliveredEvents: final.events - eventsBefore, bookmarks: final.bookmarks,
            errorEvents: final.errors, bytesReceived: Double(final.bytes),
            latency: final.latency,
            serverRSSEmpty: empty.residentBytes, serverRSSBeforeStreams: loadedBeforeStreams.residentBytes,
            serverRSSStreamsOpen: streamsOpen.residentBytes, serverRSSPeak: peakRSS,
            serverCPUSecondsWriting: end.cpuSeconds - streamsOpen.cpuSeconds,
            serverCPUSecondsOpening: streamsOpen.cpuSeconds - loadedBeforeStreams.cpuSeconds,
            terminatedWatchers: end.terminatedWatchers - empty.terminatedWatchers,
            stormStreams: storm?.streams ?? 0, stormSeconds: storm?.seconds ?? 0, stormCPUSeconds: storm?.cpu ?? 0,
            stormInitEvents: storm?.initEvents ?? 0,
            wallSeconds: CPUTime.wall() - wallStart, getLatencies: getLatencies)
        measurement.parkedWatchers = end.parkedWatchers - empty.parkedWatchers
        if let etcdAtWrites, let etcdAfterWrites { measurement.etcdCPUSecondsWriting = etcdAfterWrites.cpuSeconds - etcdAtWrites.cpuSeconds }
        return measurement
    }

    private static func scrapeEtcd(_ url: String?) async throws -> EtcdMetrics? {
        guard let url else { return nil }
        return try await offPool { try EtcdMetrics.scrape(url) }
    }

    /// GETs one pod after another, 10 ms apart, until cancelled; returns their latencies (s).
    private static func probeGets(_ connection: HTTP2ClientConnection, namespace: String, objects: Int, on loop: any EventLoop) async throws -> [Double] {
        var latencies: [Double] = []
        var i = 0
        while !Task.isCancelled {
            let sent = CPUTime.wall()
            let (status, _) = try await connection.get("/api/v1/namespaces/\(namespace)/pods/fan-\(i % objects)", on: loop)
            guard status == 200 else { throw BenchError("a GET while writing answered \(status)") }
            latencies.append(CPUTime.wall() - sent)
            i += 1
            try? await Task.sleep(for: .milliseconds(10))
        }
        return latencies
    }

    /// What moving a killed replica's watch streams to another replica cost.
    public struct Failover: Sendable {
        public var streams = 0
        /// From the kill to the last moved stream's 200.
        public var seconds = 0.0
        /// Moved streams refused, or ended with an ERROR event (a 410 would be one).
        public var failed = 0
        public var errorEvents = 0
        /// Writes after the move, and their events on every counted stream: delivered / expected.
        public var writesAfter = 0
        public var deliveredAfter = 0
        public var expectedAfter = 0
        /// Server CPU seconds (all replicas still up) from the kill to the last 200.
        public var serverCPUSeconds = 0.0
    }

    /// After ``run()`` (streams open, writes over): `kill` ends the first replica (SIGKILL), and
    /// every reading stream it served is opened on the second replica from the newest version it
    /// saw, on new connections from the same client loops — as clients resume after a failure.
    /// Then writes go on at the run's rate for 3 s, to check that every stream, moved or not,
    /// gets each of their events (no gap, no duplicate). Needs two ports and
    /// ``FanoutParameters/tracksVersions``.
    public func failover(kill: @Sendable () -> Void) async throws -> Failover {
        guard ports.count >= 2, parameters.tracksVersions, !parameters.http1 else {
            throw BenchError("failover needs two replicas, HTTP/2 and streams that track their versions")
        }
        var moving: [(connection: FanoutConnection, specs: [(template: String, version: UInt64, measureLatency: Bool)])] = []
        for (i, c) in connections.enumerated() where connectionPorts[i] == ports[0] && c.counted {
            moving.append((c, try await c.loop.submit { c.streamSpecs() }.get()))
        }
        // Controls, writers and the metrics of the first replica go with it.
        let survivors = zip(controls, ports).filter { $0.1 != ports[0] }.map(\.0)
        controls = survivors
        control = survivors[0]
        writers = writers.enumerated().filter { $0.offset % ports.count != 0 }.map(\.element)
        var figures = Failover()
        figures.streams = moving.reduce(0) { $0 + $1.specs.count }
        let before = try await scrape()
        kill()
        let start = CPUTime.wall()
        var moved: [FanoutConnection] = []
        for (old, specs) in moving {
            let http = try await connect(on: old.loop, to: endpoints[1])
            let replacement = FanoutConnection(http: http, loop: old.loop, counted: true)
            moved.append(replacement)
            connections.append(replacement)
            connectionPorts.append(ports[1])
            try await old.loop.submit {
                for spec in specs {
                    replacement.open(spec.template, version: spec.version, trackVersion: true, measureLatency: spec.measureLatency)
                }
            }.get()
        }
        var sum = FanoutCounters()
        while CPUTime.wall() - start < 120 {
            sum = FanoutCounters()
            for c in moved { sum.add(try await c.loop.submit { c.counters }.get()) }
            if sum.established + sum.failed >= figures.streams { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        figures.seconds = sum.lastEstablishedAt > 0 ? sum.lastEstablishedAt - start : CPUTime.wall() - start
        figures.failed = sum.failed
        figures.serverCPUSeconds = try await scrape().cpuSeconds - before.cpuSeconds
        (figures.writesAfter, figures.deliveredAfter, figures.expectedAfter) = try await writeAndCount(seconds: 3)
        sum = FanoutCounters()
        for c in moved { sum.add(try await c.loop.submit { c.counters }.get()) }
        figures.errorEvents = sum.errors
        return figures
    }

    /// Writes at the run's rate for `seconds` and waits for their events: every counted stream
    /// should get each of its events once. Returns (writes acknowledged, events delivered, expected).
    private func writeAndCount(seconds: Double) async throws -> (Int, Int, Int) {
        let eventsBefore = try await totals().events
        let (expectedBefore, writesBefore) = try await writerLoop.submit { (self.expectedDeliveries, self.writesAcknowledged) }.get()
        let rate = parameters.writesPerSecond ?? 1_000
        try await writerLoop.submit {
            self.writing = true
            self.nextWriteAt = CPUTime.wall()
            self.scheduleWrite(rate: rate)
        }.get()
        try await Task.sleep(for: .seconds(seconds))
        try await writerLoop.submit { self.writing = false }.get()
        let drainStart = CPUTime.wall()
        while try await writerLoop.submit({ self.writesInFlight }).get() > 0, CPUTime.wall() - drainStart < 10 {
            try await Task.sleep(for: .milliseconds(20))
        }
        try await Task.sleep(for: .seconds(1))
        let after = try await totals()
        let (expectedAfter, writesAfter) = try await writerLoop.submit { (self.expectedDeliveries, self.writesAcknowledged) }.get()
        return (writesAfter - writesBefore, after.events - eventsBefore, expectedAfter - expectedBefore)
    }

    /// What a graceful restart of the server (durable storage) under its streams cost.
    public struct Restart: Sendable {
        /// Streams open when the server was asked to stop.
        public var streams = 0
        /// Bookmarks the streams received from the stop on (the server's last bookmark at shutdown).
        public var shutdownBookmarks = 0
        /// SIGTERM → the process exited; spawn → `/readyz` 200.
        public var shutdownSeconds = 0.0
        public var startSeconds = 0.0
        /// Ready → the last resumed stream's 200; SIGTERM → that 200.
        public var resumeSeconds = 0.0
        public var totalSeconds = 0.0
        /// Streams resumed (200), refused, and ended with an ERROR event (a 410: the client relists).
        public var resumed = 0
        public var failed = 0
        public var relists = 0
        /// The restarted server's init events and CPU seconds from ready to the last 200, its CPU
        /// seconds loading, and its RSS with every stream resumed.
        public var initEvents = 0.0
        public var serverCPUSeconds = 0.0
        public var loadCPUSeconds = 0.0
        public var serverRSS = 0.0
        /// Writes after the resume, and their events on every stream: delivered / expected.
        public var writesAfter = 0
        public var deliveredAfter = 0
        public var expectedAfter = 0
    }

    /// After ``run()`` (streams open, writes over): `restartServer` stops the server gracefully
    /// (SIGTERM), starts it again on the same port and storage and returns once it is ready, with
    /// the seconds each took. Every stream the server ended is then opened again at once, on new
    /// connections from the same client loops, from the newest version it saw — its last event's,
    /// or the bookmark the server sends at shutdown — as client-go's reflectors resume. Then
    /// writes go on at the run's rate for 3 s, to check every stream gets each of its events.
    /// Needs one server, HTTP/2 and ``FanoutParameters/tracksVersions``.
    public func restart(using restartServer: () async throws -> (shutdown: Double, start: Double)) async throws -> Restart {
        guard ports.count == 1, parameters.tracksVersions, !parameters.http1 else {
            throw BenchError("a restart needs one server, HTTP/2 and streams that track their versions")
        }
        var figures = Restart()
        let old = connections.filter(\.counted)
        for c in old { try await c.loop.submit { c.keepEndedStreams() }.get() }
        let bookmarksBefore = try await totals().bookmarks
        let stop = CPUTime.wall()
        (figures.shutdownSeconds, figures.startSeconds) = try await restartServer()
        // The old connections are gone with the old process: wait for every stream's end.
        var resuming: [(connection: FanoutConnection, specs: [(template: String, version: UInt64, measureLatency: Bool)])] = []
        let waitStart = CPUTime.wall()
        for c in old {
            while try await c.loop.submit({ c.openStreams }).get() > 0, CPUTime.wall() - waitStart < 30 {
                try await Task.sleep(for: .milliseconds(20))
            }
            resuming.append((c, try await c.loop.submit { c.takeEndedStreams() }.get()))
        }
        figures.shutdownBookmarks = try await totals().bookmarks - bookmarksBefore
        figures.streams = resuming.reduce(0) { $0 + $1.specs.count }
        // Controls and writers of the old process are gone with it.
        controls = [try await connect(on: writerLoop, to: endpoints[0])]
        control = controls[0]
        var newWriters: [HTTP2ClientConnection] = []
        for _ in writers { newWriters.append(try await connect(on: writerLoop, to: endpoints[0])) }
        try await writerLoop.submit { [newWriters] in self.writers = newWriters }.get()
        let ready = CPUTime.wall()
        let atReady = try await scrape()
        figures.loadCPUSeconds = atReady.cpuSeconds
        var resumed: [FanoutConnection] = []
        for (old, specs) in resuming where !specs.isEmpty {
            let replacement = FanoutConnection(http: try await connect(on: old.loop, to: endpoints[0]), loop: old.loop, counted: true)
            resumed.append(replacement)
            connections.append(replacement)
            try await old.loop.submit {
                for spec in specs {
                    replacement.open(spec.template, version: spec.version, trackVersion: true, measureLatency: spec.measureLatency)
                }
            }.get()
        }
        var sum = FanoutCounters()
        while CPUTime.wall() - ready < 300 {
            sum = FanoutCounters()
            for c in resumed { sum.add(try await c.loop.submit { c.counters }.get()) }
            progress?(Double(sum.established + sum.failed) / Double(max(1, figures.streams)), "resuming after the restart")
            if sum.established + sum.failed >= figures.streams { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        figures.resumed = sum.established
        figures.failed = sum.failed
        figures.resumeSeconds = sum.lastEstablishedAt > 0 ? sum.lastEstablishedAt - ready : CPUTime.wall() - ready
        figures.totalSeconds = (sum.lastEstablishedAt > 0 ? sum.lastEstablishedAt : CPUTime.wall()) - stop
        try await Task.sleep(for: .seconds(1))
        let resumedMetrics = try await scrape()
        figures.initEvents = resumedMetrics.initEventsTotal - atReady.initEventsTotal
        figures.serverCPUSeconds = resumedMetrics.cpuSeconds - atReady.cpuSeconds
        figures.serverRSS = resumedMetrics.residentBytes
        (figures.writesAfter, figures.deliveredAfter, figures.expectedAfter) = try await writeAndCount(seconds: 3)
        sum = FanoutCounters()
        for c in resumed { sum.add(try await c.loop.submit { c.counters }.get()) }
        figures.relists = sum.errors
        return figures
    }

    /// Closes every connection and the client's event loops.
    public func close() async {
        for channel in channels { try? await channel.close() }
        try? await group.shutdownGracefully()
    }

    // MARK: - Streams

    /// The watch streams, shuffled so every connection carries a similar mix; ``FanoutParameters/neverReadingShare``
    /// of them marked as never reading.
    func watchPlan() -> [(path: String, target: WatchTarget, reads: Bool)] {
        let p = parameters
        let base = "watch=true&resourceVersion={rv}&timeoutSeconds=3600" + (p.bookmarks ? "&allowWatchBookmarks=true" : "")
        var streams: [(path: String, target: WatchTarget, reads: Bool)] = []
        streams.reserveCapacity(p.watchers)
        // A remote server has other pods: every stream stays in the run's namespace.
        let own = "/api/v1/namespaces/\(namespace)/pods"
        let everywhere = remote ? own : "/api/v1/pods"
        for i in 0..<p.nodeWatchers {
            let node = i % max(1, p.nodes)
            let selector = remote ? "labelSelector=\(PodWorkload.nodeLabel.replacingOccurrences(of: "/", with: "%2F"))%3Dnode-\(node)"
                : "fieldSelector=spec.nodeName%3Dnode-\(node)"
            streams.append(("\(own)?\(base)&\(selector)", .node(node), true))
        }
        for _ in 0..<p.namespaceWatchers { streams.append(("\(own)?\(base)", .namespace, true)) }
        for i in 0..<p.labelWatchers {
            streams.append(("\(everywhere)?\(base)&labelSelector=group%3Dg\(i % p.labelGroups)", .label(group: i % p.labelGroups), true))
        }
        for _ in 0..<p.unselectiveWatchers { streams.append(("\(everywhere)?\(base)", .all, true)) }
        streams.shuffle(using: &rng)
        let neverReading = Int((Double(streams.count) * p.neverReadingShare).rounded())
        for i in 0..<neverReading { streams[i].reads = false }
        return streams
    }

    /// The connections' counters added up, each read on its own loop.
    private func totals() async throws -> FanoutCounters {
        var sum = FanoutCounters()
        for c in connections { sum.add(try await c.loop.submit { c.counters }.get(), counted: c.counted) }
        return sum
    }

    // MARK: - Writes (on `writerLoop`)

    /// Pod `index` with its next revision, its node, its label group, and the send time.
    private func pod(_ index: Int, revision: Int, sequence: Int = 0) -> [UInt8] {
        let p = parameters
        let node = p.node(ofPod: index)
        let sent = UInt64(CPUTime.wall() * 1e9)
        var json = #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"fan-\#(index)","namespace":"\#(namespace)","#
        json += #""labels":{"app":"fanout","group":"g\#(node % p.labelGroups)""#
        if remote { json += #","\#(PodWorkload.nodeLabel)":"node-\#(node)""# }
        json += #"},"annotations":{"bench-sent":"\#(sent)","bench-seq":"\#(sequence)","#
        json += #""bench-padding":"\#(String(repeating: "x", count: max(0, p.objectBytes - 420)))"}},"#
        if remote {
            // Never scheduled, and acceptable to the "restricted" Pod Security level (see PodWorkload).
            json += #""spec":{"schedulerName":"\#(PodWorkload.noScheduler)","securityContext":{"runAsNonRoot":true,"runAsUser":65535,"#
            json += #""seccompProfile":{"type":"RuntimeDefault"}},"containers":[{"name":"app","image":"registry.k8s.io/pause:3.10","#
            json += #""securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}]},"#
            json += #""status":{"phase":"Pending","message":"revision \#(revision)"}}"#
        } else {
            json += #""spec":{"nodeName":"node-\#(node)","containers":[{"name":"app","image":"registry.k8s.io/pause:3.10"}]},"#
            json += #""status":{"phase":"Running","message":"revision \#(revision)"}}"#
        }
        return Array(json.utf8)
    }

    private func populate() async throws {
        let total = parameters.objects
        try await writerLoop.submit { self.revisions = Array(repeating: 0, count: total) }.get()
        let writers = self.writers
        if remote {
            namespaceCreated = try await RemoteNamespace.create(namespace, at: endpoints[0], over: control, on: writerLoop)
        }
        do {
            try await HTTP2ClientConnection.createPods(count: total, namespace: namespace, createNamespace: !remote, on: writerLoop,
                                                       connection: { writers[$0 % writers.count] }) { i in
                self.pod(i, revision: 0)
            }
        } catch let error as BenchError where remote {
            throw RemoteNamespace.explain(error)
        }
        if remote { try await RemoteNamespace.checkReadAndWatch(namespace, at: endpoints[0], over: control, on: writerLoop) }
    }

    /// Deletes the namespace the run created (a remote server only), with its pods.
    private func deleteNamespace() async throws {
        guard remote, namespaceCreated else { return }
        try await RemoteNamespace.delete(namespace, at: endpoints[0], on: writerLoop)
        namespaceCreated = false
    }

    private func scheduleWrite(rate: Double) {
        nextWriteAt += -log(1 - Double.random(in: 0..<1, using: &rng)) / rate
        let bound = NIOLoopBound(self, eventLoop: writerLoop)
        writerLoop.scheduleTask(in: .nanoseconds(Int64(max(0, nextWriteAt - CPUTime.wall()) * 1e9))) {
            let run = bound.value
            guard run.writing else { return }
            run.scheduleWrite(rate: rate)
            if run.writesInFlight >= run.parameters.writesInFlight {
                run.writesSkipped += 1  // the server is behind
            } else {
                run.writeNext()
            }
        }
    }

    /// As fast as the server delivers: writes go out while fewer than ``undeliveredLimit`` sent
    /// writes are still unseen on the probe stream (and fewer than `writesInFlight` unanswered);
    /// re-checked every millisecond and at every acknowledgement. Faster than delivery, the
    /// server would rightly end the watchers that fall behind.
    static let undeliveredLimit = 8

    private func topUp() {
        guard writing else { return }
        fill()
        let bound = NIOLoopBound(self, eventLoop: writerLoop)
        writerLoop.scheduleTask(in: .milliseconds(1)) { bound.value.topUp() }
    }

    private func fill() {
        while writing, writesSent - probe.seen < Self.undeliveredLimit, writesInFlight < parameters.writesInFlight {
            writeNext()
        }
    }

    /// One PUT of a random pod; in closed-loop mode each acknowledgement may send the next.
    private func writeNext() {
        guard writing else { return }
        let p = parameters
        let i = Int.random(in: 0..<p.objects, using: &rng)
        revisions[i] += 1
        writesInFlight += 1
        writesSent += 1
        expectedDeliveries += tally.receivers(ofPod: i, in: p)
        writers[writesSent % writers.count].fetch("PUT", "/api/v1/namespaces/\(namespace)/pods/fan-\(i)",
              body: pod(i, revision: revisions[i], sequence: writesSent)) { status, _ in
            self.writesInFlight -= 1
            if status == 200 {
                self.writesAcknowledged += 1
            } else {
                self.writesFailed += 1
                self.expectedDeliveries -= self.tally.receivers(ofPod: i, in: p)
            }
            if p.writesPerSecond == nil { self.fill() }
        }
    }

    // MARK: - Requests

    private func connect(on loop: any EventLoop, to endpoint: APIServerEndpoint, initialWindow: UInt32 = 4 << 20) async throws -> HTTP2ClientConnection {
        let (connection, channel) = try await endpoint.connect(on: loop, initialWindow: initialWindow)
        channels.append(channel)
        return connection
    }

    /// Every server's metrics, added up (memory and CPU of all the replicas together). A remote
    /// server that does not let the run read them gives empty figures, and a note says why.
    private func scrape() async throws -> ServerMetrics {
        if metricsProblem != nil { return ServerMetrics() }
        if remote {
            let (status, body) = try await controls[0].get("/metrics", on: writerLoop)
            if status == 200 {
                let metrics = ServerMetrics(parsing: String(decoding: body, as: UTF8.self))
                if !metrics.hasProcessCPU { metricsProblem = "its /metrics has no process figures" } else { return metrics }
            } else {
                metricsProblem = "GET /metrics answered \(status)"
            }
            notes.append("server CPU and memory: not measured (\(metricsProblem!))")
            return ServerMetrics()
        }
        var total = try await controls[0].scrapeMetrics(on: writerLoop)
        for control in controls.dropFirst() { total = total.summing(try await control.scrapeMetrics(on: writerLoop)) }
        return total
    }

    private func currentVersion() async throws -> ResourceVersion {
        let (status, body) = try await control.get("/api/v1/namespaces/\(namespace)/pods?limit=1", on: writerLoop)
        guard status == 200, let rv = NetworkRecoveryRun.firstResourceVersion(body[...]) else { throw BenchError("LIST answered \(status)") }
        return rv
    }
}
