import Foundation
import Synchronization
import Testing
@testable import WatchCache
@testable import WatchCacheSQLite
import WatchCacheBench

/// The durable storage on its own and under a registry: what is kept, what comes back after a
/// restart, compaction, and the group-commit write path.
@Suite struct SQLiteStorageTests {
    /// A fresh data directory, removed when the test ends.
    final class DataDirectory {
        let path: String
        init() {
            path = NSTemporaryDirectory() + "watchcache-test-" + UUID().uuidString
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    static func pod(_ name: String, node: String = "n1", labels: [String: String] = [:]) -> JSONObject {
        var metadata = JSONObject([("name", .string(name)), ("namespace", .string("default"))])
        if !labels.isEmpty {
            metadata["labels"] = .object(JSONObject(labels.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.string($0.value)) }))
        }
        return JSONObject([("metadata", .object(metadata)), ("spec", .object(JSONObject([("nodeName", .string(node))])))])
    }

    /// Everything the watcher has now, once any read of the stored history it started is done.
    static func events(_ w: Watcher) -> (lines: [String], end: WatchEndReason?) {
        for _ in 0..<1000 {
            let loading = w.state.withLock { if case .loadingArchive = $0.phase { true } else { false } }
            if !loading { break }
            usleep(5_000)
        }
        var lines: [String] = []
        while true {
            let batch = w.next(maxEvents: 1000)
            for e in batch.events {
                switch e.type {
                case .bookmark: lines.append("BOOKMARK@\(e.resourceVersion)")
                case .error: lines.append("ERROR \(e.status!.code)")
                default: lines.append("\(e.type.rawValue) \(e.object!.name)@\(e.resourceVersion)")
                }
            }
            if let end = batch.end { return (lines, end) }
            if batch.isPending { return (lines, nil) }
        }
    }

