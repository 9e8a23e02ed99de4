import Foundation
import Synchronization
import Testing
import WatchCache
import WatchCacheBench
import WatchCacheEtcd

/// `watchcache serve --etcd-servers` processes over a real etcd, driven by curl and the Python
/// client: the REST and watch behaviour the SQLite server has, replicas that serve the same
/// versions, and faults — a replica killed with SIGKILL, etcd's leader killed, a member that
/// stops answering — after which watchers resume from their last version with every change
/// exactly once and no relist.
@Suite(.serialized) struct EtcdEndToEndTests {
    static let root = EtcdCluster.root
    static var executable: String { root.appendingPathComponent(".build/debug/watchcache").path }

    /// A replica on a free port over `servers` (1 s bookmarks, a window of `window` events), once
    /// its caches have listed etcd (`/readyz`).
    static func replica(_ servers: String, window: Int = 4) async throws -> ServerProcess {
        try await offPool {
            let server = try ServerProcess(executable: executable, arguments: ["--etcd-servers", servers, "--bookmark-interval", "1",
                                                                               "--window-min-events", String(window), "--window-max-events", String(window)])
            try server.waitUntilReady()
            return server
        }
    }


    /// Runs a program on a Dispatch thread (never blocking the concurrency pool) and returns its output.
    @discardableResult
    static func run(_ tool: String, _ arguments: [String]) async throws -> String {
        try await offPool {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = arguments
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return String(decoding: data, as: UTF8.self)
        }
    }

    @discardableResult
    static func curl(_ arguments: [String]) async throws -> String {
        try await run("/usr/bin/curl", ["-s", "--max-time", "15"] + arguments)
    }

    static func create(_ base: String, _ resource: String, _ name: String) async throws -> JSONObject {
        try JSONObject(parsing: try await curl(["-X", "POST", "-H", "Content-Type: application/json", "--data",
                                                "{\"metadata\":{\"name\":\"\(name)\"},\"data\":{\"v\":\"1\"}}",
                                                "\(base)/api/v1/namespaces/default/\(resource)"]))
    }

    static func version(_ object: JSONObject) -> UInt64 {
        UInt64(object["metadata"]?["resourceVersion"]?.stringValue ?? "") ?? 0
    }

    /// A watch (curl -N) writing its events to a file until it ends or is stopped.
    final class Watch: Sendable {
        let path: String
        let pid: Int32

        init(_ url: String, flags: [String] = []) throws {
            path = NSTemporaryDirectory() + "etcd-e2e-watch-\(UUID().uuidString)"
            let pidText = try EtcdCluster.run("/bin/sh", ["-c", "curl -sN \(flags.joined(separator: " ")) '\(url)' > \(path) 2>/dev/null & echo $!"])
            pid = Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        }

        /// The events received so far: (type, name, resourceVersion).
        var events: [(String, String, UInt64)] {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { line in
                guard let event = try? JSONObject(parsing: String(line)), let type = event["type"]?.stringValue else { return nil }
                let metadata = event["object"]?["metadata"]
                return (type, metadata?["name"]?.stringValue ?? "", UInt64(metadata?["resourceVersion"]?.stringValue ?? "") ?? 0)
            }
        }

        var changes: [(String, String, UInt64)] { events.filter { $0.0 != "BOOKMARK" } }

        var isRunning: Bool { kill(pid, 0) == 0 && !isZombie }

        private var isZombie: Bool {
            ((try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? "").contains(") Z ")
        }

        /// Waits until `done` holds for the events (at most `seconds`).
        func wait(seconds: Double = 15, until done: ([(String, String, UInt64)]) -> Bool) async -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if done(events) { return true }
                try? await Task.sleep(for: .milliseconds(50))
            }
            return done(events)
        }

        func stop() {
            kill(pid, SIGTERM)
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    static func metric(_ base: String, _ name: String) async throws -> Int? {
        let page = try await curl(["\(base)/metrics"])
        return page.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Int($0.split(separator: " ").last!) }
    }

