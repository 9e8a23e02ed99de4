import Foundation
import Synchronization
import Testing
@testable import WatchCache

/// The registry's write path in front of a storage that commits in the background: staged
/// checks, group commits, failures, and the loading phase.
@Suite struct CommitPipelineTests {
    /// Records each persist call's size; fails the calls it is told to.
    final class RecordingStorage: Storage {
        let batches = Mutex<[Int]>([])
        let failNext = Atomic(false)
        let gate = Mutex(false)
        /// persist calls begun (the committer is inside the storage).
        let entered = Atomic(0)
        var persistsInline: Bool { false }

        func recover(historyLimit: Int) throws -> StorageRecovery {
            StorageRecovery(version: ResourceVersion(100))
        }

        /// When given, the storage opens the gate itself: once this is true (and 200 ms more), or
        /// after `holdLimit` seconds.
        let release: (@Sendable () -> Bool)?
        let holdLimit: TimeInterval

        init(release: (@Sendable () -> Bool)? = nil, holdLimit: TimeInterval = .infinity) {
            self.release = release
            self.holdLimit = holdLimit
        }

        func persist(_ writes: [StoredWrite]) throws {
            entered.add(1, ordering: .sequentiallyConsistent)
            // Hold commits while the test stages writes, so they pile up into one group.
            let limit = Date().addingTimeInterval(holdLimit)
            while gate.withLock({ $0 }) {
                if let release, release() || Date() > limit {
                    usleep(200_000)
                    gate.withLock { $0 = false }
                }
                usleep(1_000)
            }
            if failNext.exchange(false, ordering: .relaxed) { throw TestFailure() }
            batches.withLock { $0.append(writes.count) }
        }
    }

    struct TestFailure: Error {}

    static func pod(_ name: String) -> JSONObject {
        JSONObject([("metadata", .object(JSONObject([("name", .string(name)), ("namespace", .string("default"))])))])
    }

