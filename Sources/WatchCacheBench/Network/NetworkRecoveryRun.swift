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
public final class NetworkRecoveryRun: @unchecked Sendable {  // confined to `loop`
    public let parameters: RecoveryParameters
    public let bookmarks: Bool
    public let host: String
    public let port: Int
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
    private let workload: PodWorkload
    private var revisions: [Int] = []

    private var counting = false
    private var stopping = false
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

    public init(parameters: RecoveryParameters, bookmarks: Bool, host: String = "127.0.0.1", port: Int) {
        self.parameters = parameters
        self.bookmarks = bookmarks
        self.host = host
        self.port = port
        workload = PodWorkload(watchers: parameters.watchers, objectsPerWatcher: parameters.objectsPerWatcher)
    }

    /// Runs the point; the server should hold nothing of the workload yet (objects already there are reused).
    public func run() async throws -> RecoveryMeasurement {
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
        let clientFigures = try await loop.submit { () -> (Int, Int, Int, Int, Double, Double, Int, Int) in
            self.counting = false
            self.stopping = true  // no more writes
            return (self.clients.reduce(0) { $0 + $1.expiredCount }, self.clients.reduce(0) { $0 + $1.relists },
                    self.clients.reduce(0) { $0 + $1.bookmarks }, self.clients.reduce(0) { $0 + $1.watchStarts },
                    self.watchBytes, self.relistBytes, self.writes, self.failures)
        }.get()

        // The reconnect storm: every stream is cancelled and re-opened at once from its last version;
        // caught up once the server has recorded that many watch starts as caught up.
        let stormBefore = try await scrape()
        let stormStart = CPUTime.wall()
        let reopened = try await loop.submit { () -> Int in
            var n = 0
            for c in self.streams.indices {
                guard let s = self.streams[c] else { continue }
                self.watchConnections[s.connection].cancel(s.id)  // onClose re-watches from the last version
                n += 1
            }
            return n
        }.get()
        var stormAfter = stormBefore
        while stormAfter.initCount - stormBefore.initCount < Double(reopened), CPUTime.wall() - stormStart < 120 {
            try await Task.sleep(for: .milliseconds(10))
            stormAfter = try await scrape()
        }
        let stormSeconds = CPUTime.wall() - stormStart
        try await loop.submit {
            for c in self.watchConnections { c.flush() }
        }.get()

        let distribution = after.initEventsPerWatch(since: before)
        var measurement = RecoveryMeasurement(
            parameters: p, bookmarks: bookmarks, mode: "network",
            reconnects: distribution.count,
            initEventsPerReconnect: distribution,
            initEventsTotal: after.initEventsTotal - before.initEventsTotal,
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
        return measurement
    }

    /// Closes the connections and the client's event loop.
    public func close() async {
        _ = try? await loop.submit { self.stopping = true }.get()
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
        let (connection, channel) = try await HTTP2ClientConnection.connect(host: host, port: port, on: loop)
        channels.append(channel)
        return connection
    }

    private func scrape() async throws -> ServerMetrics {
        try await writer.scrapeMetrics(on: loop)
    }

    /// Creates the pods, 256 requests at a time; pods that exist already are kept.
    private func populate() async throws {
        let total = workload.objects
        try await loop.submit { self.revisions = Array(repeating: 0, count: total) }.get()
        let workload = self.workload
        let writer = self.writer!
        try await HTTP2ClientConnection.createPods(count: total, on: loop, connection: { _ in writer }) { i in
            JSONWriter.encode(.object(workload.pod(i, revision: 0)))
        }
    }

    private func after(_ seconds: Double, _ body: @escaping () -> Void) {
        let bound = NIOLoopBound(body, eventLoop: loop)
        loop.scheduleTask(in: .nanoseconds(Int64(max(0, seconds) * 1e9))) { bound.value() }
    }

    private func sleep(_ seconds: Double, total: Double, done: Double) async throws {
        let start = CPUTime.wall()
        while CPUTime.wall() - start < seconds {
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
            self.writer.fetch("PUT", "/api/v1/namespaces/\(PodWorkload.namespace)/pods/\(self.workload.name(i))/status", body: body) { status, _ in
                self.writesInFlight -= 1
                if status == 200 {
                    if self.counting { self.writes += 1 }
                } else if !self.down {
                    self.failures += 1
                }
            }
        }
    }

    // MARK: - Watchers

    private func selectorQuery(_ c: Int) -> String {
        PodWorkload.fieldSelector(node: clients[c].node).map { "&fieldSelector=" + $0.replacingOccurrences(of: "=", with: "%3D") } ?? ""
    }

    private func list(_ c: Int, initial: Bool) {
        guard !down else { return parked.append { self.list(c, initial: initial) } }
        let version = initial ? "0" : "\(clients[c].lastVersion)&resourceVersionMatch=NotOlderThan"
        let path = "/api/v1/namespaces/\(PodWorkload.namespace)/pods?resourceVersion=\(version)\(selectorQuery(c))"
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
            let path = "/api/v1/namespaces/\(PodWorkload.namespace)/pods?watch=true&resourceVersion=\(version)&timeoutSeconds=\(timeout)"
                + (bookmarks ? "&allowWatchBookmarks=true" : "") + selectorQuery(c)
            let index = c / streamsPerConnection
            lineBuffers[c].removeAll(keepingCapacity: true)
            let id = watchConnections[index].request("GET", path, handler: .init(
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
