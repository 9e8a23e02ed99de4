import Testing
@testable import WatchCache

@Suite struct WatchStartTests {
    @Test(arguments: [nil, "0"] as [String?])
    func unsetOrZeroSendsTheCurrentStateAsAddedInKeyOrderThenChanges(rv: String?) throws {
        let f = Fixture()
        f.createPod("b")
        f.createPod("a")
        f.createPod("c", namespace: "a-ns")
        let w = try f.watchPods(WatchOptions(resourceVersion: rv))
        f.createPod("d")
        #expect(summary(drain(w).events) == ["ADDED c@3", "ADDED a@2", "ADDED b@1", "ADDED d@4"])
    }

    @Test func anExplicitVersionReplaysOnlyLaterChanges() throws {
        let f = Fixture()
        f.createPod("a")
        f.createPod("b")
        f.updatePod("a", node: "n1")
        let w = try f.watchPods(WatchOptions(resourceVersion: "1"))
        #expect(summary(drain(w).events) == ["ADDED b@2", "MODIFIED a@3"])
    }

    @Test func aVersionAheadOfTheCacheWaitsForNewerChanges() throws {
        let f = Fixture()
        f.createPod("a")
        let w = try f.watchPods(WatchOptions(resourceVersion: "3"))
        #expect(drain(w).events.isEmpty)
        f.createPod("b")  // 2
        f.createPod("c")  // 3
        f.createPod("d")  // 4
        #expect(summary(drain(w).events) == ["ADDED d@4"])
    }

    @Test func tooOldVersionIsOneErrorEventWith410ExpiredThenTheEnd() throws {
        let f = Fixture(configuration: CacheConfiguration(history: HistoryWindow(minimumEvents: 4, maximumEvents: 4)))
        for i in 1...10 { f.createPod("p\(i)") }
        // Window holds events 7...10, so versions 6 and later are resumable.
        let expired = try f.watchPods(WatchOptions(resourceVersion: "5"))
        let (events, end) = drain(expired)
        #expect(events.count == 1)
        #expect(events[0].type == .error)
        #expect(text(events[0].line) == #"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 5 (6)","reason":"Expired","code":410}}"# + "\n")
        #expect(end == .error(.tooOldResourceVersion(ResourceVersion(5), oldest: ResourceVersion(6))))
        #expect(f.pods.statistics().watchesExpired == 1)

        let boundary = try f.watchPods(WatchOptions(resourceVersion: "6"))
        #expect(summary(drain(boundary).events) == ["ADDED p7@7", "ADDED p8@8", "ADDED p9@9", "ADDED p10@10"])
    }

    @Test func beforeAnyEvictionTheHistoryReachesBackToTheCachesStart() throws {
        let f = Fixture()
        let w = try f.watchPods(WatchOptions(resourceVersion: "0"))
        #expect(drain(w).events.isEmpty)
        f.createConfigMap("x")  // version 1, other resource
        let late = try! f.registry.register(ResourceDescriptor(plural: "widgets", kind: "Widget"))
        // The widgets cache starts at version 1: a watch from 0... is "0" (any); from 1 is fine.
        #expect(throws: Never.self) { try late.watch(WatchOptions(resourceVersion: "1")) {} }
        f.createConfigMap("y")  // 2
        let fromStart = try late.watch(WatchOptions(resourceVersion: "1")) {}
        #expect(drain(fromStart).end == nil)
    }

    @Test func aCacheStartedLaterRefusesVersionsBeforeItsStart() throws {
        let f = Fixture()
        f.createConfigMap("x")
        f.createConfigMap("y")
        let widgets = try f.registry.register(ResourceDescriptor(plural: "widgets", kind: "Widget"))
        let w = try widgets.watch(WatchOptions(resourceVersion: "1")) {}
        #expect(drain(w).events.map(\.status?.message) == ["too old resource version: 1 (2)"])
    }

