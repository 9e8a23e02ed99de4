import Foundation
import Synchronization
import Testing
import WatchCache
import WatchCacheBench
@testable import WatchCacheEtcd

/// Registries over one real etcd — replicas, in one process: every write reaches every replica's
/// watchers with the same version, a watch resumes on another replica from its last version,
/// reads are consistent across replicas, and conflicts are etcd's.
@Suite(.serialized) struct EtcdReplicaTests {
    /// A replica: its own connection to etcd and its own caches.
    struct Replica {
        let storage: EtcdStorage
        let registry: Registry

        init(_ cluster: EtcdCluster, suffix: (@Sendable () -> String)? = nil) async throws {
            storage = try EtcdStorage(endpoints: EtcdEndpoints(parsing: cluster.servers))
            registry = Registry(source: storage, configuration: CacheConfiguration(bookmarkInterval: .seconds(1)), generatedNameSuffix: suffix)
            try registry.register(.configMaps)
            try registry.register(.pods)
            try await registry.recoverWithoutBlocking()
        }

        var configMaps: ResourceCache { registry.cache(for: .configMaps)! }

        func close() {
            registry.close()
            storage.close()
        }
    }

    static func configMap(_ name: String, _ value: String, resourceVersion: String? = nil) -> JSONObject {
        var metadata = JSONObject([("name", .string(name)), ("namespace", .string("default"))])
        if let resourceVersion { metadata["resourceVersion"] = .string(resourceVersion) }
        return JSONObject([("metadata", .object(metadata)), ("data", .object(JSONObject([("v", .string(value))])))])
    }

    /// The registry's callback API, awaited (the blocking one holds a thread of the pool for the
    /// round trip to etcd; see blockingWritesFromEveryPoolThreadAtOnceFinish).
    static func write(_ start: (@escaping @Sendable (Result<KubeObject, Status>) -> Void) -> Void) async throws(Status) -> KubeObject {
        let result: Result<KubeObject, Status> = await withCheckedContinuation { c in start { c.resume(returning: $0) } }
        return try result.get()
    }

    /// The first `count` events of `stream` (fewer if `seconds` pass first).
    static func events(_ stream: WatchStream, count: Int, seconds: Double = 10) async -> [WatchEvent] {
        let collected = Mutex<[WatchEvent]>([])
        let reader = Task {
            for try await event in stream {
                if collected.withLock({ $0.append(event); return $0.count >= count }) { break }
            }
        }
        let deadline = Date().addingTimeInterval(seconds)
        while collected.withLock({ $0.count }) < count, Date() < deadline { try? await Task.sleep(for: .milliseconds(10)) }
        reader.cancel()
        return collected.withLock { $0 }
    }

    @Test func writesThroughEitherReplicaReachWatchersOfBothWithTheSameVersions() async throws {
        let cluster = try EtcdCluster()
        defer { cluster.stop() }
        let a = try await Replica(cluster), b = try await Replica(cluster)
        defer { a.close(); b.close() }
        let start = a.configMaps.currentVersion.description
        let onA = try a.configMaps.stream(WatchOptions(resourceVersion: start))
        let onB = try b.configMaps.stream(WatchOptions(resourceVersion: start))

        let created = try await Self.write { a.registry.create(Self.configMap("c", "1"), in: .configMaps, completion: $0) }
        // kube-apiserver's key, the JSON without the version (the key's mod_revision is the version).
        let stored = try cluster.etcdctl(["get", "/registry/configmaps/default/c", "--print-value-only"])
        #expect(stored.contains(#""uid":"\#(created.uid ?? "-")""#) && !stored.contains("resourceVersion"))
        let updated = try await Self.write { b.registry.update(Self.configMap("c", "2", resourceVersion: created.resourceVersion.description),
                                                               in: .configMaps, completion: $0) }
        let deleted = try await Self.write { a.registry.delete(.configMaps, namespace: "default", name: "c", completion: $0) }
        #expect(created.resourceVersion < updated.resourceVersion && updated.resourceVersion < deleted.resourceVersion)

        for stream in [onA, onB] {
            let events = await Self.events(stream, count: 3)
            #expect(events.map(\.type) == [.added, .modified, .deleted])
            #expect(events.map(\.resourceVersion) == [created.resourceVersion, updated.resourceVersion, deleted.resourceVersion])
            #expect(events.map { $0.object?.json["data"]?["v"]?.stringValue } == ["1", "2", "2"])
        }
        let left = try cluster.etcdctl(["get", "--prefix", "/registry/configmaps/", "--keys-only"])
        #expect(left.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
    }