    @Test func objectsVersionAndHistoryComeBackAfterARestart() throws {
        let dir = DataDirectory()
        do {
            let storage = try SQLiteStorage(directory: dir.path)
            let registry = try Registry(storage: storage)
            try registry.register(.pods)
            _ = try registry.create(Self.pod("a"), in: .pods)                       // 1
            _ = try registry.create(Self.pod("b"), in: .pods)                       // 2
            _ = try registry.update(Self.pod("a", node: "n2"), in: .pods)           // 3
            _ = try registry.delete(.pods, namespace: "default", name: "b")         // 4
            try storage.close()
        }
        let storage = try SQLiteStorage(directory: dir.path)
        defer { try? storage.close() }
        let recovered = try storage.recover(historyLimit: 100)
        #expect(recovered.version == ResourceVersion(4))
        #expect(recovered.objects[ResourceDescriptor.pods.description]?.count == 1)
        let history = try #require(recovered.history[ResourceDescriptor.pods.description])
        #expect(history.map(\.type) == [.added, .added, .modified, .deleted])
        #expect(history.map(\.version) == [1, 2, 3, 4].map { ResourceVersion($0) })
        // The modification's state before is the creation, in the same history: not read twice.
        #expect(history[2].previous == nil)
        // With the creation beyond the limit, the state before is read from it.
        let recent = try #require(try storage.recover(historyLimit: 2).history[ResourceDescriptor.pods.description])
        #expect(recent.map(\.version) == [3, 4].map { ResourceVersion($0) })
        let before = try KubeObject(bytes: try #require(recent[0].previous), resource: .pods)
        #expect(before.resourceVersion == ResourceVersion(1) && before.fieldValue("spec.nodeName") == "n1")

        // A registry on the reopened storage continues the versions and the objects.
        let registry = try Registry(storage: storage)
        let pods = try registry.register(.pods)
        #expect(registry.currentVersion == ResourceVersion(4))
        #expect(pods.get(namespace: "default", name: "a")?.fieldValue("spec.nodeName") == "n2")
        #expect(pods.get(namespace: "default", name: "b") == nil)
        let next = try registry.create(Self.pod("c"), in: .pods)
        #expect(next.resourceVersion == ResourceVersion(5))
    }

    @Test func aWatchResumesAcrossARestartWithoutExpiring() throws {
        let dir = DataDirectory()
        var resumeFrom = ResourceVersion.zero
        do {
            let storage = try SQLiteStorage(directory: dir.path)
            let registry = try Registry(storage: storage)
            try registry.register(.pods)
            resumeFrom = try registry.create(Self.pod("a", labels: ["app": "web"]), in: .pods).resourceVersion  // 1
            _ = try registry.create(Self.pod("b", labels: ["app": "web"]), in: .pods)                            // 2
            _ = try registry.update(Self.pod("a", labels: ["app": "db"]), in: .pods)                             // 3: leaves app=web
            try storage.close()
        }
        let storage = try SQLiteStorage(directory: dir.path)
        defer { try? storage.close() }
        let registry = try Registry(storage: storage)
        let pods = try registry.register(.pods)
        _ = try registry.delete(.pods, namespace: "default", name: "b")                                          // 4, after the restart

        // Exactly the changes after the version, across the restart; the selector transition
        // (a left app=web at 3) is a DELETED because the state before came back from disk too.
        let all = try pods.watch(WatchOptions(resourceVersion: resumeFrom.description)) {}
        #expect(Self.events(all).lines == ["ADDED b@2", "MODIFIED a@3", "DELETED b@4"])
        let web = try pods.watch(WatchOptions(resourceVersion: resumeFrom.description, labelSelector: "app=web")) {}
        #expect(Self.events(web).lines == ["ADDED b@2", "DELETED a@3", "DELETED b@4"])
        #expect(pods.statistics().watchesExpired == 0)
    }

    @Test func aWatcherUpToDateAtShutdownReplaysOnlyWhatChangedWhileItWasAway() throws {
        let dir = DataDirectory()
        var resumeFrom = ResourceVersion.zero
        do {
            let storage = try SQLiteStorage(directory: dir.path)
            let registry = try Registry(storage: storage)
            let pods = try registry.register(.pods)
            try registry.register(.configMaps)
            let w = try pods.watch(WatchOptions(resourceVersion: "0", allowWatchBookmarks: true, fieldSelector: "spec.nodeName=n1")) {}
            #expect(Self.events(w).lines.isEmpty)  // the (empty) initial state pulled: it is live
            for i in 1...20 { _ = try registry.create(Self.pod("p\(i)", node: "n\(i % 5)"), in: .pods) }  // 4 on n1
            _ = try registry.create(JSONObject([("metadata", .object(JSONObject([("name", .string("c"))])))]), in: .configMaps)
            registry.close()  // a graceful stop: the last bookmark carries the newest version, 21
            let (lines, end) = Self.events(w)
            #expect(lines.last == "BOOKMARK@21" && end == .cacheClosed)
            resumeFrom = ResourceVersion(21)
            try storage.close()
        }
        let storage = try SQLiteStorage(directory: dir.path)
        defer { try? storage.close() }
        let registry = try Registry(storage: storage)
        let pods = try registry.register(.pods)
        for i in 21...23 { _ = try registry.create(Self.pod("p\(i)", node: "n1"), in: .pods) }  // while it was away
        let before = pods.statistics().initEvents
        let w = try pods.watch(WatchOptions(resourceVersion: resumeFrom.description, allowWatchBookmarks: true,
                                            fieldSelector: "spec.nodeName=n1")) {}
        #expect(Self.events(w).lines == ["ADDED p21@22", "ADDED p22@23", "ADDED p23@24"])
        #expect(pods.statistics().initEvents - before == 3)
    }

    @Test func watchesOlderThanTheWindowReplayFromTheArchive() throws {
        let dir = DataDirectory()
        let storage = try SQLiteStorage(directory: dir.path)
        defer { try? storage.close() }
        let window = CacheConfiguration(history: HistoryWindow(minimumEvents: 4, maximumEvents: 4))
        let registry = try Registry(storage: storage, configuration: window)
        let pods = try registry.register(.pods)
        for i in 1...10 { _ = try registry.create(Self.pod("p\(i)"), in: .pods) }
        #expect(pods.statistics().windowEvents == 4)
        // Version 2 is six events behind the window: the archive serves 3...6, the log 7...10. The
        // archive is read off the caller's thread; a consumer that finds nothing yet is woken.
        let woken = DispatchSemaphore(value: 0)
        let w = try pods.watch(WatchOptions(resourceVersion: "2")) { woken.signal() }
        var first = w.next(maxEvents: 1000)
        if first.isPending {
            #expect(woken.wait(timeout: .now() + 5) == .success, "the archive read never woke the consumer")
            first = w.next(maxEvents: 1000)
        }
        let lines = first.events.map { "\($0.type.rawValue) \($0.object!.name)@\($0.resourceVersion)" } + Self.events(w).lines
        #expect(lines == (3...10).map { "ADDED p\($0)@\($0)" })
        _ = try registry.create(Self.pod("p11"), in: .pods)
        #expect(Self.events(w).lines == ["ADDED p11@11"])
        #expect(pods.statistics().archiveReplays == 1 && pods.statistics().watchesExpired == 0)
    }

    @Test func compactionKeepsTheRetentionAndTheStatesBeforeKeptEvents() throws {
        let dir = DataDirectory()
        let storage = try SQLiteStorage(directory: dir.path, retention: HistoryRetention(events: 5, seconds: nil),
                                        compactionInterval: .seconds(3600))
        defer { try? storage.close() }
        let registry = try Registry(storage: storage, configuration: CacheConfiguration(history: HistoryWindow(minimumEvents: 3, maximumEvents: 3)))
        let pods = try registry.register(.pods)
        _ = try registry.create(Self.pod("old"), in: .pods)                               // 1
        for i in 2...9 { _ = try registry.create(Self.pod("p\(i)"), in: .pods) }          // 2...9
        _ = try registry.update(Self.pod("old", node: "n2"), in: .pods)                   // 10: its state before is event 1
        #expect(try storage.compact() == 5)
        let stats = try storage.statistics()
        #expect(stats.historyEvents == 5 && stats.historyFloor == ResourceVersion(5))
        #expect(try storage.history(of: .pods, after: ResourceVersion(4), through: ResourceVersion(10)) == nil)
        let kept = try #require(try storage.history(of: .pods, after: ResourceVersion(5), through: ResourceVersion(10)))
        #expect(kept.map(\.version) == (6...10).map { ResourceVersion($0) })
        // Event 1 is gone, but event 10's state before was copied in first.
        let before = try KubeObject(bytes: try #require(kept.last?.previous), resource: .pods)
        #expect(before.name == "old" && before.resourceVersion == ResourceVersion(1))
        // A write whose state before is older than the floor stores it itself.
        _ = try registry.update(Self.pod("p2", node: "n3"), in: .pods)                    // 11, previous is event 2 (compacted)
        let latest = try #require(try storage.history(of: .pods, after: ResourceVersion(10), through: ResourceVersion(11)))
        #expect(try KubeObject(bytes: try #require(latest.first?.previous), resource: .pods).resourceVersion == ResourceVersion(2))
        // A watch from before the floor (and the window) is told 410, as kube-apiserver would.
        let w = try pods.watch(WatchOptions(resourceVersion: "3")) {}
        #expect(Self.events(w).lines == ["ERROR 410"])
    }

    @Test func compactionByAgeRemovesOnlyOldEvents() throws {
        let dir = DataDirectory()
        let storage = try SQLiteStorage(directory: dir.path, retention: HistoryRetention(events: nil, seconds: 60),
                                        compactionInterval: .seconds(3600))
        defer { try? storage.close() }
        let registry = try Registry(storage: storage)
        try registry.register(.pods)
        for i in 1...3 { _ = try registry.create(Self.pod("p\(i)"), in: .pods) }
        #expect(try storage.compact() == 0)
        #expect(try storage.compact(now: WallClock.secondsSince1970() + 120) == 3)
        #expect(try storage.statistics().historyEvents == 0)
    }

    @Test func concurrentWritersShareCommitsAndNeverLoseAnUpdate() async throws {
        let dir = DataDirectory()
        let storage = try SQLiteStorage(directory: dir.path, sync: .batch)
        defer { try? storage.close() }
        let registry = try Registry(storage: storage)
        let pods = try registry.register(.pods)
        _ = try await registry.create(Self.pod("shared"), in: .pods)
        final class Tally: Sendable {
            let created = Mutex<[ResourceVersion]>([])
            let conflicts = Atomic(0)
            let wins = Atomic(0)
        }
        let tally = Tally()
        // 8 writer threads (not tasks: a write blocks until its commit): 25 creates each, and
        // conditional updates of one shared object from a stale view.
        let group = DispatchGroup()
        for writer in 0..<8 {
            group.enter()
            startThread {
                defer { group.leave() }
                for i in 0..<25 {
                    registry.create(Self.pod("w\(writer)-\(i)"), in: .pods) { result in
                        if case .success(let o) = result { tally.created.withLock { $0.append(o.resourceVersion) } }
                    }
                }
                var update = Self.pod("shared", node: "writer-\(writer)")
                update["metadata"] = .object(JSONObject([("name", .string("shared")), ("namespace", .string("default")),
                                                         ("resourceVersion", .string("1"))]))
                do {
                    _ = try registry.update(update, in: .pods)
                    tally.wins.add(1, ordering: .relaxed)
                } catch {
                    if (error as? Status)?.code == 409 { tally.conflicts.add(1, ordering: .relaxed) }
                }
            }
        }
        try await offPool { group.wait() }
        // Wait for the last asynchronous creates.
        while tally.created.withLock({ $0.count }) < 200 { try await Task.sleep(for: .milliseconds(5)) }
        let versions = tally.created.withLock { $0 }
        #expect(Set(versions).count == 200)
        #expect(tally.wins.load(ordering: .relaxed) == 1 && tally.conflicts.load(ordering: .relaxed) == 7)
        // A watch from before them sees every write once, in version order.
        let watcher = try pods.watch(WatchOptions(resourceVersion: "1")) {}
        let seen = Self.events(watcher).lines
        #expect(seen.count == 201)
        let rvs = seen.compactMap { $0.split(separator: "@").last.flatMap { UInt64($0) } }
        #expect(rvs == rvs.sorted() && Set(rvs).count == rvs.count)
    }

    @Test func alwaysSyncCommitsEachWriteOnItsOwn() throws {
        let dir = DataDirectory()
        let storage = try SQLiteStorage(directory: dir.path, sync: .always)
        let registry = try Registry(storage: storage)
        try registry.register(.pods)
        for i in 1...20 { _ = try registry.create(Self.pod("p\(i)"), in: .pods) }
        try storage.close()
        let reopened = try SQLiteStorage(directory: dir.path)
        defer { try? reopened.close() }
        #expect(try reopened.recover(historyLimit: 100).version == ResourceVersion(20))
    }

    @Test func aDataDirectoryServesOneStorageAtATime() throws {
        let dir = DataDirectory()
        let first = try SQLiteStorage(directory: dir.path)
        #expect(throws: StorageError.self) { _ = try SQLiteStorage(directory: dir.path) }
        try first.close()
        let second = try SQLiteStorage(directory: dir.path)
        try second.close()
    }

    @Test func historyRetentionParsesCountsDurationsAndBoth() throws {
        #expect(try HistoryRetention(parsing: "500000") == HistoryRetention(events: 500_000, seconds: nil))
        #expect(try HistoryRetention(parsing: "15m") == HistoryRetention(events: nil, seconds: 900))
        #expect(try HistoryRetention(parsing: "250000, 2h") == HistoryRetention(events: 250_000, seconds: 7200))
        #expect(try HistoryRetention(parsing: HistoryRetention.default.description) == .default)
        for bad in ["", "0", "-5", "10x", "1,2", "5m,6m", "1,2,3m"] {
            #expect(throws: RetentionError.self) { _ = try HistoryRetention(parsing: bad) }
        }
    }
}