    @Test func invalidVersionIs400() {
        let f = Fixture()
        #expect {
            try f.watchPods(WatchOptions(resourceVersion: "abc"))
        } throws: { ($0 as? Status)?.code == 400 && ($0 as? Status)?.message.contains("\"abc\"") == true }
    }

    @Test func eventLinesAreKubernetesWatchEvents() throws {
        let f = Fixture()
        let w = try f.watchPods(WatchOptions(resourceVersion: "0"))
        let created = f.createPod("a", node: "n1")
        let line = text(drain(w).events[0].line)
        #expect(line == #"{"type":"ADDED","object":"# + text(created.encoded) + "}\n")
        #expect(line.hasSuffix("}}\n"))
        #expect(text(created.encoded).contains(#""resourceVersion":"1""#))
        #expect(text(created.encoded).hasPrefix(#"{"metadata":{"name":"a","namespace":"default","uid":"#))
    }

    @Test func everyReceiverSharesTheSameEncodedBytes() throws {
        let f = Fixture()
        let w1 = try f.watchPods(WatchOptions(resourceVersion: "0"))
        let w2 = try f.watchPods(WatchOptions(resourceVersion: "0", labelSelector: "app"))
        f.createPod("a", labels: ["app": "x"])
        let e1 = drain(w1).events[0], e2 = drain(w2).events[0]
        let p1 = e1.body.withUnsafeBufferPointer { $0.baseAddress }
        let p2 = e2.body.withUnsafeBufferPointer { $0.baseAddress }
        #expect(p1 == p2)
    }

    @Test(arguments: WatchReplay.allCases)
    func initEventsCountEveryExaminedEventWhetherOrNotItMatches(replay: WatchReplay) throws {
        let f = Fixture(configuration: CacheConfiguration(watchReplay: replay))
        for i in 1...10 { f.createPod("p\(i)", node: i == 3 || i == 8 ? "n1" : "n2") }
        let before = f.pods.statistics().initEvents
        let w = try f.watchPods(WatchOptions(resourceVersion: "0", fieldSelector: "spec.nodeName=n1"))
        #expect(summary(drain(w).events) == ["ADDED p3@3", "ADDED p8@8"])
        // The store is indexed by node: two objects considered.
        #expect(f.pods.statistics().initEvents - before == 2)
        let resumed = try f.watchPods(WatchOptions(resourceVersion: "4", fieldSelector: "spec.nodeName=n1"))
        #expect(summary(drain(resumed).events) == ["ADDED p8@8"])
        // A scan examines the six events after version 4, matching or not; the indexed replay
        // only the one of node n1.
        #expect(f.pods.statistics().initEvents - before == 2 + (replay == .scan ? 6 : 1))
    }
}

/// Indexed replay (the default): a resume pinned to a node, an object or a namespace visits only
/// that pin's events, sees every selector transition, and expires exactly as a scan does.
@Suite struct IndexedReplayTests {
    @Test func aResumeVisitsOnlyItsPinsEventsAndSeesEveryTransition() throws {
        let f = Fixture()
        let start = f.createPod("mover", node: "n1").resourceVersion.description
        for i in 0..<50 { f.createPod("other\(i)", node: "n3") }
        f.updatePod("mover", node: "n2")  // 52: leaves n1, enters n2
        f.createPod("lone", namespace: "quiet", node: "n3")  // 53
        f.updatePod("mover", node: "n2", labels: ["app": "x"])  // 54: stays on n2
        let before = f.pods.statistics().initEvents
        func resume(_ fieldSelector: String, namespace: String? = nil) throws -> [String] {
            summary(drain(try f.watchPods(WatchOptions(resourceVersion: start, fieldSelector: fieldSelector, namespace: namespace))).events)
        }
        #expect(try resume("spec.nodeName=n1") == ["DELETED mover@52"])
        #expect(try resume("spec.nodeName=n2") == ["ADDED mover@52", "MODIFIED mover@54"])
        #expect(try resume("metadata.name=mover", namespace: "default") == ["MODIFIED mover@52", "MODIFIED mover@54"])
        #expect(try resume("", namespace: "quiet") == ["ADDED lone@53"])
        // Pinned twice: the shorter list (node n1 has one event, the object two).
        #expect(try resume("spec.nodeName=n1,metadata.name=mover", namespace: "default") == ["DELETED mover@52"])
        // Examined: 1 + 2 + 2 + 1 + 1 of the 53 events after the start; a scan would take 5 x 53.
        #expect(f.pods.statistics().initEvents - before == 7)
        // Nothing of the pin since the start: live at once, nothing examined.
        #expect(try resume("spec.nodeName=n9").isEmpty)
        #expect(f.pods.statistics().initEvents - before == 7)
    }

