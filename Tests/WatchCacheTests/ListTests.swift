import Synchronization
import Testing
@testable import WatchCache

@Suite struct ListTests {
    func names(_ r: ListResult) -> [String] { r.items.map(\.name) }

    @Test func listsTheCurrentStateInKeyOrderAtTheCurrentVersion() async throws {
        let f = Fixture()
        f.createPod("b")
        f.createPod("a")
        f.createConfigMap("x")
        let r = try await f.pods.list(ListOptions())
        #expect(names(r) == ["a", "b"])
        #expect(r.resourceVersion == ResourceVersion(3))  // the global version, not the last pod's
        #expect(r.continueToken == nil)
        let json = text(r.encoded(for: .pods))
        #expect(json.hasPrefix(#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"3"},"items":[{"#))
    }

    @Test func emptyListHasEmptyItems() async throws {
        let f = Fixture()
        let r = try await f.pods.list(ListOptions())
        #expect(text(r.encoded(for: .pods)) == #"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"0"},"items":[]}"#)
    }

    @Test func selectorsAndScopes() async throws {
        let f = Fixture()
        f.createPod("a", namespace: "x", node: "n1", labels: ["app": "web"])
        f.createPod("b", namespace: "x", node: "n2", labels: ["app": "db"])
        f.createPod("c", namespace: "y", node: "n1", labels: ["app": "web"])
        #expect(names(try await f.pods.list(ListOptions(fieldSelector: "spec.nodeName=n1"))) == ["a", "c"])
        #expect(names(try await f.pods.list(ListOptions(labelSelector: "app=web", namespace: "x"))) == ["a"])
        #expect(names(try await f.pods.list(ListOptions(namespace: "y"))) == ["c"])
        await #expect(throws: Status.self) { try await f.pods.list(ListOptions(labelSelector: "app in")) }
    }

    @Test func pagesStayConsistentWhileWritesContinue() async throws {
        let f = Fixture()
        for i in 0..<10 { f.createPod("p\(i)") }
        let first = try await f.pods.list(ListOptions(limit: 4))
        #expect(names(first) == ["p0", "p1", "p2", "p3"])
        #expect(first.remainingItemCount == 6)
        f.deletePod("p5")
        f.createPod("p45")
        f.updatePod("p6", node: "moved")
        let second = try await f.pods.list(ListOptions(limit: 4, continueToken: first.continueToken))
        #expect(names(second) == ["p4", "p5", "p6", "p7"])
        #expect(second.resourceVersion == first.resourceVersion)
        #expect(second.items[2].fieldValue("spec.nodeName") == "")  // p6 as of the first page
        let third = try await f.pods.list(ListOptions(limit: 4, continueToken: second.continueToken))
        #expect(names(third) == ["p8", "p9"])
        #expect(third.continueToken == nil)
        #expect(third.remainingItemCount == nil)
    }

    @Test func selectivePagesWalkTheMatchesInKeyOrder() async throws {
        let f = Fixture()
        for i in 0..<30 { f.createPod("p\(i)", namespace: "ns\(i % 3)", labels: ["app": i % 2 == 0 ? "web" : "db"]) }
        var names: [String] = []
        var token: String?
        repeat {
            let page = try await f.pods.list(ListOptions(limit: 4, continueToken: token, labelSelector: "app=web"))
            #expect(page.items.count <= 4)
            #expect(page.remainingItemCount == nil)  // never with a selector
            names += page.items.map { "\($0.namespace)/\($0.name)" }
            token = page.continueToken
        } while token != nil
        let expected = (0..<30).filter { $0 % 2 == 0 }.map { "ns\($0 % 3)/p\($0)" }.sorted()
        #expect(names == expected)
    }

    @Test func namespacePagesCountWhatRemains() async throws {
        let f = Fixture()
        for i in 0..<10 { f.createPod("p\(i)", namespace: i < 7 ? "a" : "b") }
        let page = try await f.pods.list(ListOptions(limit: 3, namespace: "a"))
        #expect(page.remainingItemCount == 4)
    }

