import Foundation
import Synchronization
import WatchCache

/// `watchcache bench guarantees`: the watch guarantees under faults, checked like etcd's
/// robustness tests. Real `watchcache serve` processes — one on SQLite, or replicas over etcd —
/// take random creates, updates and deletes of labelled config maps from several writers, while
/// watchers with random label selectors, start versions and reading speeds follow them (resuming
/// from their last version whenever a stream ends, relisting after a 410); servers are killed
/// (SIGKILL) or stopped (SIGTERM) at random moments and started again. Everything is recorded, then
/// every stream is checked against the history (``WatchHistory``), and watches started afterwards
/// from delivered versions must get exactly the rest. Clients are curl processes: nothing of the
/// server's own code is on the client side.
public final class GuaranteesRun: @unchecked Sendable {  // mutable state behind `lock`
    public struct Parameters: Sendable {
        public var seconds = 20.0
        public var writers = 3
        public var watchers = 6
        /// Object names the writers draw from (fewer names: more updates and deletes of the same objects).
        public var names = 12
        /// Seconds between faults, drawn uniformly.
        public var faultEvery = 1.5...4.0
        /// Watches started afterwards from delivered versions.
        public var resumeProbes = 12
        public init() {}
    }

    public enum Storage: Sendable {
        /// One server on a data directory (made and removed by the run).
        case sqlite
        /// `replicas` servers over etcd at `servers` (each run uses a key prefix of its own).
        case etcd(servers: String, replicas: Int)
    }

    public struct Report: Sendable {
        public var storage = ""
        public var seconds = 0.0
        public var writesAcknowledged = 0
        /// Writes whose outcome the writer never learnt (the server died under them).
        public var writesUnknown = 0
        /// The objects those writes were to. On SQLite the history knows such a write only if a
        /// stream saw it, so a violation on one of them may be the checker's blind spot rather than
        /// the server's; over etcd the history is read from etcd (``changesFromEtcd``) and has none.
        public var objectsWithUnknownWrites: [String] = []
        /// Changes read from etcd's own history (0 on SQLite): the truth the rest was checked against.
        public var changesFromEtcd = 0
        public var changes = 0
        public var watchers = 0
        public var eventsChecked = 0
        public var bookmarksChecked = 0
        public var watchRequests = 0
        public var relists = 0
        public var kills = 0
        public var terminations = 0
        public var resumeProbes = 0
        public var violations: [WatchHistory.Violation] = []
    }

    public let parameters: Parameters
    public let storage: Storage
    let executable: String
    private let lock = NSLock()
    private var servers: [ServerSlot] = []
    private var acknowledged: [WatchHistory.Change] = []
    private var unknown = 0
    private var unknownNames: Set<String> = []
    private var streams: [WatchHistory.Stream] = []
    private var relists = 0
    private var watchRequests = 0
    private var stopping = false
    private let resource = "api/v1/namespaces/default/configmaps"
    /// The key prefix of the run's servers over etcd.
    private var etcdPrefix: String?

    public init(parameters: Parameters, storage: Storage, executable: String) {
        self.parameters = parameters
        self.storage = storage
        self.executable = executable
    }

    /// A server's port and the arguments it is started with again after each fault.
    final class ServerSlot: @unchecked Sendable {  // `process` changes only on the fault thread
        let port: Int
        let arguments: [String]
        let executable: String
        var process: ServerProcess?

        init(executable: String, arguments: [String]) throws {
            self.executable = executable
            self.arguments = arguments
            let first = try ServerProcess(executable: executable, arguments: arguments)
            port = first.port
            process = first
        }

        var base: String { "http://127.0.0.1:\(port)" }

        func restart() throws {
            process = try ServerProcess(executable: executable, arguments: arguments, port: port)
        }
    }

    // MARK: - The run

