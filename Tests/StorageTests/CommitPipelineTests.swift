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

        func persist(_ writes: [StoredWrite]) throws {
            entered.add(1, ordering: .sequentiallyConsistent)
            // Hold commits while the test stages writes, so they pile up into one group.
            while gate.withLock({ $0 }) { usleep(1_000) }
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

    @Test func aFailedCommitFailsItsWritesAndThoseStagedOnThem() async throws {
        let storage = RecordingStorage()
        let registry = try Registry(storage: storage)
        let pods = try registry.register(.pods)
        storage.failNext.store(true, ordering: .relaxed)
        #expect(throws: Status.self) { _ = try registry.create(Self.pod("lost"), in: .pods) }
        #expect(pods.get(namespace: "default", name: "lost") == nil)
        #expect(registry.currentVersion == ResourceVersion(100))
        // The next write works; the failed version is never handed out again.
        let next = try registry.create(Self.pod("lost"), in: .pods)
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
}