    @Test func aContinueTokenWhoseVersionLeftTheWindowIs410() async throws {
        let f = Fixture(configuration: CacheConfiguration(history: HistoryWindow(minimumEvents: 4, maximumEvents: 4)))
        for i in 0..<6 { f.createPod("p\(i)") }
        let first = try await f.pods.list(ListOptions(limit: 2))
        for i in 0..<6 { f.updatePod("p\(i)", node: "n") }
        await #expect {
            try await f.pods.list(ListOptions(limit: 2, continueToken: first.continueToken))
        } throws: { error in
            let status = error as! Status
            return status.code == 410 && status.reason == .expired
                && status.message == "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter."
        }
    }

    @Test func aGarbledContinueTokenIs400() async {
        let f = Fixture()
        await #expect { try await f.pods.list(ListOptions(continueToken: "!!!")) } throws: { ($0 as! Status).code == 400 }
    }

    @Test func exactVersionReconstructsThePastWithinTheWindow() async throws {
        let f = Fixture()
        f.createPod("a")                // 1
        f.createPod("b")                // 2
        f.deletePod("a")                // 3
        f.updatePod("b", node: "n")     // 4
        let atTwo = try await f.pods.list(ListOptions(resourceVersion: "2", resourceVersionMatch: "Exact"))
        #expect(names(atTwo) == ["a", "b"])
        #expect(atTwo.resourceVersion == ResourceVersion(2))
        #expect(atTwo.items[1].resourceVersion == ResourceVersion(2))
        let notOlder = try await f.pods.list(ListOptions(resourceVersion: "2", resourceVersionMatch: "NotOlderThan"))
        #expect(names(notOlder) == ["b"])
        #expect(notOlder.resourceVersion == ResourceVersion(4))
    }

    @Test func aVersionAheadWaitsForTheCacheThen504() async throws {
        let f = Fixture()
        f.createPod("a")
        // The callback form registers the waiting read before it returns: the write comes after.
        let waited = Mutex<Result<ListResult, Status>?>(nil)
        f.pods.list(ListOptions(resourceVersion: "2")) { r in waited.withLock { $0 = r } }
        #expect(waited.withLock { $0 == nil })
        f.createPod("b")
        guard case .success(let list)? = waited.withLock({ $0 }) else {
            Issue.record("the waiting LIST was not answered by the write: \(String(describing: waited.withLock { $0 }))")
            return
        }
        #expect(names(list) == ["a", "b"])

        let outcome = Mutex<Result<ListResult, Status>?>(nil)
        f.pods.list(ListOptions(resourceVersion: "9")) { r in outcome.withLock { $0 = r } }
        f.advance(.seconds(3))
        let status = try #require(outcome.withLock { $0 }).mapError { $0 }
        #expect(throws: Status.tooLargeResourceVersion(ResourceVersion(9), current: ResourceVersion(2))) { try status.get() }
    }

    @Test(arguments: [
        (ListOptions(resourceVersionMatch: "NotOlderThan"),
         #"ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"#),
        (ListOptions(resourceVersion: "0", resourceVersionMatch: "Exact"),
         #"ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0""#),
        (ListOptions(resourceVersion: "5", resourceVersionMatch: "Newest"),
         #"ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Unsupported value: "Newest": supported values: "Exact", "NotOlderThan", """#),
    ])
    func validation(options: ListOptions, message: String) async {
        let f = Fixture()
        await #expect { try await f.pods.list(options) } throws: { ($0 as! Status).message == message && ($0 as! Status).code == 422 }
    }

    @Test func queryParametersParseLikeKubeApiserver() throws {
        let query = [("watch", "1"), ("resourceVersion", "10"), ("allowWatchBookmarks", "true"), ("timeoutSeconds", "417"),
                     ("labelSelector", "a=b"), ("fieldSelector", "spec.nodeName=n")]
        #expect(try RequestQuery.isWatch(query))
        let w = try RequestQuery.watchOptions(query, namespace: "ns")
        #expect(w == WatchOptions(resourceVersion: "10", allowWatchBookmarks: true, timeoutSeconds: 417, labelSelector: "a=b",
                                  fieldSelector: "spec.nodeName=n", namespace: "ns"))
        #expect(throws: Status.badRequest("allowWatchBookmarks: strconv.ParseBool: parsing \"maybe\": invalid syntax")) {
            try RequestQuery.watchOptions([("allowWatchBookmarks", "maybe")], namespace: nil)
        }
        #expect(throws: Status.self) { try RequestQuery.listOptions([("sendInitialEvents", "true")], namespace: nil) }
        #expect(try RequestQuery.listOptions([("limit", "500"), ("continue", "")], namespace: nil).limit == 500)
    }
}
