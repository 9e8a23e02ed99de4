import Testing
import Synchronization
@testable import WatchCache

/// Each watch start's init events, recorded once it has caught up (`watchcache_watch_init_events`).
@Suite struct InitEventHistogramTests {
    @Test func eachWatchStartRecordsWhatItScanned() throws {
        let f = Fixture(configuration: CacheConfiguration(watchReplay: .scan))
        let first = f.createPod("a", node: "n1")
        for i in 0..<30 { _ = f.createPod("p\(i)", node: "n2") }
        // Resumes after `first`: 30 events scanned, none of them for node n1.
        let resumed = try f.watchPods(WatchOptions(resourceVersion: first.resourceVersion.description, fieldSelector: "spec.nodeName=n1"))
        #expect(drain(resumed).events.isEmpty)
        // At the newest version: nothing to scan. From "0": a snapshot of the 31 pods.
        _ = try f.watchPods(WatchOptions(resourceVersion: f.pods.currentVersion.description))
        let listed = try f.watchPods(WatchOptions(resourceVersion: "0"))
        #expect(drain(listed).events.count == 31)
        let h = f.pods.statistics().watchInitEvents
        #expect(h.count == 3)
        #expect(h.sum == 30 + 31)
        #expect(h.bucketCounts[0] == 1)  // le 0
        #expect(h.bucketCounts[InitEventHistogram.bounds.firstIndex(of: 50)!] == 2)  // 30 and 31 fall in (20, 50]
        #expect(h.quantileUpperBound(0.99) == 50)
        #expect(h.quantileUpperBound(0.3) == 0)
    }

    @Test func expiredWatchesRecordNothing() throws {
        let f = Fixture(configuration: CacheConfiguration(history: HistoryWindow(minimumEvents: 4, maximumEvents: 4)))
        for i in 0..<10 { _ = f.createPod("p\(i)") }
        let w = try f.watchPods(WatchOptions(resourceVersion: "1"))
        #expect(drain(w).end == .error(Status.tooOldResourceVersion(ResourceVersion(1), oldest: ResourceVersion(6))))
        #expect(f.pods.statistics().watchInitEvents.count == 0)
    }
}

/// A long-lived watch is woken once per event: the wake-up must cost the same on the 100,000th
/// event as on the first (a closure kept bare in a Mutex was re-wrapped on every wake-up, so each
/// call went through one more layer of thunks than the last).
@Suite struct WakeUpTests {
    @Test func aWatcherWokenManyTimesKeepsWaking() throws {
        let f = Fixture()
        let woken = Counter()
        let w = try f.pods.watch(WatchOptions(resourceVersion: f.pods.currentVersion.description)) { woken.increment() }
        _ = f.createPod("p")
        var pulls = 0
        for i in 0..<100_000 {
            if !w.next(maxEvents: 10).isPending { pulls += 1 }  // take the event; the next pull arms a wake-up
            if w.next(maxEvents: 10).isPending { pulls += 1 }
            _ = f.updatePod("p", labels: ["n": "\(i % 7)"])
        }
        #expect(pulls == 200_000)
        #expect(woken.value == 100_000)
    }
}

final class Counter: Sendable {
    private let count = Mutex(0)
    func increment() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
