import Testing
@testable import WatchCache

/// kube-apiserver's policy (`slowWatchers: .terminate`): a watcher that stays full past its share
/// of the budget is ended.
@Suite struct SlowWatcherTests {
    let configuration = CacheConfiguration(watcherQueueLimit: 2, slowWatchers: .terminate)

    @Test func aWatcherThatStaysFullPastTheBudgetIsEndedAndCounted() throws {
        let f = Fixture(configuration: configuration)
        let fast = try f.watchPods(WatchOptions(resourceVersion: "0"))
        let slow = try f.watchPods(WatchOptions(resourceVersion: "0"))
        _ = drain(fast); _ = drain(slow)
        for i in 1...3 { f.createPod("p\(i)") }
        #expect(drain(fast).events.count == 3)
        f.advance(.milliseconds(99))
        #expect(!slow.isFinished)
        f.advance(.milliseconds(1))
        #expect(slow.isFinished)
        let (events, end) = drain(slow)
        #expect(events.isEmpty)
        #expect(end == .terminatedSlow)
        #expect(f.pods.statistics().watchersTerminated == 1)
        f.createPod("p4")
        #expect(summary(drain(fast).events) == ["ADDED p4@4"])
    }

    @Test func aWatcherThatDrainsInTimeStaysAndTheBudgetIsReturned() throws {
        let f = Fixture(configuration: configuration)
        let w = try f.watchPods(WatchOptions(resourceVersion: "0"))
        _ = drain(w)
        for i in 1...3 { f.createPod("p\(i)") }
        f.advance(.milliseconds(10))
        #expect(drain(w).events.count == 3)
        f.advance(.milliseconds(200))
        #expect(!w.isFinished)
        #expect(f.pods.state.withLock { $0.budget.available } >= .milliseconds(90))
    }

    @Test func anExhaustedBudgetEndsTheNextBlockedWatcherAtOnce() throws {
        let f = Fixture(configuration: configuration)
        let first = try f.watchPods(WatchOptions(resourceVersion: "0"))
        _ = drain(first)
        for i in 1...3 { f.createPod("a\(i)") }
        f.advance(.milliseconds(100))
        #expect(first.isFinished)
        let second = try f.watchPods(WatchOptions(resourceVersion: "0"))
        _ = drain(second)
        for i in 1...3 { f.createPod("b\(i)") }
        // 100 ms after the first window the budget has refilled 5 ms: that is all the second gets.
        f.advance(.milliseconds(4))
        #expect(!second.isFinished)
        f.advance(.milliseconds(2))
        #expect(second.isFinished)
    }

    @Test func aQueueFarPastItsLimitEndsImmediately() throws {
        let f = Fixture(configuration: configuration)
        let w = try f.watchPods(WatchOptions(resourceVersion: "0"))
        _ = drain(w)
        for i in 1...105 { f.createPod("p\(i)") }
        #expect(w.isFinished)
    }

    @Test func budgetRefillsFiftyMillisecondsPerSecondUpToAHundred() {
        var budget = TimeBudget(now: .seconds(0))
        #expect(budget.takeAvailable(now: .seconds(0)) == .milliseconds(100))
        budget.refill(now: .seconds(1))
        #expect(budget.available == .milliseconds(50))
        budget.refill(now: .seconds(10))
        #expect(budget.available == .milliseconds(100))
        budget.returnUnused(.milliseconds(30))
        #expect(budget.available == .milliseconds(100))
    }
}

/// The default policy (`slowWatchers: .park`): a watcher that falls behind reads the window at its
/// own pace and goes live again; it ends only when the window lost its next event.
@Suite struct ParkedWatcherTests {
    let configuration = CacheConfiguration(watcherQueueLimit: 2)

    @Test func aWatcherThatFallsBehindCatchesUpFromTheWindowAndGoesLive() throws {
        let f = Fixture(configuration: configuration)
        let fast = try f.watchPods(WatchOptions(resourceVersion: "0"))
        let slow = try f.watchPods(WatchOptions(resourceVersion: "0"))
        _ = drain(fast); _ = drain(slow)
        let initBefore = f.pods.statistics().initEvents
        var fastEvents = 0
        for i in 1...10 {
            f.createPod("p\(i)")
            fastEvents += drain(fast).events.count
        }
        // Two queued, then parked at the third: its queue never grows past the limit.
        #expect(slow.state.withLock { $0.queue.count } == 2)
        #expect(f.pods.statistics().watchersParked == 1)
        f.advance(.seconds(10))
        #expect(!slow.isFinished && f.pods.statistics().watchersTerminated == 0)
        #expect(fastEvents == 10)
        // Every event, once, in order: the two queued, then the window from the third.
        #expect(summary(drain(slow).events) == (1...10).map { "ADDED p\($0)@\($0)" })
        let stats = f.pods.statistics()
        #expect(stats.parkedReplayEvents == 8 && stats.initEvents == initBefore)
        // Live again.
        f.createPod("p11")
        #expect(summary(drain(slow).events) == ["ADDED p11@11"])
        #expect(slow.state.withLock { $0.isLive })
    }

    @Test func aParkedWatcherEndsWhenTheWindowLostItsNextEvent() throws {
        let f = Fixture(configuration: CacheConfiguration(history: HistoryWindow(minimumEvents: 4, maximumEvents: 4), watcherQueueLimit: 2))
        let w = try f.watchPods(WatchOptions(resourceVersion: "0"))
        _ = drain(w)
        for i in 1...10 { f.createPod("p\(i)") }
        // Parked at event 3; the window holds 7...10: ended as soon as event 3 left it, without a
        // pull (a client that stopped reading does not keep its stream).
        #expect(w.isFinished && f.pods.statistics().currentWatchers == 0)
        let (events, end) = drain(w)
        #expect(summary(events) == ["ADDED p1@1", "ADDED p2@2"])
        #expect(end == .historyLost)
        // Resuming from its last version is the 410 it gets anyway.
        #expect(summary(drain(try f.watchPods(WatchOptions(resourceVersion: "2"))).events) == ["ERROR 410"])
    }