    @Test func aWatchResumesOnAnotherReplicaFromItsLastVersion() async throws {
        let cluster = try EtcdCluster()
        defer { cluster.stop() }
        let a = try await Replica(cluster), b = try await Replica(cluster)
        defer { a.close(); b.close() }
        var written: [ResourceVersion] = []
        for i in 0..<3 { written.append(try await Self.write { a.registry.create(Self.configMap("r\(i)", "x"), in: .configMaps, completion: $0) }.resourceVersion) }
        // A client saw the first two on A, then A went away: it resumes on B from there.
        let first = await Self.events(try a.configMaps.stream(WatchOptions(resourceVersion: "0")), count: 2)
        #expect(first.count == 2)
        let last = first.last!.resourceVersion
        for i in 3..<5 { written.append(try await Self.write { b.registry.create(Self.configMap("r\(i)", "x"), in: .configMaps, completion: $0) }.resourceVersion) }
        let rest = await Self.events(try b.configMaps.stream(WatchOptions(resourceVersion: last.description)), count: 3)
        #expect(rest.map(\.type) == [.added, .added, .added])
        #expect(rest.map(\.resourceVersion) == Array(written[2...]))  // no gap, no duplicate, no 410
    }

    @Test func consistentReadsSeeWritesMadeThroughAnotherReplica() async throws {
        let cluster = try EtcdCluster()
        defer { cluster.stop() }
        let a = try await Replica(cluster), b = try await Replica(cluster)
        defer { a.close(); b.close() }
        for i in 0..<20 {
            let written = try await Self.write { a.registry.create(Self.configMap("k\(i)", "x"), in: .configMaps, completion: $0) }
            let view = try await Self.view(b.registry, b.configMaps)
            #expect(view.get(namespace: "default", name: "k\(i)")?.resourceVersion == written.resourceVersion)
            // A GET reads the one key from etcd.
            let got: Result<KubeObject?, Status> = await withCheckedContinuation { c in
                b.registry.consistentGet(of: b.configMaps, namespace: "default", name: "k\(i)") { c.resume(returning: $0) }
            }
            #expect(try got.get()?.resourceVersion == written.resourceVersion)
        }
        let missing: Result<KubeObject?, Status> = await withCheckedContinuation { c in
            b.registry.consistentGet(of: b.configMaps, namespace: "default", name: "none") { c.resume(returning: $0) }
        }
        #expect(try missing.get() == nil)
        // A quiet resource is read at once, whatever else was written since its last change.
        let pods = b.registry.cache(for: .pods)!
        let started = ContinuousClock.now
        let view = try await Self.view(b.registry, pods)
        #expect(view === pods)
        #expect(ContinuousClock.now - started < .seconds(2))
    }

    static func view(_ registry: Registry, _ cache: ResourceCache) async throws(Status) -> ResourceCache {
        let result: Result<ResourceCache, Status> = await withCheckedContinuation { c in
            registry.consistentView(of: cache) { c.resume(returning: $0) }
        }
        return try result.get()
    }

