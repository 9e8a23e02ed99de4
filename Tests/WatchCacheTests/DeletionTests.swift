import Synchronization
import Testing
@testable import WatchCache

/// kube-apiserver's deletion rules in the registry: finalizers, graceful deletion, propagation
/// finalizers, preconditions, and names generated again on a collision.
@Suite struct DeletionTests {
    let registry = try! Registry(clock: ManualClock())
    var pods: ResourceCache { registry.cache(for: .pods)! }

    init() {
        _ = try! registry.register(.pods)
        _ = try! registry.register(.configMaps)
        _ = try! registry.register(.namespaces)
    }

    func delete(_ name: String, _ resource: ResourceDescriptor = .configMaps, _ options: DeletionOptions = DeletionOptions(),
                graceful: GracefulDeletion? = nil) throws -> KubeObject {
        let result = Mutex<Result<KubeObject, Status>?>(nil)
        // In memory, the registry completes writes before returning.
        registry.delete(resource, namespace: "ns", name: name, options: options, graceful: graceful) { r in result.withLock { $0 = r } }
        return try #require(result.withLock { $0 }).get()
    }

    func update(_ object: KubeObject, _ change: (inout JSONObject) -> Void) throws -> KubeObject {
        var json = object.json
        change(&json)
        return try registry.update(json, in: object.resource, namespace: "ns")
    }

    func configMap(_ name: String, finalizers: [String] = []) throws -> KubeObject {
        var metadata = JSONObject([("name", .string(name))])
        if !finalizers.isEmpty { metadata["finalizers"] = .array(finalizers.map { .string($0) }) }
        return try registry.create(JSONObject([("metadata", .object(metadata))]), in: .configMaps, namespace: "ns")
    }

    /// Pods: the requested period, else the pod's own; a pod on no node goes at once.
    let podGrace: GracefulDeletion = { pod, requested in
        var period = requested ?? Int64(pod["spec"]?["terminationGracePeriodSeconds"]?.fieldText ?? "") ?? 0
        if (pod["spec"]?["nodeName"]?.stringValue ?? "").isEmpty { period = 0 }
        return period
    }