    @Test func aPinnedWatcherCatchesUpOnItsOwnEvents() throws {
        let f = Fixture(configuration: configuration)
        let w = try f.watchPods(WatchOptions(resourceVersion: "0", fieldSelector: "spec.nodeName=n1"))
        _ = drain(w)
        for i in 1...30 { f.createPod("p\(i)", node: i % 3 == 0 ? "n1" : "n2") }
        #expect(f.pods.statistics().watchersParked == 1)
        #expect(summary(drain(w).events) == stride(from: 3, through: 30, by: 3).map { "ADDED p\($0)@\($0)" })
        // Indexed replay: only node n1's events after the parking one were examined.
        #expect(f.pods.statistics().parkedReplayEvents == 8)
    }

    @Test func aWatcherThatParksAgainAndAgainIsListedOnce() throws {
        let f = Fixture(configuration: configuration)
        let w = try f.watchPods(WatchOptions(resourceVersion: "0"))
        _ = drain(w)
        for round in 0..<5 {
            for i in 0..<4 { f.createPod("r\(round)-\(i)") }
            #expect(f.pods.state.withLock { $0.parked.count } == 1)
            #expect(drain(w).events.count == 4)
            #expect(f.pods.state.withLock { $0.parked.isEmpty })  // live again: off the list
        }
        #expect(f.pods.statistics().watchersParked == 5)
    }

    @Test func aRelistOrACloseEndsParkedAndReplayingWatchers() throws {
        let f = Fixture(configuration: configuration)
        let parked = try f.watchPods(WatchOptions(resourceVersion: "0"))
        _ = drain(parked)
        for i in 1...6 { f.createPod("p\(i)") }
        // A resume that has not pulled its replay yet.
        let replaying = try f.watchPods(WatchOptions(resourceVersion: "1"))
        #expect(f.pods.state.withLock { $0.parked.count } == 1)
        f.pods.replace(with: StoreSnapshot(objects: [], version: ResourceVersion(100)))
        #expect(parked.isFinished && f.pods.state.withLock { $0.parked.isEmpty })
        #expect(drain(parked).end == .cacheReset)
        // Its position belongs to the old log: the new one's positions continue after it.
        #expect(drain(replaying).end == .historyLost)
        #expect(f.pods.statistics().currentWatchers == 0)

        let g = Fixture(configuration: configuration)
        let w = try g.watchPods(WatchOptions(resourceVersion: "0"))
        _ = drain(w)
        for i in 1...6 { g.createPod("p\(i)") }
        g.pods.close()
        #expect(w.isFinished && g.pods.state.withLock { $0.parked.isEmpty })
        #expect(drain(w).end == .cacheClosed)
    }

    @Test func aQueueLimitOfZeroIsOne() throws {
        let f = Fixture(configuration: CacheConfiguration(watcherQueueLimit: 0))
        let w = try f.watchPods(WatchOptions(resourceVersion: "0"))
        _ = drain(w)
        f.createPod("p1")
        #expect(summary(drain(w).events) == ["ADDED p1@1"])
        #expect(f.pods.statistics().watchersParked == 0)
    }

    @Test func aBookmarkDueWhileParkedComesWhenItIsLiveAgain() throws {
        let f = Fixture(configuration: configuration)
        let w = try f.watchPods(WatchOptions(resourceVersion: "0", allowWatchBookmarks: true))
        _ = drain(w)
        for i in 1...5 { f.createPod("p\(i)") }
        f.advance(.seconds(61))
        let events = drain(w).events
        #expect(summary(events.filter { $0.type != .bookmark }) == (1...5).map { "ADDED p\($0)@\($0)" })
        // Never a bookmark ahead of an event it has not received.
        if let b = events.firstIndex(where: { $0.type == .bookmark }) { #expect(b == events.count - 1 && events[b].resourceVersion == ResourceVersion(5)) }
        #expect(!w.isFinished)
    }
}

import Logging
import Synchronization

/// Captures log messages for assertions.
final class CapturedLogs: Sendable {
    let messages = Mutex<[String]>([])

    var logger: Logger {
        Logger(label: "test") { _ in CapturingHandler(sink: self) }
    }

    struct CapturingHandler: LogHandler {
        let sink: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            sink.messages.withLock { $0.append(event.message.description) }
        }
    }
}

@Suite struct SlowWatcherLogTests {
    @Test func terminationIsLoggedInKubeApiserversWords() throws {
        let logs = CapturedLogs()
        let clock = ManualClock()
        let cache = ResourceCache(resource: .pods, configuration: CacheConfiguration(watcherQueueLimit: 1, slowWatchers: .terminate),
                                  clock: clock, logger: logs.logger)
        let w = try cache.watch(WatchOptions(resourceVersion: "0")) {}
        _ = drain(w)
        for v in UInt64(1)...3 {
            try cache.apply(.put(try KubeObject(json: Fixture.podJSON("p\(v)"), resource: .pods).withResourceVersion(ResourceVersion(v))))
        }
        clock.advance(by: .milliseconds(100))
        cache.tick()
        let messages = logs.messages.withLock { $0 }
        #expect(messages.count == 1)
        #expect(messages.first?.hasPrefix("Forcing pods watcher close due to unresponsiveness: watcher 1 of pods") == true)
        #expect(messages.first?.hasSuffix("len(c.result) = 3, graceful = false") == true)
    }
}