    @Test(arguments: WatchReplay.allCases)
    func expiresExactlyWhereAScanDoes(replay: WatchReplay) throws {
        let f = Fixture(configuration: CacheConfiguration(history: HistoryWindow(minimumEvents: 4, maximumEvents: 4), watchReplay: replay))
        for i in 1...10 { f.createPod("p\(i)", node: i == 2 ? "n1" : "n2") }
        // The window holds 7...10: resumable from 6; version 5 is gone, for a pinned watch too.
        #expect(summary(drain(try f.watchPods(WatchOptions(resourceVersion: "5", fieldSelector: "spec.nodeName=n1"))).events) == ["ERROR 410"])
        #expect(summary(drain(try f.watchPods(WatchOptions(resourceVersion: "6", fieldSelector: "spec.nodeName=n1"))).events).isEmpty)
        #expect(summary(drain(try f.watchPods(WatchOptions(resourceVersion: "6", fieldSelector: "spec.nodeName=n2"))).events)
                == ["ADDED p7@7", "ADDED p8@8", "ADDED p9@9", "ADDED p10@10"])
    }
}

@Suite struct WatchListTests {
    let watchList = WatchOptions(resourceVersionMatch: "NotOlderThan", sendInitialEvents: true, allowWatchBookmarks: true)

    @Test func initialEventsThenTheAnnotatedBookmarkThenChanges() throws {
        let f = Fixture()
        f.createPod("a")
        f.createConfigMap("x")  // moves the global version to 2
        let w = try f.watchPods(watchList)
        f.createPod("b")
        let events = drain(w).events
        #expect(summary(events) == ["ADDED a@1", "BOOKMARK@2", "ADDED b@3"])
        #expect(events[1].isInitialEventsEnd)
        #expect(text(events[1].line) == #"{"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"2","annotations":{"k8s.io/initial-events-end":"true"}}}}"# + "\n")
    }

    @Test func withoutBookmarksThereIsNoEndMarker() throws {
        let f = Fixture()
        f.createPod("a")
        var options = watchList
        options.allowWatchBookmarks = false
        let w = try f.watchPods(options)
        #expect(summary(drain(w).events) == ["ADDED a@1"])
    }

    @Test func sendInitialEventsFalseStartsAtTheCurrentVersion() throws {
        let f = Fixture()
        f.createPod("a")
        var options = watchList
        options.sendInitialEvents = false
        let w = try f.watchPods(options)
        f.createPod("b")
        #expect(summary(drain(w).events) == ["ADDED b@2"])
    }

    @Test func aVersionAheadWaitsThenSendsTheStateAtThatVersion() throws {
        let f = Fixture()
        f.createPod("a")
        var options = watchList
        options.resourceVersion = "3"
        let w = try f.watchPods(options)
        f.createPod("b")  // 2
        #expect(drain(w).events.isEmpty)
        f.createPod("c")  // 3: reached
        #expect(summary(drain(w).events) == ["ADDED a@1", "ADDED b@2", "ADDED c@3", "BOOKMARK@3"])
    }

    @Test func aVersionNeverReachedIs504AfterThreeSeconds() throws {
        let f = Fixture()
        f.createPod("a")
        var options = watchList
        options.resourceVersion = "50"
        let w = try f.watchPods(options)
        f.advance(.milliseconds(2900))
        #expect(drain(w).events.isEmpty)
        f.advance(.milliseconds(200))
        let (events, end) = drain(w)
        #expect(text(events.first?.body ?? []) == #"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Timeout: Too large resource version: 50, current: 1","reason":"Timeout","details":{"causes":[{"reason":"ResourceVersionTooLarge","message":"Too large resource version"}],"retryAfterSeconds":1},"code":504}"#)
        #expect(end == .error(.tooLargeResourceVersion(ResourceVersion(50), current: ResourceVersion(1))))
    }

