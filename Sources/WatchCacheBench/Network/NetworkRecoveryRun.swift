import Foundation
import NIOCore
import NIOPosix
import WatchCache

/// Runs one workload point against a real server over loopback: the watchers are HTTP/2 streams,
/// up to ``streamsPerConnection`` multiplexed on each TCP connection (libnghttp2 client sessions
/// on one SwiftNIO event loop), the writes are PUTs on their own connection, and the figures come
/// from the server's `/metrics` (init events and their per-watch histogram, process CPU) and from
/// the bytes the client received.
///
/// Real time passes here: the run takes (warm-up + counted) / compression seconds. The server must
/// run with the same `--time-compression`.
///
/// Against a server the benchmark did not start (``remote``: kube-apiserver, k3s, kwok, or a
/// `watchcache serve` elsewhere) the run creates a namespace of its own and deletes it at the end,
/// its pods are never scheduled and are placed on their nodes by a label
/// (``PodWorkload/Placement/label``), and where the server's `/metrics` has no per-watch histogram
/// (kube-apiserver has `apiserver_init_events_total` only) the per-resume figures are the client's
/// estimate: the run's acknowledged writes newer than each resume's version.
public final class NetworkRecoveryRun: @unchecked Sendable {  // confined to `loop`
    public let parameters: RecoveryParameters
    public let bookmarks: Bool
    public let endpoint: APIServerEndpoint
    /// A server the benchmark did not start: its own namespace, label placement, cleanup.
    public let remote: Bool
    public var streamsPerConnection = 500
    /// Called with the fraction of the run done, from the event loop.
    public var progress: ((Double) -> Void)?
    /// Restarts the server on the same port (for ``RecoveryParameters/restartAt``); returns once
    /// the new process accepts connections.
    public var restartServer: (@Sendable () async throws -> Void)?

    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private var loop: any EventLoop { group.next() }
    private var channels: [any Channel] = []
    private var writer: HTTP2ClientConnection!
    private var watchConnections: [HTTP2ClientConnection] = []
    private var clients: [ReconnectingWatcher] = []
    private var streams: [(connection: Int, id: Int32)?] = []
    private var lineBuffers: [[UInt8]] = []
    private var rng = SplitMix64(seed: 1)
    private var workload: PodWorkload
    private var revisions: [Int] = []
    /// The versions of the run's acknowledged writes, ascending (for the client-side estimate).
    private var writeVersions: [UInt64] = []
    /// Client-side estimates of each counted resume's init events.
    private var estimatedInitEvents: [Double] = []
    /// Whether the namespace this run created still exists.
    private var namespaceCreated = false

    private var counting = false
    private var stopping = false
    /// The run is over: streams that end are not watched again.
    private var closing = false
    private var watchBytes = 0.0
    private var relistBytes = 0.0
    private var writes = 0
    private var writesInFlight = 0
    private var failures = 0
    private var startedAt = 0.0
    /// While the server restarts: requests wait in ``parked`` and writes are skipped.
    private var down = false
    private var parked: [() -> Void] = []
    /// Restart figures: seconds from stopping the old server until every watcher was live again.
    private var restartSeconds = 0.0
    private var restartInitEvents = 0.0
    /// During the reconnect storm: watches answered (headers) since it began.
    private var storming = false
    private var answeredSinceStorm = 0

    public convenience init(parameters: RecoveryParameters, bookmarks: Bool, port: Int) {
        self.init(parameters: parameters, bookmarks: bookmarks, endpoint: .loopback(port: port), remote: false)
    }

    public init(parameters: RecoveryParameters, bookmarks: Bool, endpoint: APIServerEndpoint, remote: Bool) {
        self.parameters = parameters
        self.bookmarks = bookmarks
        self.endpoint = endpoint
        self.remote = remote
        workload = PodWorkload(watchers: parameters.watchers, objectsPerWatcher: parameters.objectsPerWatcher)
        if remote {
            workload.namespace = "watchcache-bench-" + String(UInt32.random(in: .min ... .max), radix: 16)
            workload.placement = .label
        }
    }

