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