    @Test(arguments: [
        (WatchOptions(sendInitialEvents: true),
         #"ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"#),
        (WatchOptions(resourceVersionMatch: "NotOlderThan"),
         #"ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"#),
        (WatchOptions(resourceVersionMatch: "Exact", sendInitialEvents: true),
         #"ListOptions.meta.k8s.io "" is invalid: [resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan, resourceVersionMatch: Unsupported value: "Exact": supported values: "NotOlderThan"]"#),
    ])
    func validationIs422InvalidWithKubernetesMessages(options: WatchOptions, message: String) {
        let f = Fixture()
        do {
            _ = try f.watchPods(options)
            Issue.record("accepted")
        } catch {
            #expect(error.code == 422)
            #expect(error.reason == .invalid)
            #expect(error.message == message)
            #expect(error.details?.kind == "ListOptions")
            #expect(error.details?.group == "meta.k8s.io")
        }
    }
}

@Suite struct WatcherLifetimeTests {
    final class Consumer: Sendable {}

    @Test func anEndedWatchReleasesWhatItsCallbackCaptured() throws {
        let f = Fixture()
        weak var weakConsumer: Consumer?
        var cancelled: Watcher?
        var timedOut: Watcher?
        do {
            let consumer = Consumer()
            weakConsumer = consumer
            cancelled = try f.pods.watch(WatchOptions(resourceVersion: "0", allowWatchBookmarks: true, timeoutSeconds: 3600)) { _ = consumer }
            timedOut = try f.pods.watch(WatchOptions(resourceVersion: "0", timeoutSeconds: 1)) { _ = consumer }
        }
        _ = drain(cancelled!)
        _ = drain(timedOut!)
        cancelled!.cancel()
        f.advance(.seconds(1))  // the other times out and is told so once
        #expect(drain(timedOut!).end == .timeout)
        // Both are still in the timer wheels, but neither holds the consumer any more.
        #expect(weakConsumer == nil)
    }

    @Test func aConsumerThatSeesTheEndReleasesTheCallback() throws {
        let f = Fixture()
        weak var weakConsumer: Consumer?
        var w: Watcher?
        do {
            let consumer = Consumer()
            weakConsumer = consumer
            w = try f.pods.watch(WatchOptions(resourceVersion: "0", timeoutSeconds: 1)) { _ = consumer }
        }
        f.advance(.seconds(1))  // ends while nobody waits: no wake-up is sent
        #expect(weakConsumer != nil)
        #expect(drain(w!).end == .timeout)
        #expect(weakConsumer == nil)
    }
}

@Suite struct CacheLifetimeTests {
    /// Ended watchers stay in the cache's timer wheels until their due time, and each refers to its
    /// cache: closing the cache empties the wheels, so a closed cache is freed (found by fuzzing:
    /// LeakSanitizer reported every cache that had had a watch with a deadline).
    @Test func aClosedCacheIsFreedEvenWithEndedWatchersWaitingInItsTimerWheels() throws {
        weak var freed: ResourceCache?
        var replaying: Watcher?
        do {
            let cache = ResourceCache(resource: .pods, clock: ManualClock(), version: ResourceVersion(3))
            freed = cache
            let cancelled = try cache.watch(WatchOptions(resourceVersion: "3", allowWatchBookmarks: true, timeoutSeconds: 3600)) {}
            cancelled.cancel()
            replaying = try cache.watch(WatchOptions(resourceVersion: "0", timeoutSeconds: 60)) {}
            cache.close()
        }
        #expect(replaying?.next(maxEvents: 10).end == .cacheClosed)
        replaying = nil
        #expect(freed == nil)
    }
}