    @Test func writesStagedDuringACommitGoTogetherAndSeeEachOther() async throws {
        let storage = RecordingStorage()
        let registry = try Registry(storage: storage)
        let pods = try registry.register(.pods)
        #expect(registry.currentVersion == ResourceVersion(100))
        storage.gate.withLock { $0 = true }
        let results = Mutex<[Result<KubeObject, Status>]>([])
        registry.create(Self.pod("first"), in: .pods) { r in results.withLock { $0.append(r) } }
        // Wait until the committer is inside persist with "first".
        while storage.entered.load(ordering: .sequentiallyConsistent) == 0 { try await Task.sleep(for: .milliseconds(1)) }
        for name in ["a", "b", "a"] {
            registry.create(Self.pod(name), in: .pods) { r in results.withLock { $0.append(r) } }
        }
        // Staged but not committed: invisible to readers, yet the second "a" already conflicts.
        #expect(pods.get(namespace: "default", name: "a") == nil)
        let early = results.withLock { $0 }
        #expect(early.count == 1)
        if case .failure(let status)? = early.first { #expect(status.code == 409) } else { Issue.record("expected 409 AlreadyExists, got \(early)") }
        storage.gate.withLock { $0 = false }
        while results.withLock({ $0.count }) < 4 { try await Task.sleep(for: .milliseconds(2)) }
        #expect(storage.batches.withLock { $0 } == [1, 2])
        #expect(registry.currentVersion == ResourceVersion(103))
        #expect(pods.get(namespace: "default", name: "b")?.resourceVersion == ResourceVersion(103))
    }

    /// The async writes suspend their tasks rather than hold threads: while one commit is held,
    /// eight times as many writers as the concurrency pool has threads all stage their writes —
    /// the blocking forms would have stopped at one per thread, with the pool then stuck until
    /// the storage gave up holding — and they commit together in the next group.
    @Test func asyncWritesWaitWithoutHoldingThreads() async throws {
        let writers = ProcessInfo.processInfo.activeProcessorCount * 8
        final class Count: Sendable { let value = Atomic(0) }
        let started = Count()
        // The first commit is held until every writer has started (its write is staged by then:
        // staging happens before the task first suspends), 60 s at most — writers that held every
        // pool thread would never all start.
        let storage = RecordingStorage(release: { started.value.load(ordering: .sequentiallyConsistent) >= writers }, holdLimit: 60)
        let registry = try Registry(storage: storage)
        _ = try registry.register(.pods)
        storage.gate.withLock { $0 = true }
        let created = try await withThrowingTaskGroup(of: KubeObject.self) { group in
            group.addTask { try await registry.create(Self.pod("first"), in: .pods) }
            while storage.entered.load(ordering: .sequentiallyConsistent) == 0 { try await Task.sleep(for: .milliseconds(1)) }
            for i in 0..<writers {
                group.addTask {
                    started.value.add(1, ordering: .sequentiallyConsistent)
                    return try await registry.create(Self.pod("p\(i)"), in: .pods)
                }
            }
            return try await group.reduce(into: [KubeObject]()) { $0.append($1) }
        }
        #expect(created.count == writers + 1)
        #expect(storage.batches.withLock { $0 } == [1, writers])
        #expect(Set(created.map(\.resourceVersion)).count == writers + 1)
        // The other forms, awaited.
        var pod = try #require(created.first { $0.name == "p0" }).json
        pod["spec"] = .object(JSONObject([("nodeName", .string("node-1"))]))
        #expect(try await registry.update(pod, in: .pods).json["spec"]?["nodeName"] == .string("node-1"))
        let modified = try await registry.modify(.pods, namespace: "default", name: "p0") { current in
            var json = current.json
            json["spec"] = .object(JSONObject([("nodeName", .string("node-2"))]))
            return json
        }
        #expect(modified.json["spec"]?["nodeName"] == .string("node-2"))
        await #expect(throws: Status.self) { try await registry.delete(.pods, namespace: "default", name: "p0", precondition: "1") }
        #expect(try await registry.delete(.pods, namespace: "default", name: "p0").name == "p0")
        #expect(try await registry.delete(.pods, namespace: "default", name: "p1", options: DeletionOptions()).name == "p1")
        #expect(registry.cache(for: .pods)?.versionAndCount.objects == writers - 1)
    }

    @Test func aFailedCommitFailsItsWritesAndThoseStagedOnThem() async throws {
        let storage = RecordingStorage()
        let registry = try Registry(storage: storage)
        let pods = try registry.register(.pods)
        storage.failNext.store(true, ordering: .relaxed)
        #expect(throws: Status.self) { _ = try registry.create(Self.pod("lost"), in: .pods) }
        #expect(pods.get(namespace: "default", name: "lost") == nil)
        #expect(registry.currentVersion == ResourceVersion(100))
        // The next write works; the failed version is never handed out again.
        let next = try await registry.create(Self.pod("lost"), in: .pods)
        #expect(next.resourceVersion == ResourceVersion(102))
    }

    @Test func untilRecoveredWritesAre503WithRetryAfter() throws {
        let registry = try Registry(storage: RecordingStorage(), recover: false)
        let pods = try registry.register(.pods)
        #expect(!registry.isReady)
        do {
            _ = try registry.create(Self.pod("early"), in: .pods)
            Issue.record("a write before recovery succeeded")
        } catch {
            #expect(error.code == 503 && error.details?.retryAfterSeconds == 1)
        }
        try registry.recover()
        #expect(registry.isReady && pods.currentVersion == ResourceVersion(100))
        #expect(try registry.create(Self.pod("later"), in: .pods).resourceVersion == ResourceVersion(101))
    }

    @Test func concurrentPatchesOfOneObjectWaitingForTheDiskLoseNoUpdate() async throws {
        let storage = RecordingStorage()
        let registry = try Registry(storage: storage)
        let maps = try registry.register(.configMaps)
        let counter = JSONObject([("metadata", .object(JSONObject([("name", .string("counter"))]))),
                                  ("data", .object(JSONObject([("n", .string("0"))])))])
        _ = try await registry.create(counter, in: .configMaps, namespace: "ns")
        storage.gate.withLock { $0 = true }
        let done = Mutex<[Result<KubeObject, Status>]>([])
        // Every patch after the first is decided against the cache (n = 0), fails its precondition
        // on the staged state, and is decided again from the staged object.
        let increment = { @Sendable in
            registry.modify(.configMaps, namespace: "ns", name: "counter", transform: { current throws(Status) in
                var json = current.json
                var data = json["data"]?.objectValue ?? JSONObject()
                data["n"] = .string(String(Int(data["n"]?.stringValue ?? "0")! + 1))
                json["data"] = .object(data)
                return json
            }, completion: { r in done.withLock { $0.append(r) } })
        }
        increment()
        // The first one is inside the storage; the others stage behind it.
        while storage.entered.load(ordering: .sequentiallyConsistent) < 2 { try await Task.sleep(for: .milliseconds(1)) }
        for _ in 1..<20 { increment() }
        #expect(maps.get(namespace: "ns", name: "counter")?.json["data"]?["n"] == .string("0"))
        storage.gate.withLock { $0 = false }
        while done.withLock({ $0.count }) < 20 { try await Task.sleep(for: .milliseconds(2)) }
        #expect(done.withLock { $0 }.allSatisfy { if case .success = $0 { true } else { false } })
        let final = try #require(maps.get(namespace: "ns", name: "counter"))
        #expect(final.json["data"]?["n"] == .string("20"))
        #expect(final.resourceVersion == ResourceVersion(121) && registry.currentVersion == ResourceVersion(121))
        // The storage got them in groups: the first patch alone, the other 19 staged on it.
        #expect(storage.batches.withLock { $0 } == [1, 1, 19])
    }

    @Test func theEmbeddedStorageAnswersAsASourceOfTruth() async throws {
        let registry = try Registry(storage: RecordingStorage())
        _ = try registry.register(.pods)
        let source = registry.source
        #expect(source.feedsBeforeAcknowledging)
        let pod = try KubeObject(json: Self.pod("direct"), resource: .pods)
        guard case .committed(let version, let stored?) = try await source.commit(GuardedWrite(resource: .pods, change: .put(pod), precondition: .absent)) else {
            Issue.record("the create did not commit")
            return
        }
        #expect(version == ResourceVersion(101) && stored.resourceVersion == version)
        #expect(registry.cache(for: .pods)?.get(namespace: "default", name: "direct")?.resourceVersion == version)
        // A stale precondition brings back the object as stored.
        guard case .conflict(let current?) = try await source.commit(GuardedWrite(resource: .pods, change: .delete(pod), precondition: .version(ResourceVersion(100)))) else {
            Issue.record("a stale delete did not conflict")
            return
        }
        #expect(current.resourceVersion == version)
        let census = try await source.census(of: .pods, changedAfter: ResourceVersion(100))
        #expect(census == StoreCensus(version: version, objects: 1, changed: 1))
        #expect(try await source.list(.pods).objects.map(\.name) == ["direct"])
        #expect(try await source.get(.pods, namespace: "default", name: "direct")?.resourceVersion == version)
    }

    /// Holds one stored pod whose JSON no longer parses.
    struct DamagedStorage: Storage {
        func recover(historyLimit: Int) throws -> StorageRecovery {
            StorageRecovery(version: ResourceVersion(7), objects: [ResourceDescriptor.pods.description: [Array(#"{"metadata":"#.utf8)]])
        }
        func persist(_ writes: [StoredWrite]) throws { Issue.record("a write reached a storage that did not load") }
    }

    @Test func storedObjectsThatDoNotParseFailTheLoadAndTakeNoWrite() throws {
        let registry = try Registry(storage: DamagedStorage(), recover: false)
        _ = try registry.register(.pods)
        #expect(throws: Status.self) { try registry.recover() }
        #expect(!registry.isReady)
        #expect(throws: Status.self) { _ = try registry.create(Self.pod("over"), in: .pods) }
        // Registered after a start, the same: refused, nothing written.
        let late = try Registry(storage: DamagedStorage(), recover: false)
        _ = try late.register(.configMaps)
        try late.recover()
        #expect(throws: Status.self) { _ = try late.register(.pods) }
    }
}
