import Testing
@testable import WatchCache

@Suite struct SlowWatcherTests {
    let configuration = CacheConfiguration(watcherQueueLimit: 2)

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
        let cache = ResourceCache(resource: .pods, configuration: CacheConfiguration(watcherQueueLimit: 1), clock: clock, logger: logs.logger)
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