    /// The namespace the run's pods live in (a fresh one against a ``remote`` server).
    public var namespace: String { workload.namespace }

    /// Runs the point; the server should hold nothing of the workload yet (objects already there
    /// are reused). Against a ``remote`` server the namespace the run created is deleted at the
    /// end, whether the run succeeded or not.
    public func run() async throws -> RecoveryMeasurement {
        do {
            let measurement = try await measure()
            try await deleteNamespace()
            return measurement
        } catch {
            do { try await deleteNamespace() } catch let cleanup {
                throw RemoteNamespace.leftBehind(workload.namespace, after: error, because: cleanup)
            }
            throw error
        }
    }

    private func measure() async throws -> RecoveryMeasurement {
        let wallStart = CPUTime.wall()
        let p = parameters
        let f = p.compression
        rng = SplitMix64(seed: p.seed &+ (bookmarks ? 0x5EED : 0))
        let connectionCount = (p.watchers + streamsPerConnection - 1) / streamsPerConnection
        writer = try await connect()
        for _ in 0..<connectionCount { watchConnections.append(try await connect()) }
        try await populate()

        try await loop.submit {
            self.clients = (0..<p.watchers).map { node in
                ReconnectingWatcher(node: p.selective ? node : nil, allowBookmarks: self.bookmarks, minTimeout: p.watchTimeout / f,
                                    relistBackoff: p.relistBackoff / f)
            }
            self.streams = Array(repeating: nil, count: p.watchers)
            self.lineBuffers = Array(repeating: [], count: p.watchers)
            self.startedAt = CPUTime.wall()
            for c in 0..<p.watchers {
                self.after(Double.random(in: 0..<(60 / f), using: &self.rng)) { self.list(c, initial: true) }
            }
            self.scheduleWrite()
        }.get()

        let warmup = p.warmup / f, measured = p.measured / f
        try await sleep(warmup, total: warmup + measured, done: 0)
        let before = try await scrape()
        try await loop.submit {
            self.counting = true
            for c in self.clients.indices { self.clients[c].resetCounters() }
        }.get()
        var after: ServerMetrics
        if let restartAt = p.restartAt.map({ min($0 / f, measured) }) {
            try await sleep(restartAt, total: warmup + measured, done: warmup)
            let beforeRestart = try await scrape()
            let restartStart = CPUTime.wall()
            try await restart()
            try await sleep(measured - (CPUTime.wall() - restartStart) - restartAt, total: warmup + measured, done: warmup + restartAt)
            // The new process counted from zero: its figures add to the old one's.
            after = beforeRestart.adding(try await scrape())
        } else {
            try await sleep(measured, total: warmup + measured, done: warmup)
            after = try await scrape()
        }
        let clientFigures = try await loop.submit { () -> (Int, Int, Int, Int, Double, Double, Int, Int, [Double]) in
            self.counting = false
            self.stopping = true  // no more writes
            return (self.clients.reduce(0) { $0 + $1.expiredCount }, self.clients.reduce(0) { $0 + $1.relists },
                    self.clients.reduce(0) { $0 + $1.bookmarks }, self.clients.reduce(0) { $0 + $1.watchStarts },
                    self.watchBytes, self.relistBytes, self.writes, self.failures, self.estimatedInitEvents)
        }.get()

        // The reconnect storm: every stream is cancelled and re-opened at once from its last version;
        // caught up once the server has recorded that many watch starts as caught up.
        let stormBefore = try await scrape()
        let stormStart = CPUTime.wall()
        let reopened = try await loop.submit { () -> Int in
            var n = 0
            self.answeredSinceStorm = 0
            self.storming = true
            for c in self.streams.indices {
                guard let s = self.streams[c] else { continue }
                self.watchConnections[s.connection].cancel(s.id)  // onClose re-watches from the last version
                n += 1
            }
            return n
        }.get()
        var stormAfter = stormBefore
        if stormBefore.hasInitHistogram {
            // Caught up: the server has recorded that many watch starts as caught up.
            while stormAfter.initCount - stormBefore.initCount < Double(reopened), CPUTime.wall() - stormStart < 120 {
                try await Task.sleep(for: .milliseconds(10))
                stormAfter = try await scrape()
            }
        } else {
            // The server does not say when a watch has caught up: re-established is when every
            // re-opened watch has its response headers; its init events are the counter's rise
            // until it stays still for a second.
            while try await loop.submit({ self.answeredSinceStorm }).get() < reopened, CPUTime.wall() - stormStart < 120 {
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        let stormSeconds = CPUTime.wall() - stormStart
        if !stormBefore.hasInitHistogram {
            var still = CPUTime.wall()
            while CPUTime.wall() - still < 1, CPUTime.wall() - stormStart < 120 {
                try await Task.sleep(for: .milliseconds(100))
                let next = try await scrape()
                if next.initEventsTotal != stormAfter.initEventsTotal { still = CPUTime.wall() }
                stormAfter = next
            }
        }
        try await loop.submit { self.storming = false }.get()
        try await loop.submit {
            for c in self.watchConnections { c.flush() }
        }.get()

        var notes: [String] = []
        var distribution = after.initEventsPerWatch(since: before)
        var initEventsTotal = after.initEventsTotal - before.initEventsTotal
        if !after.hasInitHistogram {
            distribution = Distribution(clientFigures.8)
            notes.append("init events per reconnect: the client's estimate (the run's writes newer than each resume's version; "
                         + "the server has no per-watch histogram)")
        }
        if !after.hasInitEventsCounter {
            initEventsTotal = distribution.total
            notes.append(metricsProblem.map { "init events, total: the client's estimate (\($0))" }
                         ?? "init events, total: the client's estimate (the server's /metrics has no apiserver_init_events_total for pods)")
        }
        if !after.hasProcessCPU { notes.append("server CPU: not reported (\(metricsProblem ?? "no process_cpu_seconds_total in /metrics"))") }
        if !stormBefore.hasInitHistogram {
            notes.append("reconnect storm: seconds until every re-opened watch had its response headers (the server does not report caught-up watches)")
        }
        var measurement = RecoveryMeasurement(
            parameters: p, bookmarks: bookmarks, mode: "network",
            reconnects: after.hasInitHistogram ? distribution.count : clientFigures.3,
            initEventsPerReconnect: distribution,
            initEventsTotal: initEventsTotal,
            serverCPUSeconds: after.cpuSeconds - before.cpuSeconds,
            watchBytes: clientFigures.4,
            expired: clientFigures.0,
            relists: clientFigures.1,
            relistBytes: clientFigures.5,
            bookmarksReceived: clientFigures.2,
            writes: clientFigures.6,
            stormCatchUpSeconds: p.restartAt == nil ? stormSeconds : restartSeconds,
            stormInitEvents: p.restartAt == nil ? stormAfter.initEventsTotal - stormBefore.initEventsTotal : restartInitEvents,
            wallSeconds: CPUTime.wall() - wallStart)
        measurement.failedRequests = clientFigures.7
        measurement.notes = notes
        return measurement
    }

    /// Closes the connections and the client's event loop.
    public func close() async {
        _ = try? await loop.submit {
            self.stopping = true
            self.closing = true
        }.get()
        for channel in channels { try? await channel.close() }
        try? await group.shutdownGracefully()
    }

    // MARK: - Restart

    /// Stops the server and starts it again (``restartServer``), reconnects, waits for `/readyz`,
    /// then lets every parked client resume; records how long until all watchers were live again
    /// and the init events their resumption took.
    private func restart() async throws {
        guard let restartServer else { throw BenchError("this run has a restart but no way to restart the server") }
        let start = CPUTime.wall()
        try await loop.submit { self.down = true }.get()
        let old = channels
        try await restartServer()
        for channel in old { try? await channel.closeFuture.get() }
        try await loop.submit { self.channels.removeAll { c in old.contains { $0 === c } } }.get()
        writer = try await connect()
        var fresh: [HTTP2ClientConnection] = []
        for _ in watchConnections { fresh.append(try await connect()) }
        let connections = fresh
        try await loop.submit { self.watchConnections = connections }.get()
        while try await writer.get("/readyz", on: loop).status != 200 {
            guard CPUTime.wall() - start < 300 else { throw BenchError("the restarted server was not ready within 300 s") }
            try await Task.sleep(for: .milliseconds(10))
        }
        let resumed = try await loop.submit { () -> Int in
            self.down = false
            let waiting = self.parked
            self.parked.removeAll()
            for action in waiting { action() }
            return self.clients.count
        }.get()
        // Caught up: the new server has recorded a caught-up start for every watcher.
        var metrics = try await scrape()
        while metrics.initCount < Double(resumed), CPUTime.wall() - start < 300 {
            try await Task.sleep(for: .milliseconds(10))
            metrics = try await scrape()
        }
        restartSeconds = CPUTime.wall() - start
        restartInitEvents = metrics.initEventsTotal
    }

    // MARK: - Connections and requests

    private func connect() async throws -> HTTP2ClientConnection {
        let (connection, channel) = try await endpoint.connect(on: loop)
        try await loop.submit {
            self.channels.append(channel)
            // Outside a restart the run cannot go on without it: it ends with an error.
            connection.onClose = { if !self.down, !self.stopping, self.lostConnection == nil { self.lostConnection = self.endpoint.url } }
        }.get()
        return connection
    }

    /// Set when a connection closed while the run needed it.
    private var lostConnection: String?

    /// Why `/metrics` could not be read, once a scrape found it unreadable (a remote server only).
    private var metricsProblem: String?

    /// The server's `/metrics`. A remote server that does not let the run read it (401, 403)
    /// gives empty figures, and ``metricsProblem`` says why.
    private func scrape() async throws -> ServerMetrics {
        if metricsProblem != nil { return ServerMetrics() }
        let (status, body) = try await writer.get("/metrics", on: loop)
        if status == 200 { return ServerMetrics(parsing: String(decoding: body, as: UTF8.self)) }
        guard remote else { throw BenchError("GET /metrics answered \(status)") }
        metricsProblem = "GET /metrics answered \(status)\(RemoteNamespace.detail(body))"
        return ServerMetrics()
    }

    /// Creates the pods, 256 requests at a time; pods that exist already are kept (a server the
    /// run started). Against a remote server the namespace is the run's own: created fresh.
    private func populate() async throws {
        let total = workload.objects
        try await loop.submit { self.revisions = Array(repeating: 0, count: total) }.get()
        let workload = self.workload
        let writer = self.writer!
        if remote {
            namespaceCreated = try await RemoteNamespace.create(workload.namespace, at: endpoint, over: writer, on: loop)
        }
        do {
            try await HTTP2ClientConnection.createPods(count: total, namespace: workload.namespace, createNamespace: !remote,
                                                       on: loop, connection: { _ in writer }) { i in
                JSONWriter.encode(.object(workload.pod(i, revision: 0)))
            }
        } catch let error as BenchError where remote {
            throw RemoteNamespace.explain(error)
        }
        if remote { try await RemoteNamespace.checkReadAndWatch(workload.namespace, at: endpoint, over: writer, on: loop) }
    }

    /// Deletes the namespace the run created (a remote server only), with its pods.
    private func deleteNamespace() async throws {
        guard remote, namespaceCreated else { return }
        try await RemoteNamespace.delete(workload.namespace, at: endpoint, on: loop)
        namespaceCreated = false
    }

    private func after(_ seconds: Double, _ body: @escaping () -> Void) {
        let bound = NIOLoopBound(body, eventLoop: loop)
        loop.scheduleTask(in: .nanoseconds(Int64(max(0, seconds) * 1e9))) { bound.value() }
    }

    private func sleep(_ seconds: Double, total: Double, done: Double) async throws {
        let start = CPUTime.wall()
        while CPUTime.wall() - start < seconds {
            if let lost = try await loop.submit({ self.lostConnection }).get() {
                throw BenchError("\(lost) closed a connection in the middle of the run")
            }
            try await Task.sleep(for: .milliseconds(min(500, max(1, Int((seconds - (CPUTime.wall() - start)) * 1000)))))
            if let progress { progress((done + CPUTime.wall() - start) / total) }
        }
    }

    // MARK: - Writes

    /// Poisson writes at R × compression per second: PUTs of one random pod each.
    private func scheduleWrite() {
        let rate = parameters.writesPerSecond * parameters.compression
        let gap = -log(1 - Double.random(in: 0..<1, using: &rng)) / rate
        after(gap) {
            guard !self.stopping else { return }
            self.scheduleWrite()
            guard self.writesInFlight < 512, !self.down else { return }  // the server is behind: skip, counted by the achieved rate
            let i = Int.random(in: 0..<self.workload.objects, using: &self.rng)
            self.revisions[i] += 1
            let body = JSONWriter.encode(.object(self.workload.pod(i, revision: self.revisions[i])))
            self.writesInFlight += 1
            self.writer.fetch("PUT", "/api/v1/namespaces/\(self.workload.namespace)/pods/\(self.workload.name(i))/status", body: body) { status, response in
                self.writesInFlight -= 1
                if status == 200 {
                    if self.counting { self.writes += 1 }
                    if let version = Self.firstResourceVersion(response[...]) { self.recordWrite(version.rawValue) }
                } else if !self.down {
                    self.failures += 1
                }
            }
        }
    }

    // MARK: - Watchers

    private func selectorQuery(_ c: Int) -> String {
        workload.selectorQuery(node: clients[c].node)
    }

    /// Keeps `version` in ``writeVersions`` (ascending; answers mostly arrive in order).
    private func recordWrite(_ version: UInt64) {
        var i = writeVersions.endIndex
        while i > writeVersions.startIndex, writeVersions[i - 1] > version { i -= 1 }
        writeVersions.insert(version, at: i)
    }

    /// The run's acknowledged writes newer than `version`: what a replay from it examines at
    /// least (a scan examines the other namespaces' pod events too).
    private func writesAfter(_ version: UInt64) -> Int {
        var low = 0, high = writeVersions.count
        while low < high {
            let mid = (low + high) / 2
            if writeVersions[mid] <= version { low = mid + 1 } else { high = mid }
        }
        return writeVersions.count - low
    }

    private func list(_ c: Int, initial: Bool) {
        guard !down else { return parked.append { self.list(c, initial: initial) } }
        let version = initial ? "0" : "\(clients[c].lastVersion)&resourceVersionMatch=NotOlderThan"
        let path = "/api/v1/namespaces/\(workload.namespace)/pods?resourceVersion=\(version)\(selectorQuery(c))"
        watchConnections[c / streamsPerConnection].fetch("GET", path) { status, body in
            guard status == 200, let rv = Self.firstResourceVersion(body[...]) else {
                if !self.down { self.failures += 1 }
                self.after(self.parameters.relistBackoff / self.parameters.compression) { self.list(c, initial: initial) }
                return
            }
            if self.counting, !initial { self.relistBytes += Double(body.count) }
            self.perform(c, self.clients[c].listed(at: rv, using: &self.rng))
        }
    }

    private func perform(_ c: Int, _ action: ReconnectingWatcher.Action) {
        guard !closing else { return }
        guard !down else { return parked.append { self.perform(c, action) } }
        switch action {
        case .list:
            list(c, initial: true)
        case .relist(let delay):
            after(delay) {
                self.clients[c].countRelist()
                self.list(c, initial: false)
            }
        case .watch(let version, let timeout):
            let path = "/api/v1/namespaces/\(workload.namespace)/pods?watch=true&resourceVersion=\(version)&timeoutSeconds=\(timeout)"
                + (bookmarks ? "&allowWatchBookmarks=true" : "") + selectorQuery(c)
            if counting { estimatedInitEvents.append(Double(writesAfter(version.rawValue))) }
            let index = c / streamsPerConnection
            lineBuffers[c].removeAll(keepingCapacity: true)
            let id = watchConnections[index].request("GET", path, handler: .init(
                onStatus: { _ in if self.storming { self.answeredSinceStorm += 1 } },
                onData: { chunk in self.received(c, chunk) },
                onClose: { _ in
                    self.streams[c] = nil
                    self.perform(c, self.clients[c].streamEnded(using: &self.rng))
                }))
            streams[c] = id > 0 ? (index, id) : nil
        }
    }

    /// Splits a watch stream's bytes into event lines and hands each to the client.
    private func received(_ c: Int, _ chunk: UnsafeRawBufferPointer) {
        if counting { watchBytes += Double(chunk.count) }
        var start = 0
        for (i, byte) in chunk.enumerated() where byte == UInt8(ascii: "\n") {
            if lineBuffers[c].isEmpty {
                handleLine(c, Array(chunk[start..<i])[...])
            } else {
                lineBuffers[c].append(contentsOf: chunk[start..<i])
                handleLine(c, lineBuffers[c][...])
                lineBuffers[c].removeAll(keepingCapacity: true)
            }
            start = i + 1
        }
        if start < chunk.count { lineBuffers[c].append(contentsOf: chunk[start...]) }
    }

    private func handleLine(_ c: Int, _ line: ArraySlice<UInt8>) {
        // {"type":"ADDED","object":{… "resourceVersion":"N" …}}: the first resourceVersion is the object's.
        let type: EventType
        if Self.hasPrefix(line, "{\"type\":\"BOOKMARK\"") {
            type = .bookmark
        } else if Self.hasPrefix(line, "{\"type\":\"ERROR\"") {
            let code = (try? JSONParser.parse(Array(line)))?["object"]?["code"]?.fieldText.flatMap { Int($0) }
            clients[c].receive(.error, version: .zero, code: code)
            return
        } else if Self.hasPrefix(line, "{\"type\":\"DELETED\"") {
            type = .deleted
        } else if Self.hasPrefix(line, "{\"type\":\"ADDED\"") {
            type = .added
        } else {
            type = .modified
        }
        if let rv = Self.firstResourceVersion(line) { clients[c].receive(type, version: rv) }
    }

    private static func hasPrefix(_ line: ArraySlice<UInt8>, _ prefix: StaticString) -> Bool {
        guard line.count >= prefix.utf8CodeUnitCount else { return false }
        return prefix.withUTF8Buffer { p in zip(p, line).allSatisfy { $0 == $1 } }
    }

    private static let versionKey = Array("\"resourceVersion\":\"".utf8)

    /// The first `"resourceVersion":"N"` in a JSON text (a list's own comes before its items').
    static func firstResourceVersion(_ text: ArraySlice<UInt8>) -> ResourceVersion? {
        let key = versionKey
        var i = text.startIndex
        while i + key.count <= text.endIndex {
            if text[i] == key[0], text[i..<(i + key.count)].elementsEqual(key) {
                var value: UInt64 = 0
                var j = i + key.count
                while j < text.endIndex, text[j] >= UInt8(ascii: "0"), text[j] <= UInt8(ascii: "9") {
                    value = value * 10 + UInt64(text[j] - UInt8(ascii: "0"))
                    j += 1
                }
                return ResourceVersion(value)
            }
            i += 1
        }
        return nil
    }
}