    @Test func conflictsComeFromEtcdAndPatchesNeverLoseAnUpdate() async throws {
        let cluster = try EtcdCluster()
        defer { cluster.stop() }
        let a = try await Replica(cluster), b = try await Replica(cluster)
        defer { a.close(); b.close() }
        let created = try await Self.write { a.registry.create(Self.configMap("p", "0"), in: .configMaps, completion: $0) }
        await #expect(throws: Status.self) {
            try await Self.write { b.registry.create(Self.configMap("p", "0"), in: .configMaps, completion: $0) }
        }
        _ = try await Self.write { a.registry.update(Self.configMap("p", "1", resourceVersion: created.resourceVersion.description), in: .configMaps, completion: $0) }
        do {
            _ = try await Self.write { b.registry.update(Self.configMap("p", "2", resourceVersion: created.resourceVersion.description), in: .configMaps, completion: $0) }
            Issue.record("a stale resourceVersion was accepted")
        } catch {
            #expect(error.code == 409 && error.reason == .conflict)
        }
        // Twenty read-modify-writes from both replicas at once, each adding its own key: all land.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<20 {
                let replica = i % 2 == 0 ? a : b
                group.addTask {
                    _ = try await Self.write { completion in
                        replica.registry.modify(.configMaps, namespace: "default", name: "p", transform: { current in
                            var json = current.json
                            var data = json["data"]?.objectValue ?? JSONObject()
                            data["k\(i)"] = .string("\(i)")
                            json["data"] = .object(data)
                            return json
                        }, completion: completion)
                    }
                }
            }
            try await group.waitForAll()
        }
        let final = try await Self.view(a.registry, a.configMaps).get(namespace: "default", name: "p")
        #expect((final?.json["data"]?.objectValue?.keys.filter { $0.hasPrefix("k") }.count) == 20)
    }

    @Test func aFeedBehindEtcdsCompactionListsAgain() async throws {
        let cluster = try EtcdCluster()
        defer { cluster.stop() }
        let a = try await Replica(cluster)
        defer { a.close() }
        let behind = a.configMaps.currentVersion
        for i in 0..<5 { _ = try await Self.write { a.registry.create(Self.configMap("z\(i)", "x"), in: .configMaps, completion: $0) } }
        _ = try await Self.write { a.registry.delete(.configMaps, namespace: "default", name: "z0", completion: $0) }
        let now = a.configMaps.currentVersion
        try cluster.etcdctl(["compact", now.description])
        // A feed that resumes from before the compaction (as after a long disconnection).
        let sink = RecordingSink()
        let feed = EtcdFeed.start(resource: .configMaps, storage: a.storage, sink: sink, resumingAfter: behind)
        defer { feed.cancel() }
        let deadline = Date().addingTimeInterval(10)
        while sink.replaced.withLock({ $0.isEmpty }), Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        let snapshot = sink.replaced.withLock { $0.first }
        #expect(snapshot?.version == now)
        #expect(snapshot?.objects.map(\.name).sorted() == ["z1", "z2", "z3", "z4"])
        #expect(feed.relists.load(ordering: .relaxed) == 1)
        // Then it follows again.
        let later = try await Self.write { a.registry.create(Self.configMap("after", "x"), in: .configMaps, completion: $0) }
        while sink.applied.withLock({ $0.isEmpty }), Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(sink.applied.withLock { $0.map(\.1) } == [later.resourceVersion])
    }

    @Test func createWithGenerateNameTriesAnotherNameWhenEtcdHasItAlready() async throws {
        let cluster = try EtcdCluster()
        defer { cluster.stop() }
        let names = Mutex(["taken", "taken", "fresh"])
        let a = try await Replica(cluster, suffix: { names.withLock { $0.isEmpty ? "x" : $0.removeFirst() } })
        defer { a.close() }
        // Written straight into etcd, as another client would (the cache or the transaction notices).
        try cluster.etcdctl(["put", "/registry/configmaps/default/gen-taken", #"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"gen-taken","namespace":"default"}}"#])
        let object = JSONObject([("metadata", .object(JSONObject([("generateName", .string("gen-")), ("namespace", .string("default"))])))])
        let created = try await Self.write { a.registry.create(object, in: .configMaps, completion: $0) }
        #expect(created.name == "gen-fresh")
    }
}

extension EtcdReplicaTests {
    /// The registry's blocking writes, called from the global pool by more tasks at once than it
    /// has threads, all finish: the etcd side of a write (its commit, the feed that brings it back,
    /// the gRPC connections) runs on EtcdExecutor's threads, never on the ones the writers hold.
    /// Before, two such writers on two cores waited for each other forever.
    @Test func blockingWritesFromEveryPoolThreadAtOnceFinish() async throws {
        let cluster = try EtcdCluster()
        defer { cluster.stop() }
        let replica = try await Replica(cluster)
        defer { replica.close() }
        let writers = ProcessInfo.processInfo.activeProcessorCount * 4
        // A stuck pool could not even report a failure (this test runs on it): a thread of its
        // own ends the run with a message rather than let it hang until CI's limit.
        final class Progress: Sendable {
            let finished = Atomic(0)
            let over = Atomic(false)
        }
        let progress = Progress()
        defer { progress.over.store(true, ordering: .releasing) }
        startThread {
            let deadline = Date().addingTimeInterval(120)
            while !progress.over.load(ordering: .acquiring), progress.finished.load(ordering: .acquiring) < writers {
                if Date() > deadline {
                    fatalError("\(writers - progress.finished.load(ordering: .acquiring)) of \(writers) blocking registry writes over etcd never finished: the global pool is stuck")
                }
                usleep(50_000)
            }
        }
        let registry = replica.registry
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<writers {
                group.addTask {
                    // Each call holds this pool thread until etcd has the write and the cache has it back.
                    let created = try registry.create(Self.configMap("blocking-\(i)", "1"), in: .configMaps, namespace: "default")
                    var changed = created.json
                    changed["data"] = .object(JSONObject([("v", .string("2"))]))
                    _ = try registry.update(changed, in: .configMaps, namespace: "default")
                    _ = try registry.delete(.configMaps, namespace: "default", name: "blocking-\(i)")
                    progress.finished.add(1, ordering: .acquiringAndReleasing)
                }
            }
            try await group.waitForAll()
        }
        #expect(progress.finished.load(ordering: .acquiring) == writers)
        #expect(replica.configMaps.versionAndCount.objects == 0)
    }

    /// etcd PINGs with nearly every request; without the PingResponder the client's HTTP/2 layer
    /// took the 200th PING in 30 s for a flood and closed the connection with its calls.
    @Test func aThousandCallsInARowOnOneConnection() async throws {
        let cluster = try EtcdCluster()
        defer { cluster.stop() }
        let storage = try EtcdStorage(endpoints: EtcdEndpoints(parsing: cluster.servers))
        defer { storage.close() }
        var version = ResourceVersion.zero
        for i in 0..<1_000 {
            let object = try KubeObject(json: Self.configMap("busy", "\(i)"), resource: .configMaps)
            let outcome = try await storage.commit(GuardedWrite(resource: .configMaps, change: .put(object),
                                                                precondition: i == 0 ? .absent : .version(version)))
            guard case .committed(let v, _) = outcome else { Issue.record("write \(i) did not commit: \(outcome)"); return }
            version = v
        }
        let census = try await storage.census(of: .configMaps, changedAfter: .zero)
        #expect(census.objects == 1 && census.changed == 1 && census.version == version)
    }
}

