import Testing
@testable import WatchCache

@Suite struct BookmarkTests {
    @Test func aBookmarkEveryMinuteCarryingTheNewestGlobalVersion() throws {
        let f = Fixture()
        f.createPod("a")
        let w = try f.watchPods(WatchOptions(resourceVersion: "1", allowWatchBookmarks: true, fieldSelector: "spec.nodeName=n1"))
        f.createConfigMap("x")   // 2: another resource
        f.createPod("b")         // 3: a pod this watcher does not select
        f.advance(.seconds(59))
        #expect(drain(w).events.isEmpty)
        f.advance(.seconds(1))
        let events = drain(w).events
        #expect(summary(events) == ["BOOKMARK@3"])
        #expect(text(events[0].line) == #"{"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"3"}}}"# + "\n")
        f.createConfigMap("y")   // 4
        f.advance(.seconds(60))
        #expect(summary(drain(w).events) == ["BOOKMARK@4"])
        #expect(f.pods.statistics().bookmarksDelivered == 2)
    }

    @Test func noBookmarkWhenNothingNewHappened() throws {
        let f = Fixture()
        f.createPod("a")
        let w = try f.watchPods(WatchOptions(resourceVersion: "1", allowWatchBookmarks: true))
        f.advance(.seconds(60))
        #expect(drain(w).events.isEmpty)
        f.createPod("b")
        #expect(summary(drain(w).events) == ["ADDED b@2"])
        f.advance(.seconds(60))
        #expect(drain(w).events.isEmpty)  // 2 was already delivered
    }

    @Test func onlyWatchersThatAskedGetBookmarks() throws {
        let f = Fixture()
        let w = try f.watchPods(WatchOptions(resourceVersion: "0"))
        f.createConfigMap("x")
        f.advance(.seconds(120))
        #expect(drain(w).events.isEmpty)
    }

    @Test func aBookmarkTwoSecondsBeforeTheDeadlineThenACleanEnd() throws {
        let f = Fixture()
        let w = try f.watchPods(WatchOptions(resourceVersion: "0", allowWatchBookmarks: true, timeoutSeconds: 30))
        f.createConfigMap("x")
        f.advance(.seconds(27))
        #expect(drain(w).events.isEmpty)
        f.advance(.seconds(1))   // 28 s = deadline - 2 s
        #expect(summary(drain(w).events) == ["BOOKMARK@1"])
        f.advance(.milliseconds(1900))
        #expect(drain(w).end == nil)
        f.advance(.milliseconds(100))  // 30 s
        #expect(drain(w).end == .timeout)
        #expect(f.pods.statistics().currentWatchers == 0)
    }

    @Test func theBookmarkGoesAfterQueuedEventsAndNeverBehindThem() throws {
        let f = Fixture()
        let w = try f.watchPods(WatchOptions(resourceVersion: "0", allowWatchBookmarks: true))
        f.createPod("a")
        f.createConfigMap("x")
        f.advance(.seconds(60))
        #expect(summary(drain(w).events) == ["ADDED a@1", "BOOKMARK@2"])
    }

    @Test func noBookmarkBeforeAnyWrite() throws {
        let f = Fixture()
        let w = try f.watchPods(WatchOptions(resourceVersion: "0", allowWatchBookmarks: true))
        f.advance(.seconds(61))
        #expect(drain(w).events.isEmpty)
    }

    @Test func timeoutWithoutBookmarksEndsExactlyAtTheDeadline() throws {
        let f = Fixture()
        let w = try f.watchPods(WatchOptions(resourceVersion: "0", timeoutSeconds: 5))
        f.createPod("a")
        f.advance(.milliseconds(4999))
        #expect(drain(w).end == nil)
        f.advance(.milliseconds(1))
        let (events, end) = drain(w)
        #expect(events.isEmpty)
        #expect(end == .timeout)
    }

    @Test func aNegativeTimeoutEndsTheWatchAtOnceWithNothingSent() throws {
        let f = Fixture()
        f.createPod("a")
        for rv in ["0", "1"] {
            let w = try f.watchPods(WatchOptions(resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds: -5))
            let (events, end) = drain(w)
            #expect(events.isEmpty)
            #expect(end == .timeout)
        }
        // 0 is no deadline in the library (a server fills in its default).
        let open = try f.watchPods(WatchOptions(resourceVersion: "1", timeoutSeconds: 0))
        f.advance(.seconds(3600))
        #expect(drain(open).end == nil)
    }

    @Test func closingSendsALastBookmarkAtTheNewestVersionToThoseWhoAskedForThem() throws {
        let f = Fixture()
        f.createPod("a", node: "n1")                                                            // 1
        let withBookmarks = try f.watchPods(WatchOptions(resourceVersion: "1", allowWatchBookmarks: true, fieldSelector: "spec.nodeName=n1"))
        let without = try f.watchPods(WatchOptions(resourceVersion: "1", fieldSelector: "spec.nodeName=n1"))
        f.createPod("b", node: "n2")                                                            // 2: neither sees it
        f.createConfigMap("c")                                                                  // 3
        f.registry.close()
        let (events, end) = drain(withBookmarks)
        #expect(summary(events) == ["BOOKMARK@3"])
        #expect(end == .cacheClosed)
        let (others, otherEnd) = drain(without)
        #expect(others.isEmpty && otherEnd == .cacheClosed)
    }
}