    public func run(progress: @escaping @Sendable (Double, String) -> Void = { _, _ in }) async throws -> Report {
        let p = parameters
        let data = NSTemporaryDirectory() + "watchcache-guarantees-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: data) }
        // Bookmarks every second, a small window (so old start versions and slow readers meet 410s
        // and relists), a short request timeout for the watches that set none.
        let common = ["--bookmark-interval", "1", "--window-min-events", "20", "--window-max-events", "200", "--window-seconds", "5"]
        switch storage {
        case .sqlite:
            servers = [try ServerSlot(executable: executable, arguments: ["--data-dir", data, "--history", "400"] + common)]
        case .etcd(let urls, let replicas):
            let prefix = "/watchcache-guarantees-\(UUID().uuidString.prefix(8))"
            etcdPrefix = prefix
            servers = try (0..<replicas).map { _ in
                try ServerSlot(executable: executable, arguments: ["--etcd-servers", urls, "--etcd-prefix", prefix, "--etcd-compaction-interval", "0"] + common)
            }
        }
        defer { for slot in servers { slot.process?.stop() } }
        for slot in servers { try slot.process?.waitUntilReady() }

        let start = Date()
        let group = DispatchGroup()
        for w in 0..<p.writers { Self.thread(group) { self.writer(w) } }
        // Let some history exist before the watchers pick start versions from it.
        while acknowledgedCount < 5, Date().timeIntervalSince(start) < 30 { try await Task.sleep(for: .milliseconds(50)) }
        let selectors: [String?] = [nil, "group=a", "group!=b", "group in (a,c)", "group", "!group"]
        for w in 0..<p.watchers {
            let selector = w == 0 ? nil : selectors[Int.random(in: 0..<selectors.count)]
            Self.thread(group) { self.watcher("watcher-\(w)", selector: selector, slow: w % 3 == 2, late: w % 3 == 1) }
        }
        // The run's length counts from here (a loaded machine may take a while to get this far).
        let running = Date()
        var kills = 0, terminations = 0
        var nextFault = Date().addingTimeInterval(Double.random(in: p.faultEvery))
        while Date().timeIntervalSince(running) < p.seconds {
            progress(Date().timeIntervalSince(running) / p.seconds, "writing, watching, killing")
            if Date() >= nextFault {
                let slot = servers[Int.random(in: 0..<servers.count)]
                let hard = Bool.random()
                // Counted when dealt: on a loaded machine the restart after it may take seconds.
                if hard { kills += 1 } else { terminations += 1 }
                try await offPool {
                    if hard { slot.process?.crash() } else { slot.process?.stop() }
                    Thread.sleep(forTimeInterval: Double.random(in: 0.1...0.8))
                    try slot.restart()
                }
                nextFault = Date().addingTimeInterval(Double.random(in: p.faultEvery))
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        progress(1, "letting the last streams end")
        lock.withLock { stopping = true }
        try await offPool { group.wait() }
        for slot in servers { try slot.process?.waitUntilReady() }

        var history = WatchHistory()
        var report = Report()
        let (acks, recorded, unknownWrites, relisted, requests) = lock.withLock { (acknowledged, streams, unknown, relists, watchRequests) }
        // Over etcd the truth is at hand (every revision is kept): the acknowledgements and the
        // streams are checked against it, and writes whose acknowledgement was lost are known.
        if case .etcd(let urls, _) = storage, let etcdPrefix,
           let truth = try await offPool({ EtcdHistoryReader.changes(endpoints: urls, prefix: etcdPrefix + "/configmaps/default/") }) {
            for change in truth { history.record(change, source: "etcd") }
            report.changesFromEtcd = truth.count
        }
        for change in acks { history.record(change, source: "an acknowledgement") }
        history.record(recorded)
        for stream in recorded {
            history.check(stream)
            for segment in stream.segments {
                for item in segment.items {
                    if case .event = item { report.eventsChecked += 1 } else { report.bookmarksChecked += 1 }
                }
            }
        }
        // Resumable: watches from delivered versions get exactly the rest. From recent ones: an old
        // one is past the window and history, and gets its (right) 410.
        let delivered = Array(Set(recorded.flatMap { $0.segments.flatMap { $0.items.compactMap { if case .event(_, let c) = $0 { c.version } else { nil } } } })).sorted().suffix(150)
        for i in 0..<min(p.resumeProbes, delivered.count) {
            let from = delivered.randomElement()!
            let selector = selectors.randomElement()!
            let base = servers[i % servers.count].base
            let result = try await offPool { self.readWatch(base: base, from: from, selector: selector, timeout: 2, slow: false) }
            if result.expired || !result.answered { continue }  // older than the window now: 410 is the right answer
            history.checkResumed(from: from, selector: selector, received: result.items, name: "probe-\(i)")
            report.resumeProbes += 1
        }
        report.storage = {
            switch storage {
            case .sqlite: "SQLite, 1 server"
            case .etcd(_, let replicas): "etcd, \(replicas) replicas"
            }
        }()
        report.seconds = Date().timeIntervalSince(start)
        report.writesAcknowledged = acks.count
        report.writesUnknown = unknownWrites
        report.objectsWithUnknownWrites = lock.withLock { unknownNames.sorted() }
        report.changes = history.changes.count
        report.watchers = recorded.count
        report.watchRequests = requests
        report.relists = relisted
        report.kills = kills
        report.terminations = terminations
        report.violations = history.violations
        return report
    }

    private var acknowledgedCount: Int { lock.withLock { acknowledged.count } }
    private var isStopping: Bool { lock.withLock { stopping } }

    private func liveBase() -> String {
        servers[Int.random(in: 0..<servers.count)].base
    }

    // MARK: - Writers

    private func writer(_ index: Int) {
        let groups = ["a", "b", "c"]
        while !isStopping {
            let name = "o\(Int.random(in: 0..<parameters.names))"
            let labels = Int.random(in: 0..<4) == 0 ? "{}" : "{\"group\":\"\(groups.randomElement()!)\"}"
            let body = "{\"metadata\":{\"name\":\"\(name)\",\"labels\":\(labels)},\"data\":{\"writer\":\"\(index)\"}}"
            let base = liveBase()
            let (method, url): (String, String) = switch Int.random(in: 0..<3) {
            case 0: ("POST", "\(base)/\(resource)")
            case 1: ("PUT", "\(base)/\(resource)/\(name)")
            default: ("DELETE", "\(base)/\(resource)/\(name)")
            }
            var arguments = ["-s", "--max-time", "5", "-X", method, "-w", "\n%{http_code}"]
            if method != "DELETE" { arguments += ["-H", "content-type: application/json", "--data", body] }
            guard let output = Self.curl(arguments + [url]) else {
                lock.withLock { unknown += 1; unknownNames.insert(name) }
                continue
            }
            let code = output.split(separator: "\n").last.map(String.init) ?? ""
            let text = output.split(separator: "\n").dropLast().joined(separator: "\n")
            if code == "000" || code.hasPrefix("5") {
                // No answer, or the server could not say: it may or may not have happened.
                lock.withLock { unknown += 1; unknownNames.insert(name) }
                Thread.sleep(forTimeInterval: 0.05)
                continue
            }
            guard code == "200" || code == "201", let object = try? JSONObject(parsing: text),
                  let change = Self.change(object, deleted: method == "DELETE") else { continue }
            lock.withLock { acknowledged.append(change) }
        }
    }

    static func change(_ object: JSONObject, deleted: Bool) -> WatchHistory.Change? {
        guard let metadata = object["metadata"]?.objectValue, let name = metadata["name"]?.stringValue,
              let version = metadata["resourceVersion"]?.stringValue.flatMap(UInt64.init) else { return nil }
        var labels: [String: String] = [:]
        for (key, value) in (metadata["labels"]?.objectValue ?? JSONObject()).members { labels[key] = value.stringValue }
        return WatchHistory.Change(version: version, name: name, labels: deleted ? nil : labels)
    }

    // MARK: - Watchers

    /// A watcher: `slow` ones read an event every 30 ms (the server's slow-watcher policy may end
    /// them), `late` ones wait up to 10 s before resuming (past the window: 410 and a relist).
    private func watcher(_ name: String, selector: String?, slow: Bool, late: Bool) {
        var stream = WatchHistory.Stream(name: name, selector: selector)
        // Start from a random acknowledged version (old ones may be past the window: 410, relist).
        var from = lock.withLock { acknowledged.randomElement()?.version ?? 1 }
        var relisted = false
        while !isStopping {
            let base = liveBase()
            lock.withLock { watchRequests += 1 }
            let result = readWatch(base: base, from: from, selector: selector, timeout: Int.random(in: 2...6), slow: slow)
            guard result.answered else {
                Thread.sleep(forTimeInterval: 0.1)  // the server is down or loading: try again
                continue
            }
            stream.segments.append(WatchHistory.Stream.Segment(from: from, relisted: relisted, items: result.items))
            relisted = false
            from = result.reached
            if late {
                let until = Date().addingTimeInterval(Double.random(in: 0...10))
                while Date() < until, !isStopping { Thread.sleep(forTimeInterval: 0.1) }
            }
            if result.expired {
                // 410: list again, and watch from the list's version.
                guard let version = list(base: base, selector: selector) else { Thread.sleep(forTimeInterval: 0.1); continue }
                from = version
                relisted = true
                lock.withLock { relists += 1 }
            }
        }
        lock.withLock { streams.append(stream) }
    }

    /// What one watch request received.
    struct WatchResult {
        var items: [WatchHistory.Stream.Item] = []
        /// It ended with a 410 ERROR event.
        var expired = false
        /// The newest version it reached (where it started if it received nothing).
        var reached: UInt64
        /// The server answered 200 (not down, not loading).
        var answered = false
    }

    /// Streams one watch from `from` until the server ends it (its timeout, a 410, a fault).
    func readWatch(base: String, from: UInt64, selector: String?, timeout: Int, slow: Bool) -> WatchResult {
        var result = WatchResult(reached: from)
        var query = "watch=1&allowWatchBookmarks=true&resourceVersion=\(from)&timeoutSeconds=\(timeout)"
        if let selector { query += "&labelSelector=" + (selector.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? selector) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-sN", "--max-time", String(timeout + 5), "-w", "\n%{http_code}\n", "\(base)/\(resource)?\(query)"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return result }
        var pending = Data()
        let handle = pipe.fileHandleForReading
        while true {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            pending.append(chunk)
            while let newline = pending.firstIndex(of: 0x0a) {
                let line = pending[pending.startIndex..<newline]
                pending.removeSubrange(pending.startIndex...newline)
                guard !line.isEmpty else { continue }
                guard let event = try? JSONObject(parsing: String(decoding: line, as: UTF8.self)) else {
                    result.answered = String(decoding: line, as: UTF8.self) == "200"  // curl's status line, last
                    continue
                }
                switch event["type"]?.stringValue {
                case "BOOKMARK":
                    if let version = event["object"]?["metadata"]?["resourceVersion"]?.stringValue.flatMap(UInt64.init) {
                        result.items.append(.bookmark(version))
                        result.reached = version
                    }
                case "ERROR":
                    if event["object"]?["code"] == .number("410") { result.expired = true }
                case let type?:
                    if let object = event["object"]?.objectValue, let change = Self.change(object, deleted: type == "DELETED") {
                        result.items.append(.event(type: type, change))
                        result.reached = change.version
                    }
                case nil: break
                }
                if slow { Thread.sleep(forTimeInterval: 0.03) }
            }
        }
        process.waitUntilExit()
        return result
    }

    /// The version of a LIST of the resource (the selector applied), nil if it failed.
    private func list(base: String, selector: String?) -> UInt64? {
        var url = "\(base)/\(resource)"
        if let selector { url += "?labelSelector=" + (selector.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? selector) }
        guard let output = Self.curl(["-s", "--max-time", "5", url]), let list = try? JSONObject(parsing: output) else { return nil }
        return list["metadata"]?["resourceVersion"]?.stringValue.flatMap(UInt64.init)
    }

    // MARK: - Support

    /// curl's standard output, nil if it could not run.
    static func curl(_ arguments: [String]) -> String? {
        commandOutput("/usr/bin/curl", arguments)
    }

    static func thread(_ group: DispatchGroup, _ body: @escaping @Sendable () -> Void) {
        group.enter()
        Thread.detachNewThread {
            body()
            group.leave()
        }
    }
}