/// Records what a feed delivers.
final class RecordingSink: ChangeFeedSink {
    let replaced = Mutex<[StoreSnapshot]>([])
    let applied = Mutex<[(String, ResourceVersion)]>([])
    let progressed = Mutex<[ResourceVersion]>([])

    func replace(_ snapshot: StoreSnapshot) { replaced.withLock { $0.append(snapshot) } }
    func apply(_ change: Change) {
        switch change {
        case .put(let o): applied.withLock { $0.append(("put " + o.name, o.resourceVersion)) }
        case .delete(let o): applied.withLock { $0.append(("delete " + o.name, o.resourceVersion)) }
        }
    }
    func progress(_ version: ResourceVersion) { progressed.withLock { $0.append(version) } }
}

extension EtcdReplicaTests {
    /// Two replicas compacting: one claims each interval through `compact_rev_key`, and it
    /// compacts to the revision seen an interval before — etcd refuses reads older than that.
    @Test func replicasTakeTurnsCompactingToTheRevisionOfTheRoundBefore() async throws {
        let cluster = try EtcdCluster()
        defer { cluster.stop() }
        let a = try await Replica(cluster), b = try await Replica(cluster)
        defer { a.close(); b.close() }
        let first = EtcdCompactor(), second = EtcdCompactor()
        // Round 1: A claims the first interval (nothing to compact yet); B learns the key's version.
        var (seenA, revA) = try await first.round(a.storage, seenVersion: 0, revision: 0)
        var (seenB, revB) = try await second.round(b.storage, seenVersion: 0, revision: 0)
        #expect(seenA == 1 && seenB == 1)
        for i in 0..<5 { _ = try await Self.write { a.registry.create(Self.configMap("x\(i)", "x"), in: .configMaps, completion: $0) } }
        // Round 2: B (now current) claims it and compacts to what it saw in round 1; A's view is stale.
        (seenB, revB) = try await second.round(b.storage, seenVersion: seenB, revision: revB)
        (seenA, revA) = try await first.round(a.storage, seenVersion: seenA, revision: revA)
        #expect(second.compactions.load(ordering: .relaxed) == 1)
        #expect(first.compactions.load(ordering: .relaxed) == 0)
        #expect(seenA == seenB && seenA == 2)
        do {
            try cluster.etcdctl(["get", "/registry/configmaps/default/x0", "--rev=1"])
            Issue.record("revision 1 was still readable")
        } catch {
            #expect("\(error)".contains("required revision has been compacted"))
        }
    }
}

