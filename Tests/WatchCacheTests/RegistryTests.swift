import Synchronization
import Testing
@testable import WatchCache

@Suite struct RegistryTests {
    @Test func createSetsServerMetadata() throws {
        let f = Fixture()
        let pod = f.createPod("a")
        let metadata = pod.json["metadata"]!.objectValue!
        #expect(pod.resourceVersion == ResourceVersion(1))
        #expect(metadata["uid"]?.stringValue?.count == 36)
        #expect(metadata["creationTimestamp"]?.stringValue?.hasSuffix("Z") == true)
        #expect(metadata["generation"] == .number("1"))
        #expect(pod.json["kind"] == .string("Pod"))
        #expect(pod.json["apiVersion"] == .string("v1"))
    }

    @Test func everyWriteGetsTheNextGlobalVersion() {
        let f = Fixture()
        #expect(f.createPod("a").resourceVersion.rawValue == 1)
        #expect(f.createConfigMap("x").resourceVersion.rawValue == 2)
        #expect(f.updatePod("a", node: "n").resourceVersion.rawValue == 3)
        #expect(f.deletePod("a").resourceVersion.rawValue == 4)
        #expect(f.registry.currentVersion.rawValue == 4)
        #expect(f.configMaps.currentVersion.rawValue == 4)  // advanced by the pod writes
    }