    static let http1: [String] = ["--http1.1"]
    static let h2c: [String] = ["--http2-prior-knowledge"]

    @Test(arguments: [http1, h2c])
    func restAndWatchAsOnTheEmbeddedStorage(protocolFlags: [String]) async throws {
        let cluster = try EtcdCluster()
        defer { cluster.stop() }
        let server = try await Self.replica(cluster.servers)
        defer { server.stop() }
        let base = "http://127.0.0.1:\(server.port)"
        let created = try JSONObject(parsing: try await Self.curl(protocolFlags + ["-X", "POST", "-H", "Content-Type: application/json",
            "--data", #"{"metadata":{"name":"web-0","labels":{"app":"web"}},"spec":{"nodeName":"node-1","containers":[{"name":"c","image":"nginx"}]}}"#,
            "\(base)/api/v1/namespaces/default/pods"]))
        #expect(created["kind"] == .string("Pod"))
        let v1 = Self.version(created)
        #expect(v1 > 1)
        let list = try JSONObject(parsing: try await Self.curl(protocolFlags + ["\(base)/api/v1/pods?labelSelector=app%3Dweb"]))
        #expect(list["kind"] == .string("PodList"))
        #expect(list["items"]?.arrayValue?.count == 1)
        #expect(UInt64(list["metadata"]?["resourceVersion"]?.stringValue ?? "") ?? 0 >= v1)
        let missing = try JSONObject(parsing: try await Self.curl(protocolFlags + ["\(base)/api/v1/namespaces/default/pods/missing"]))
        #expect(missing["code"] == .number("404") && missing["message"] == .string(#"pods "missing" not found"#))
        let conflict = try JSONObject(parsing: try await Self.curl(protocolFlags + ["-X", "PUT", "-H", "Content-Type: application/json",
            "--data", #"{"metadata":{"name":"web-0","resourceVersion":"1"},"spec":{"containers":[{"name":"c","image":"nginx"}]}}"#,
            "\(base)/api/v1/namespaces/default/pods/web-0"]))
        #expect(conflict["code"] == .number("409") && conflict["reason"] == .string("Conflict"))

        // A watch from the pod's version with bookmarks: the label change, then bookmarks.
        let watch = try Watch("\(base)/api/v1/namespaces/default/pods?watch=true&resourceVersion=\(v1)&allowWatchBookmarks=true&timeoutSeconds=20",
                              flags: protocolFlags)
        defer { watch.stop() }
        let patched = try JSONObject(parsing: try await Self.curl(protocolFlags + ["-X", "PATCH", "-H", "Content-Type: application/merge-patch+json",
            "--data", #"{"metadata":{"labels":{"app":"db"}}}"#, "\(base)/api/v1/namespaces/default/pods/web-0"]))
        #expect(patched["metadata"]?["labels"]?["app"] == .string("db"))
        #expect(await watch.wait { $0.contains { $0.0 == "MODIFIED" && $0.2 == Self.version(patched) } })
        // Writes elsewhere move a quiet resource's bookmarks on (etcd's progress notifications).
        let other = try await Self.create(base, "configmaps", "elsewhere")
        #expect(await watch.wait(seconds: 15) { $0.contains { $0.0 == "BOOKMARK" && $0.2 >= Self.version(other) } })

        // 410 for a version the window (4 events) no longer holds, as an ERROR event in a 200.
        for i in 0..<6 { _ = try await Self.create(base, "configmaps", "c\(i)") }
        let expired = try await Self.curl(protocolFlags + ["-i", "\(base)/api/v1/configmaps?watch=true&resourceVersion=\(Self.version(other))"])
        #expect(expired.hasPrefix("HTTP/1.1 200") || expired.hasPrefix("HTTP/2 200"))
        #expect(expired.contains(#""reason":"Expired","code":410"#) && expired.contains("too old resource version: \(Self.version(other))"))

        let deleted = try JSONObject(parsing: try await Self.curl(protocolFlags + ["-X", "DELETE", "\(base)/api/v1/namespaces/default/configmaps/c0"]))
        #expect(deleted["metadata"]?["name"] == .string("c0"))
        let gone = try await Self.curl(protocolFlags + ["-o", "/dev/null", "-w", "%{http_code}", "\(base)/api/v1/namespaces/default/configmaps/c0"])
        #expect(gone == "404")
        #expect(try await Self.metric(base, "watchcache_storage_relists_total") == 0)
    }

    @Test func kubernetesPythonClient() async throws {
        let python = Self.root.path + "/.build-python/bin/python"
        try #require(FileManager.default.isExecutableFile(atPath: python), "run scripts/install-python-client.sh first")
        let cluster = try EtcdCluster()
        defer { cluster.stop() }
        let server = try await Self.replica(cluster.servers)
        defer { server.stop() }
        let output = try await Self.run(python, [Self.root.path + "/Tests/clients/python_client_check.py", "http://127.0.0.1:\(server.port)"])
        let result = try JSONObject(parsing: output.split(separator: "\n").last.map(String.init) ?? "")
        #expect(result["list"] == .array([.string("py-0")]))
        guard case .array(let events)? = result["watch"] else { Issue.record("no watch events: \(output)"); return }
        // (No bookmark is required here: in its 5 s watch the pods' version moves only if one of
        // etcd's progress notifications, every 5 s, falls inside it.)
        #expect(events.first == .array([.string("ADDED"), .string("py-1")]))
        #expect(result["expired"]?["status"] == .number("410"))
        #expect(result["expired"]?["reason"]?.stringValue?.hasPrefix("Expired: too old resource version: ") == true)
    }

    /// Creates a config map through `base`, retrying while the replica or etcd cannot take it
    /// (503, 504, no answer); a create that did land before its answer was lost is found by GET.
    /// Returns the object's version once acknowledged.
    static func createRetrying(_ base: String, _ name: String, seconds: Double = 60) async throws -> UInt64 {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let object = try? await create(base, "configmaps", name) {
                if version(object) > 0 { return version(object) }
                if object["reason"] == .string("AlreadyExists"),
                   let existing = try? JSONObject(parsing: try await curl(["\(base)/api/v1/namespaces/default/configmaps/\(name)"])),
                   version(existing) > 0 {
                    return version(existing)
                }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw EtcdError.configuration("\(name) was not acknowledged within \(seconds) s")
    }

    static func names(_ events: [(String, String, UInt64)]) -> [String] { events.map(\.1) }

    @Test func replicasServeOneSequenceAndWatchersOfAKilledReplicaResumeElsewhere() async throws {
        let cluster = try EtcdCluster()
        defer { cluster.stop() }
        var replicas: [ServerProcess] = []
        for _ in 0..<3 { replicas.append(try await Self.replica(cluster.servers, window: 1_000)) }
        defer { for r in replicas { r.stop() } }
        let bases = replicas.map { "http://127.0.0.1:\($0.port)" }
        let start = Self.version(try await Self.create(bases[0], "configmaps", "start"))

        // Writes through every replica reach watchers of every replica: same order, same versions.
        let watchers = try bases.map { try Watch("\($0)/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=\(start)") }
        defer { for w in watchers { w.stop() } }
        var acknowledged: [(String, String, UInt64)] = []
        for i in 0..<30 {
            let object = try await Self.create(bases[i % 3], "configmaps", "w\(i)")
            acknowledged.append(("ADDED", "w\(i)", Self.version(object)))
        }
        for w in watchers {
            #expect(await w.wait { $0.count >= 30 })
            #expect(w.changes.map(\.2) == acknowledged.map(\.2))
            #expect(Self.names(w.changes) == Self.names(acknowledged))
        }

        // Clients watching replica 0 while writes go on; replica 0 is killed; each client resumes on
        // replica 1 from the last version it saw.
        let from = acknowledged.last!.2
        let onVictim = try (0..<4).map { _ in try Watch("\(bases[0])/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=\(from)") }
        defer { for w in onVictim { w.stop() } }
        var later: [(String, String, UInt64)] = []
        for i in 0..<10 { later.append(("ADDED", "k\(i)", try await Self.createRetrying(bases[1 + i % 2], "k\(i)"))) }
        for w in onVictim { #expect(await w.wait { $0.count >= 10 }) }
        let killed = ContinuousClock.now
        replicas[0].crash()
        for i in 10..<20 { later.append(("ADDED", "k\(i)", try await Self.createRetrying(bases[1 + i % 2], "k\(i)"))) }
        var resumed: [Watch] = []
        defer { for w in resumed { w.stop() } }
        for w in onVictim {
            #expect(await w.wait(seconds: 5) { _ in !w.isRunning })  // the stream ended with the process
            let last = w.changes.last?.2 ?? from
            resumed.append(try Watch("\(bases[1])/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=\(last)"))
        }
        for (before, after) in zip(onVictim, resumed) {
            #expect(await after.wait { before.changes.count + $0.count >= 20 })
        }
        let caughtUp = ContinuousClock.now - killed
        for (before, after) in zip(onVictim, resumed) {
            let seen = before.changes + after.changes
            #expect(seen.map(\.2) == later.map(\.2), "every change exactly once, in order, across the failover")
            #expect(Self.names(seen) == Self.names(later))
        }
        print("failover: \(onVictim.count) watchers of the killed replica had every change \(caughtUp) after the kill (10 writes made meanwhile)")
        for base in bases.dropFirst() { #expect(try await Self.metric(base, "watchcache_storage_relists_total") == 0) }
    }

    /// The member whose id is the leader's, from `etcdctl endpoint status`.
    static func leader(of cluster: EtcdCluster) throws -> Int {
        for n in 1...3 {
            let status = try JSONParser.parse(cluster.etcdctlOne(member: n, ["endpoint", "status", "-w", "json"]))
            guard case .array(let entries) = status, let first = entries.first?["Status"] else { continue }
            if let leader = first["leader"]?.fieldText, leader == first["header"]?["member_id"]?.fieldText { return n }
        }
        throw EtcdError.configuration("no etcd member says it leads")
    }

    @Test func etcdsLeaderKilledThenWritesAndWatchesResumeWithoutRelist() async throws {
        let cluster = try EtcdCluster(members: 3)
        defer { cluster.stop() }
        let server = try await Self.replica(cluster.servers)
        defer { server.stop() }
        let base = "http://127.0.0.1:\(server.port)"
        let start = Self.version(try await Self.create(base, "configmaps", "start"))
        let watch = try Watch("\(base)/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=\(start)")
        defer { watch.stop() }
        var acknowledged: [UInt64] = []
        for i in 0..<5 { acknowledged.append(try await Self.createRetrying(base, "a\(i)")) }
        let leader = try Self.leader(of: cluster)
        try cluster.kill(member: leader)
        let killed = ContinuousClock.now
        for i in 5..<15 { acknowledged.append(try await Self.createRetrying(base, "a\(i)")) }
        print("etcd leader n\(leader) killed: 10 writes acknowledged \(ContinuousClock.now - killed) later")
        #expect(await watch.wait { $0.count >= 15 })
        #expect(watch.changes.map(\.2) == acknowledged)
        #expect(try await Self.metric(base, "watchcache_storage_relists_total") == 0)
    }

    @Test func anEtcdMemberThatStopsAnsweringIsLeftForAnother() async throws {
        let cluster = try EtcdCluster(members: 3)
        defer { cluster.stop() }
        let server = try await Self.replica(cluster.servers)  // connects to n1 first
        defer { server.stop() }
        let base = "http://127.0.0.1:\(server.port)"
        let start = Self.version(try await Self.create(base, "configmaps", "start"))
        let watch = try Watch("\(base)/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=\(start)")
        defer { watch.stop() }
        try cluster.signal(member: 1, "STOP")
        defer { try? cluster.signal(member: 1, "CONT") }
        let stopped = ContinuousClock.now
        var acknowledged: [UInt64] = []
        for i in 0..<10 { acknowledged.append(try await Self.createRetrying(base, "u\(i)")) }
        print("etcd n1 stopped: 10 writes acknowledged \(ContinuousClock.now - stopped) later")
        #expect(await watch.wait(seconds: 30) { $0.count >= 10 })
        #expect(watch.changes.map(\.2) == acknowledged)
        try cluster.signal(member: 1, "CONT")
        acknowledged.append(try await Self.createRetrying(base, "after"))
        #expect(await watch.wait { $0.count >= 11 })
        #expect(watch.changes.map(\.2) == acknowledged)
        #expect(try await Self.metric(base, "watchcache_storage_relists_total") == 0)
    }

    /// Bad etcd flags: one line on standard error naming the flag, and a non-zero exit.
    @Test func badEtcdFlagsAreRefusedWithAOneLineError() throws {
        let cases: [([String], String)] = [
            (["--etcd-servers", "nonsense"], "--etcd-servers: nonsense is not a URL"),
            (["--etcd-servers", "http://127.0.0.1:2379,https://127.0.0.1:2380"], "mixes http and https"),
            (["--etcd-servers", "http://127.0.0.1:2379", "--etcd-compaction-interval", "soon"], "--etcd-compaction-interval soon"),
            (["--etcd-servers", "http://127.0.0.1:2379", "--etcd-cafile", "/ca.pem"], "need https:// URLs"),
            (["--etcd-servers", "https://127.0.0.1:2379", "--etcd-cafile", "/no/such/ca.pem"], "--etcd-cafile /no/such/ca.pem: no such readable file"),
            (["--etcd-servers", "https://127.0.0.1:2379", "--etcd-certfile", "/c.pem"], "--etcd-certfile and --etcd-keyfile go together"),
            (["--etcd-servers", "http://127.0.0.1:2379", "--in-memory"], "--in-memory and --etcd-servers exclude each other"),
        ]
        for (arguments, message) in cases {
            do {
                try LocalEtcd.run(Self.executable, ["serve", "--port", "1"] + arguments)  // refused before it listens
                Issue.record("watchcache serve \(arguments) started")
            } catch {
                #expect("\(error)".contains("Error: ") && "\(error)".contains(message), "\(arguments): \(error)")
            }
        }
    }

    /// `bench guarantees` for a few seconds on two replicas over one etcd: random writes through
    /// either, watchers moving between them, replicas killed and restarted; every stream checked.
    @Test func watchGuaranteesHoldAcrossReplicaKills() async throws {
        let cluster = try EtcdCluster()
        defer { cluster.stop() }
        var p = GuaranteesRun.Parameters()
        p.seconds = 12
        p.faultEvery = 0.5...1.5
        let run = GuaranteesRun(parameters: p, storage: .etcd(servers: cluster.servers, replicas: 2), executable: Self.executable)
        let report = try await run.run()
        #expect(report.violations.isEmpty, "\(report.violations.prefix(10)); objects with writes of unknown outcome: \(report.objectsWithUnknownWrites)")
        // The history was etcd's own, not inferred: it holds at least every acknowledged write.
        #expect(report.changesFromEtcd >= report.writesAcknowledged && report.changesFromEtcd > 0, "\(report.changesFromEtcd) changes read from etcd")
        #expect(report.writesAcknowledged > 30, "writes acknowledged: \(report.writesAcknowledged)")
        #expect(report.kills + report.terminations >= 2)
        #expect(report.eventsChecked > 50)
    }
}