extension EtcdReplicaTests {
    /// `--etcd-cafile`, `--etcd-certfile`, `--etcd-keyfile`: an etcd that speaks TLS only and
    /// requires client certificates.
    @Test func mutualTLS() async throws {
        let cluster = try EtcdCluster(tls: true)
        defer { cluster.stop() }
        #expect(cluster.servers.hasPrefix("https://"))
        let storage = try EtcdStorage(endpoints: EtcdEndpoints(parsing: cluster.servers, caFile: cluster.caFile,
                                                               certFile: cluster.clientCertFile, keyFile: cluster.clientKeyFile))
        defer { storage.close() }
        let object = try KubeObject(json: Self.configMap("secure", "1"), resource: .configMaps)
        guard case .committed(let version, _) = try await storage.commit(GuardedWrite(resource: .configMaps, change: .put(object), precondition: .absent)) else {
            Issue.record("the write did not commit")
            return
        }
        let listed = try await storage.list(.configMaps)
        #expect(listed.objects.map(\.name) == ["secure"] && listed.version == version)
        // Without the client certificate etcd refuses the connection: a 503 or 504, not a hang.
        let anonymous = try EtcdStorage(endpoints: EtcdEndpoints(parsing: cluster.servers, caFile: cluster.caFile))
        defer { anonymous.close() }
        do {
            _ = try await anonymous.census(of: .configMaps, changedAfter: .zero)  // gives up after 10 s
            Issue.record("etcd answered a client without a certificate")
        } catch let status as Status {
            #expect(status.code == 503 || status.code == 504)
        }
    }
}

extension EtcdReplicaTests {
    /// 60 objects of 100 KB: a list page and a resumed feed's backlog each come as one message of
    /// about 6 MB, past grpc-swift's 4 MiB default — both must arrive.
    @Test func messagesLargerThanFourMiB() async throws {
        let cluster = try EtcdCluster()
        defer { cluster.stop() }
        let a = try await Replica(cluster)
        defer { a.close() }
        let behind = a.configMaps.currentVersion
        let padding = String(repeating: "x", count: 100_000)
        for i in 0..<60 { _ = try await Self.write { a.registry.create(Self.configMap("big\(i)", padding), in: .configMaps, completion: $0) } }
        let listed = try await a.storage.list(.configMaps)
        #expect(listed.objects.count == 60)
        let sink = RecordingSink()
        let feed = EtcdFeed.start(resource: .configMaps, storage: a.storage, sink: sink, resumingAfter: behind)
        defer { feed.cancel() }
        let deadline = Date().addingTimeInterval(20)
        while sink.applied.withLock({ $0.count }) < 60, Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(sink.applied.withLock { $0.count } == 60)
        #expect(feed.restarts.load(ordering: .relaxed) == 0)
    }
}

extension EtcdReplicaTests {
    /// A client writes through A, then at once through B with the version A gave it: B's cache may
    /// not have the change yet, so B decides again from etcd rather than answer 404 or 409.
    @Test func aWriteThroughAnotherReplicaRightAfterNeverSeesItsStaleCache() async throws {
        let cluster = try EtcdCluster()
        defer { cluster.stop() }
        let a = try await Replica(cluster), b = try await Replica(cluster)
        defer { a.close(); b.close() }
        for i in 0..<20 {
            let created = try await Self.write { a.registry.create(Self.configMap("s\(i)", "0"), in: .configMaps, completion: $0) }
            let updated = try await Self.write {
                b.registry.update(Self.configMap("s\(i)", "1", resourceVersion: created.resourceVersion.description), in: .configMaps, completion: $0)
            }
            #expect(updated.resourceVersion > created.resourceVersion)
            let deleted = try await Self.write { a.registry.delete(.configMaps, namespace: "default", name: "s\(i)", completion: $0) }
            await #expect(throws: Status.self) {  // gone in etcd: B's cache may still hold it, etcd decides
                try await Self.write { b.registry.update(Self.configMap("s\(i)", "2"), in: .configMaps, completion: $0) }
            }
            #expect(deleted.resourceVersion > updated.resourceVersion)
        }
    }
}