    @Test func duplicateCreateIs409AlreadyExists() {
        let f = Fixture()
        f.createPod("a")
        #expect(throws: Status(code: 409, reason: .alreadyExists, message: #"pods "a" already exists"#,
                               details: .init(name: "a", group: "", kind: "pods"))) {
            try f.registry.create(Fixture.podJSON("a"), in: .pods)
        }
    }

    @Test func staleUpdateIs409ConflictWithTheKubernetesMessage() throws {
        let f = Fixture()
        let pod = f.createPod("a")
        f.updatePod("a", node: "n")
        var stale = pod.json
        stale["spec"] = .object(JSONObject([("nodeName", .string("other"))]))
        do {
            _ = try f.registry.update(stale, in: .pods)
            Issue.record("accepted")
        } catch {
            #expect(text(error.encoded) == #"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Operation cannot be fulfilled on pods \"a\": the object has been modified; please apply your changes to the latest version and try again","reason":"Conflict","details":{"name":"a","kind":"pods"},"code":409}"#)
        }
    }

    @Test func updateKeepsIdentityAndBumpsGenerationOnSpecChangesOnly() throws {
        let f = Fixture()
        let created = f.createPod("a")
        let statusOnly = f.updatePod("a", phase: "Running")
        let specChange = f.updatePod("a", node: "n1", phase: "Running")
        #expect(statusOnly.generation == 1)
        #expect(specChange.generation == 2)
        #expect(specChange.uid == created.uid)
        #expect(specChange.json["metadata"]?["creationTimestamp"] == created.json["metadata"]?["creationTimestamp"])
    }

    @Test func missingObjectsAre404() {
        let f = Fixture()
        #expect(throws: Status.notFound(.pods, name: "x")) { try f.registry.update(Fixture.podJSON("x"), in: .pods) }
        #expect(throws: Status.notFound(.pods, name: "x")) { try f.registry.delete(.pods, namespace: "default", name: "x") }
    }

    @Test func deletePreconditionMismatchIs409() {
        let f = Fixture()
        f.createPod("a")
        #expect { try f.registry.delete(.pods, namespace: "default", name: "a", precondition: "7") } throws: {
            ($0 as! Status).code == 409 && ($0 as! Status).message.contains("Precondition failed: ResourceVersion in precondition: 7")
        }
        #expect(throws: Never.self) { try f.registry.delete(.pods, namespace: "default", name: "a", precondition: "1") }
    }

    @Test func dryRunAnswersButStoresAndEmitsNothing() throws {
        let f = Fixture()
        let w = try f.watchPods(WatchOptions(resourceVersion: "0"))
        let dry = try f.registry.create(Fixture.podJSON("a"), in: .pods, dryRun: true)
        #expect(dry.name == "a")
        #expect(f.registry.currentVersion == .zero)
        #expect(f.pods.get(namespace: "default", name: "a") == nil)
        #expect(drain(w).events.isEmpty)
    }

    @Test func createRefusesAVersionAndAForeignNamespace() {
        let f = Fixture()
        var withRV = Fixture.podJSON("a")
        var metadata = withRV["metadata"]!.objectValue!
        metadata["resourceVersion"] = .string("5")
        withRV["metadata"] = .object(metadata)
        #expect(throws: Status.badRequest("resourceVersion should not be set on objects to be created")) {
            try f.registry.create(withRV, in: .pods)
        }
        #expect { try f.registry.create(Fixture.podJSON("a", namespace: "x"), in: .pods, namespace: "y") } throws: { ($0 as! Status).code == 400 }
    }

    @Test func generateNameMakesAUniqueName() throws {
        let f = Fixture()
        let o = try f.registry.create(JSONObject(parsing: #"{"metadata":{"generateName":"web-"}}"#), in: .pods)
        #expect(o.name.hasPrefix("web-") && o.name.count == 9)
        #expect(o.namespace == "default")
    }

    @Test func malformedBodiesAreBadRequestsNotCrashes() {
        #expect { try KubeObject(bytes: Array("{nope".utf8), resource: .pods) } throws: { ($0 as! Status).code == 400 }
        #expect { try KubeObject(bytes: Array("[]".utf8), resource: .pods) } throws: { ($0 as! Status).code == 400 }
        #expect { try KubeObject(bytes: Array(#"{"metadata":{}}"#.utf8), resource: .pods) } throws: { ($0 as! Status).code == 422 }
        #expect { try KubeObject(bytes: Array(#"{"metadata":{"name":"a","labels":{"x":1}}}"#.utf8), resource: .pods) } throws: { ($0 as! Status).code == 400 }
    }

    @Test func anOutOfOrderFeedIsRefusedAndChangesNothing() throws {
        let f = Fixture()
        let pod = f.createPod("a")
        #expect { try f.pods.apply(.put(pod)) } throws: { ($0 as! Status).code == 500 }
        #expect(f.pods.statistics().eventsRecorded == 1)
    }
}

@Suite struct WatchStreamTests {
    /// Reads `stream` until it ends; returns the events and how it ended.
    func drain(_ stream: WatchStream) async -> (events: [WatchEvent], interruption: WatchInterruption?) {
        var events: [WatchEvent] = []
        do {
            for try await event in stream { events.append(event) }
            return (events, nil)
        } catch {
            return (events, error)
        }
    }

    @Test func theServerSideEndingAWatchThrowsWhereToResume() async throws {
        let f = Fixture()
        f.createPod("a")
        let stream = try f.pods.stream(WatchOptions(resourceVersion: "0", allowWatchBookmarks: true))
        let b = f.createPod("b")
        // Reads two events, then the cache closes under it: its last bookmark is at b's version.
        let iterator = stream.makeAsyncIterator()
        #expect(try await iterator.next()?.object?.name == "a")
        #expect(try await iterator.next()?.object?.name == "b")
        f.pods.close()
        do {
            while let event = try await iterator.next() { #expect(event.type == .bookmark) }
            Issue.record("a closed cache ended the stream without saying so")
        } catch {
            #expect(error.reason == .cacheClosed)
            #expect(error.resumeFrom == b.resourceVersion && !error.mustRelist)
        }
    }

    @Test func anExpiredVersionThrowsThatTheConsumerMustListAgain() async throws {
        var configuration = CacheConfiguration()
        configuration.history = HistoryWindow(minimumEvents: 2, maximumEvents: 2)
        let f = Fixture(configuration: configuration)
        let first = f.createPod("a")
        for name in ["b", "c", "d"] { f.createPod(name) }
        let (events, interruption) = await drain(try f.pods.stream(WatchOptions(resourceVersion: first.resourceVersion.description)))
        #expect(events.map(\.type) == [.error])
        #expect(events.first?.status?.code == 410)
        #expect(interruption?.mustRelist == true && interruption?.resumeFrom == nil)
    }

    @Test func aSlowConsumerEndedByTheCacheIsToldToResumeFromWhatItRead() async throws {
        let f = Fixture(configuration: CacheConfiguration(watcherQueueLimit: 2, slowWatchers: .terminate))
        let a = f.createPod("a")
        let stream = try f.pods.stream(WatchOptions(resourceVersion: a.resourceVersion.description))
        let iterator = stream.makeAsyncIterator()
        let b = f.createPod("b")
        #expect(try await iterator.next()?.object?.name == "b")
        // Three more writes while it does not read: its queue of 2 overflows past the budget.
        for name in ["c", "d", "e"] { f.createPod(name) }
        f.advance(.milliseconds(100))
        var last = b.resourceVersion
        do {
            while let event = try await iterator.next() { last = event.resourceVersion }
            Issue.record("a terminated watch ended without saying so")
        } catch {
            // Whatever it still got (kube-apiserver may send the queued events first), it
            // resumes from the last one.
            #expect(error.reason == .terminatedSlow && error.resumeFrom == last)
        }
    }

    @Test func streamsEventsAndEndsWithTheWatch() async throws {
        let f = Fixture()
        let stream = try f.pods.stream(WatchOptions(resourceVersion: "0", timeoutSeconds: 1))
        f.createPod("a")
        f.createPod("b")
        let seen = Mutex<[String]>([])
        let consumer = Task {
            // It asked for the timeout: its passing ends the loop normally.
            for try await e in stream { seen.withLock { $0.append("\(e.type.rawValue) \(e.object!.name)") } }
        }
        // The deadline passes once both events are consumed (events the consumer has not pulled
        // by then are not sent, as on kube-apiserver: the client resumes from its last version).
        while seen.withLock({ $0.count }) < 2 { await Task.yield() }
        f.advance(.seconds(1))
        try await consumer.value
        #expect(seen.withLock { $0 } == ["ADDED a", "ADDED b"])
        #expect(stream.endReason == .timeout)
    }

    @Test func cancellingTheTaskCancelsTheWatch() async throws {
        let f = Fixture()
        let stream = try f.pods.stream(WatchOptions(resourceVersion: "0"))
        let started = Atomic(false)
        let consumer = Task {
            started.store(true, ordering: .sequentiallyConsistent)
            for try await _ in stream {}
        }
        while !started.load(ordering: .sequentiallyConsistent) { await Task.yield() }
        consumer.cancel()
        try await consumer.value
        #expect(stream.watcher.isFinished)
        #expect(f.pods.statistics().currentWatchers == 0)
    }
}
