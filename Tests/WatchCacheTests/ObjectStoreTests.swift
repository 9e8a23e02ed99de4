import Testing
@testable import WatchCache

@Suite struct ObjectStoreTests {
    func pod(_ name: String, ns: String = "default", node: String = "") -> KubeObject {
        try! KubeObject(json: Fixture.podJSON(name, namespace: ns, node: node), resource: .pods)
    }

    @Test func keysStaySortedThroughCreatesDeletesAndRecreates() {
        var store = ObjectStore(resource: .pods)
        var model = Set<String>()
        var rng = SplitMix64(seed: 7)
        for step in 0..<2000 {
            let name = "p\(rng.next() % 300)"
            if rng.next() % 3 == 0 {
                store.remove("default/\(name)")
                model.remove("default/\(name)")
            } else {
                store.put(pod(name))
                model.insert("default/\(name)")
            }
            if step % 37 == 0 { #expect(store.orderedKeys() == model.sorted()) }
        }
        #expect(store.orderedKeys() == model.sorted())
        #expect(store.count == model.count)
    }

    @Test func indexFollowsTheIndexedField() {
        var store = ObjectStore(resource: .pods)
        store.put(pod("a", node: "n1"))
        store.put(pod("b", node: "n1"))
        store.put(pod("c", node: "n2"))
        #expect(store.keys(indexedBy: "n1") == ["default/a", "default/b"])
        store.put(pod("a", node: "n2"))
        #expect(store.keys(indexedBy: "n1") == ["default/b"])
        #expect(store.keys(indexedBy: "n2") == ["default/a", "default/c"])
        store.remove("default/c")
        store.remove("default/b")
        #expect(store.keys(indexedBy: "n2") == ["default/a"])
        #expect(store.index["n1"] == nil)
    }

    @Test func namespaceRangeIsExact() {
        var store = ObjectStore(resource: .pods)
        for ns in ["a", "ab", "b", "a-b"] { for n in ["x", "y"] { store.put(pod(n, ns: ns)) } }
        #expect(store.keys(inNamespace: "a") == ["a/x", "a/y"])
        #expect(store.keys(inNamespace: "ab") == ["ab/x", "ab/y"])
        #expect(store.keys(inNamespace: "zz") == [])
    }
}

/// A small deterministic generator, so randomized tests replay exactly.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
