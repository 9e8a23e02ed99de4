import Testing
@testable import WatchCache

@Suite struct SelectorTransitionTests {
    @Test func labelSelectorTransitionsBecomeAddedModifiedDeleted() throws {
        let f = Fixture()
        let w = try f.watchPods(WatchOptions(resourceVersion: "0", labelSelector: "app=web"))
        f.createPod("p", labels: ["app": "db"])                   // 1: outside → nothing
        f.updatePod("p", labels: ["app": "web"])                   // 2: enters → ADDED
        f.updatePod("p", labels: ["app": "web"], phase: "Running") // 3: stays → MODIFIED
        f.updatePod("p", labels: ["app": "db"])                    // 4: leaves → DELETED (previous state, new RV)
        f.updatePod("p", labels: ["app": "web"])                   // 5: enters again → ADDED
        f.deletePod("p")                                           // 6: deleted → DELETED
        let events = drain(w).events
        #expect(summary(events) == ["ADDED p@2", "MODIFIED p@3", "DELETED p@4", "ADDED p@5", "DELETED p@6"])
        let departed = events[2].object!
        #expect(departed.labels == ["app": "web"])
        #expect(departed.fieldValue("status.phase") == "Running")
        #expect(departed.resourceVersion == ResourceVersion(4))
        #expect(text(departed.encoded).contains(#""resourceVersion":"4""#))
    }

    @Test func fieldSelectorTransitionsFollowTheNode() throws {
        let f = Fixture()
        let n1 = try f.watchPods(WatchOptions(resourceVersion: "0", fieldSelector: "spec.nodeName=n1"))
        let n2 = try f.watchPods(WatchOptions(resourceVersion: "0", fieldSelector: "spec.nodeName=n2"))
        let unscheduled = try f.watchPods(WatchOptions(resourceVersion: "0", fieldSelector: "spec.nodeName="))
        f.createPod("p")                // 1: unscheduled
        f.updatePod("p", node: "n1")    // 2: scheduled to n1
        f.updatePod("p", node: "n2")    // 3: moved to n2
        f.deletePod("p")                // 4
        #expect(summary(drain(unscheduled).events) == ["ADDED p@1", "DELETED p@2"])
        #expect(summary(drain(n1).events) == ["ADDED p@2", "DELETED p@3"])
        #expect(summary(drain(n2).events) == ["ADDED p@3", "DELETED p@4"])
    }

    @Test func namespaceAndNameScopes() throws {
        let f = Fixture()
        let inA = try f.watchPods(WatchOptions(resourceVersion: "0", namespace: "a"))
        let named = try f.watchPods(WatchOptions(resourceVersion: "0", fieldSelector: "metadata.name=x", namespace: "b"))
        let nameAnywhere = try f.watchPods(WatchOptions(resourceVersion: "0", fieldSelector: "metadata.name=x"))
        f.createPod("x", namespace: "a")
        f.createPod("y", namespace: "a")
        f.createPod("x", namespace: "b")
        f.createPod("y", namespace: "b")
        #expect(summary(drain(inA).events) == ["ADDED x@1", "ADDED y@2"])
        #expect(summary(drain(named).events) == ["ADDED x@3"])
        #expect(summary(drain(nameAnywhere).events) == ["ADDED x@1", "ADDED x@3"])
    }

    @Test func indexedDispatchVisitsOnlyTheWatchersOfTheOldAndNewNode() throws {
        let f = Fixture()
        var watchers: [Watcher] = []
        for i in 0..<1000 {
            watchers.append(try f.watchPods(WatchOptions(resourceVersion: "0", fieldSelector: "spec.nodeName=n\(i)")))
        }
        let unindexed = try f.watchPods(WatchOptions(resourceVersion: "0", labelSelector: "app"))
        for w in watchers + [unindexed] { _ = drain(w) }  // past the (empty) snapshot: live
        let before = f.createPod("p", node: "n5")
        let moved = f.updatePod("p", node: "n7")
        let event = CacheEvent(type: .modified, object: moved, previous: before, recordedAt: .seconds(0))
        var visited: [UInt64] = []
        f.pods.state.withLock { $0.watchers.forEachCandidate(for: event) { visited.append($0.id) } }
        #expect(Set(visited) == [watchers[5].id, watchers[7].id, unindexed.id])  // not the other 998
        #expect(summary(drain(watchers[5]).events) == ["ADDED p@1", "DELETED p@2"])
        #expect(summary(drain(watchers[7]).events) == ["ADDED p@2"])
        #expect(watchers.enumerated().allSatisfy { i, w in i == 5 || i == 7 || drain(w).events.isEmpty })
    }
}

@Suite struct HandOverTests {
    /// Writes interleaved with a slow, chunked replay: the stream must be every change after the
    /// start version exactly once, in order, across the replay → live switch.
    @Test func replayToLiveHasNoGapAndNoDuplicate() throws {
        let f = Fixture(configuration: CacheConfiguration(replayChunk: 3))
        for i in 1...20 { f.createPod("p\(i)") }
        let w = try f.watchPods(WatchOptions(resourceVersion: "5"))
        var seen: [UInt64] = []
        var next = 21
        while true {
            let batch = w.next(maxEvents: 2)
            seen += batch.events.map(\.resourceVersion.rawValue)
            if next <= 40 {
                f.createPod("p\(next)")
                next += 1
            } else if batch.isPending {
                break
            }
        }
        #expect(seen == Array(6...40))
    }

    @Test func snapshotThenLogThenLive() throws {
        let f = Fixture()
        for i in 1...10 { f.createPod("p\(i)") }
        let w = try f.watchPods(WatchOptions(resourceVersion: "0"))
        _ = w.next(maxEvents: 3)      // part of the snapshot
        f.updatePod("p1", node: "n")  // 11 — after the snapshot's version: must follow it
        f.deletePod("p2")             // 12
        let rest = summary(drain(w).events)
        #expect(rest.suffix(2) == ["MODIFIED p1@11", "DELETED p2@12"])
        #expect(rest.count == 7 + 2)
    }
}