    @Test func aFinalizerKeepsTheObjectUntilItIsRemoved() throws {
        let created = try configMap("c", finalizers: ["example.com/keep"])
        let marked = try delete("c")
        #expect(marked.deletionTimestamp != nil)
        #expect(marked.json["metadata"]?["deletionGracePeriodSeconds"] == .number("0"))
        #expect(marked.resourceVersion > created.resourceVersion)
        let stillThere = try #require(registry.cache(for: .configMaps)?.get(namespace: "ns", name: "c"))
        #expect(stillThere.deletionTimestamp == marked.deletionTimestamp)
        // Another DELETE changes nothing and writes nothing.
        let again = try delete("c")
        #expect(again.resourceVersion == marked.resourceVersion)
        // No finalizer may be added now.
        #expect(throws: Status.self) {
            _ = try update(stillThere) { $0["metadata"] = .object(JSONObject([("name", .string("c")), ("finalizers", .array([.string("example.com/keep"), .string("more")]))])) }
        }
        // The update that removes the last finalizer deletes it.
        let gone = try update(stillThere) { json in
            var metadata = json["metadata"]!.objectValue!
            metadata["finalizers"] = nil
            json["metadata"] = .object(metadata)
        }
        #expect(registry.cache(for: .configMaps)?.get(namespace: "ns", name: "c") == nil)
        #expect(gone.deletionTimestamp == marked.deletionTimestamp)
    }

    @Test func updatesCannotSetDeletionFields() throws {
        let created = try configMap("c")
        let updated = try update(created) { json in
            var metadata = json["metadata"]!.objectValue!
            metadata["deletionTimestamp"] = .string("2020-01-01T00:00:00Z")
            json["metadata"] = .object(metadata)
        }
        #expect(updated.deletionTimestamp == nil)
    }

    @Test func propagationPoliciesAddTheirFinalizers() throws {
        _ = try configMap("o")
        let orphaned = try delete("o", .configMaps, DeletionOptions(propagationPolicy: .orphan))
        #expect(orphaned.json["metadata"]?["finalizers"] == .array([.string("orphan")]))
        #expect(orphaned.deletionTimestamp != nil)
        _ = try configMap("f", finalizers: ["orphan"])
        let foreground = try delete("f", .configMaps, DeletionOptions(propagationPolicy: .foreground))
        #expect(foreground.json["metadata"]?["finalizers"] == .array([.string("foregroundDeletion")]))
        // Background drops them: nothing keeps the object.
        _ = try configMap("b", finalizers: ["orphan"])
        _ = try delete("b", .configMaps, DeletionOptions(propagationPolicy: .background))
        #expect(registry.cache(for: .configMaps)?.get(namespace: "ns", name: "b") == nil)
    }

    @Test func preconditionsOnUIDAndVersion() throws {
        let created = try configMap("c")
        #expect(throws: Status.self) { _ = try delete("c", .configMaps, DeletionOptions(uid: "someone-else")) }
        #expect(throws: Status.self) { _ = try delete("c", .configMaps, DeletionOptions(resourceVersion: "999")) }
        _ = try delete("c", .configMaps, DeletionOptions(resourceVersion: created.resourceVersion.description, uid: created.uid))
        #expect(registry.cache(for: .configMaps)?.get(namespace: "ns", name: "c") == nil)
    }

    func pod(_ name: String, node: String?) throws -> KubeObject {
        var spec = JSONObject([("terminationGracePeriodSeconds", .number("30"))])
        if let node { spec["nodeName"] = .string(node) }
        return try registry.create(JSONObject([("metadata", .object(JSONObject([("name", .string(name))]))), ("spec", .object(spec))]),
                                   in: .pods, namespace: "ns")
    }

    @Test func aBoundPodIsDeletedGracefully() throws {
        _ = try pod("p", node: "n1")
        let marked = try delete("p", .pods, graceful: podGrace)
        #expect(marked.json["metadata"]?["deletionGracePeriodSeconds"] == .number("30"))
        let deadline = try #require(marked.deletionTimestamp.flatMap(WallClock.secondsSince1970(rfc3339:)))
        let now = Int64(WallClock.secondsSince1970())
        #expect((now + 28...now + 31).contains(deadline))
        #expect(marked.generation == 2)
        #expect(pods.get(namespace: "ns", name: "p") != nil)
        // A longer period changes nothing; a shorter one moves the deadline.
        #expect(try delete("p", .pods, DeletionOptions(gracePeriodSeconds: 60), graceful: podGrace).resourceVersion == marked.resourceVersion)
        let shorter = try delete("p", .pods, DeletionOptions(gracePeriodSeconds: 10), graceful: podGrace)
        #expect(shorter.json["metadata"]?["deletionGracePeriodSeconds"] == .number("10"))
        #expect(shorter.deletionTimestamp.flatMap(WallClock.secondsSince1970(rfc3339:)) == deadline - 20)
        // Zero: gone (what the kubelet, or `kubectl delete --force --grace-period=0`, sends).
        _ = try delete("p", .pods, DeletionOptions(gracePeriodSeconds: 0), graceful: podGrace)
        #expect(pods.get(namespace: "ns", name: "p") == nil)
    }

    @Test func anUnscheduledPodGoesAtOnce() throws {
        _ = try pod("p", node: nil)
        let gone = try delete("p", .pods, graceful: podGrace)
        #expect(pods.get(namespace: "ns", name: "p") == nil)
        #expect(gone.json["metadata"]?["deletionGracePeriodSeconds"] == .number("0"))
    }

    @Test func watchersSeeModifiedThenDeleted() throws {
        _ = try configMap("c", finalizers: ["example.com/keep"])
        let cache = try #require(registry.cache(for: .configMaps))
        let watcher = try cache.watch(WatchOptions(resourceVersion: registry.currentVersion.description)) {}
        let marked = try delete("c")
        _ = try update(marked) { json in
            var metadata = json["metadata"]!.objectValue!
            metadata["finalizers"] = .array([])
            json["metadata"] = .object(metadata)
        }
        var events: [WatchEvent] = []
        _ = watcher.next(into: &events, maxEvents: 10)
        #expect(events.map(\.type) == [.modified, .deleted])
        #expect(events.first?.object?.deletionTimestamp != nil)
    }

    @Test func aDeletionWithNoGraceIsMarkedThenGone() throws {
        // As kube-apiserver: the pod is written with its deletion fields, then deleted.
        _ = try pod("p", node: "n1")
        let watcher = try pods.watch(WatchOptions(resourceVersion: registry.currentVersion.description)) {}
        let gone = try delete("p", .pods, DeletionOptions(gracePeriodSeconds: 0), graceful: podGrace)
        var events: [WatchEvent] = []
        _ = watcher.next(into: &events, maxEvents: 10)
        #expect(events.map(\.type) == [.modified, .deleted])
        #expect(events.first?.object?.json["metadata"]?["deletionGracePeriodSeconds"] == .number("0"))
        #expect(gone.resourceVersion == events.last?.resourceVersion)
        #expect(pods.get(namespace: "ns", name: "p") == nil)
    }

    @Test func generatedNamesAreTriedAgainOnACollision() throws {
        let suffixes = Suffixes(["aaaaa", "aaaaa", "aaaaa", "bbbbb"])
        let registry = try Registry(clock: ManualClock(), generatedNameSuffix: { suffixes.next() })
        _ = try registry.register(.configMaps)
        let generated = JSONObject([("metadata", .object(JSONObject([("generateName", .string("web-"))])))])
        #expect(try registry.create(generated, in: .configMaps, namespace: "ns").name == "web-aaaaa")
        // The next create collides twice, then gets a free name.
        #expect(try registry.create(generated, in: .configMaps, namespace: "ns").name == "web-bbbbb")
        // Every try taken: 409, after 8 tries.
        let stuck = Suffixes(Array(repeating: "ccccc", count: 20))
        let full = try Registry(clock: ManualClock(), generatedNameSuffix: { stuck.next() })
        _ = try full.register(.configMaps)
        _ = try full.create(generated, in: .configMaps, namespace: "ns")
        #expect(throws: Status.self) { _ = try full.create(generated, in: .configMaps, namespace: "ns") }
        #expect(stuck.used == 1 + 8)
    }
}

/// A fixed sequence of name suffixes.
final class Suffixes: Sendable {
    private let state: Mutex<(values: [String], used: Int)>
    init(_ values: [String]) { state = Mutex((values, 0)) }
    func next() -> String {
        state.withLock { s in
            defer { s.used += 1 }
            return s.values[min(s.used, s.values.count - 1)]
        }
    }
    var used: Int { state.withLock { $0.used } }
}
