import Testing
import WatchCache
@testable import WatchCacheServer

/// The Table form kubectl asks for, negotiated from `Accept`, for lists, objects and watch events.
@Suite struct TableTests {
    static let kubectlAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
    let registry = try! Registry(clock: ManualClock())
    var api: APIServer { try! APIServer(registry: registry, resources: ResourceDescriptor.builtIn, serverAddress: "127.0.0.1:8080") }

    func get(_ api: APIServer, _ target: String, accept: String = TableTests.kubectlAccept) async -> (status: Int, json: JSONObject?) {
        let response = await withCheckedContinuation { c in
            api.handle(APIRequest(method: "GET", target: target, headers: [("Accept", accept)])) { c.resume(returning: $0) }
        }
        guard case .complete(let status, _, let body, _) = response else { return (-1, nil) }
        return (status, try? JSONObject(parsing: String(decoding: body, as: UTF8.self)))
    }

    func createPod(_ name: String, node: String = "n1", extra: String = "") throws {
        let json = #"{"metadata":{"name":"\#(name)","namespace":"ns","labels":{"app":"web"}},"spec":{"nodeName":"\#(node)","containers":[{"name":"a"},{"name":"b"}]}\#(extra)}"#
        _ = try registry.create(try JSONObject(parsing: json), in: .pods, namespace: "ns")
    }

    @Test func acceptHeadersNegotiateLikeKubeAPIServer() throws {
        #expect(try ResponseForm.negotiate(Self.kubectlAccept) == .table(version: "v1"))
        #expect(try ResponseForm.negotiate("application/json;as=Table;v=v1beta1;g=meta.k8s.io") == .table(version: "v1beta1"))
        #expect(try ResponseForm.negotiate(nil) == .object)
        #expect(try ResponseForm.negotiate("*/*") == .object)
        #expect(try ResponseForm.negotiate("application/json") == .object)
        #expect(try ResponseForm.negotiate("application/vnd.kubernetes.protobuf, application/json") == .object)
        // An unknown Table version is skipped for the next choice; nothing servable is 406.
        #expect(try ResponseForm.negotiate("application/json;as=Table;v=v9;g=meta.k8s.io, application/json") == .object)
        #expect(throws: Status.self) { try ResponseForm.negotiate("application/vnd.kubernetes.protobuf") }
        #expect(try ResponseForm.negotiate("application/yaml") == .yaml)
        #expect(try ResponseForm.negotiate("application/yaml;as=Table, application/json") == .object)
        do {
            _ = try ResponseForm.negotiate("text/html")
            Issue.record("text/html was accepted")
        } catch {
            #expect(error.code == 406 && error.reason == .notAcceptable)
        }
    }

    @Test func listsBecomeTablesWithPodColumns() async throws {
        let api = self.api
        try createPod("a", extra: #","status":{"phase":"Running","podIP":"10.0.0.1","containerStatuses":[{"name":"a","ready":true,"restartCount":2},{"name":"b","ready":false,"restartCount":1}]}"#)
        try createPod("b", extra: #","status":{"phase":"Pending","containerStatuses":[{"name":"a","state":{"waiting":{"reason":"ImagePullBackOff"}}}]}"#)
        let (status, table) = await get(api, "/api/v1/namespaces/ns/pods?limit=500")
        #expect(status == 200)
        #expect(table?["kind"] == .string("Table"))
        #expect(table?["apiVersion"] == .string("meta.k8s.io/v1"))
        #expect(table?["metadata"]?["resourceVersion"] == .string(registry.currentVersion.description))
        let names = table?["columnDefinitions"]?.arrayValue?.compactMap { $0["name"]?.stringValue }
        #expect(names == ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node"])
        let rows = try #require(table?["rows"]?.arrayValue)
        #expect(rows.count == 2)
        let cells = try #require(rows[0]["cells"]?.arrayValue)
        #expect(cells[0] == .string("a") && cells[1] == .string("1/2") && cells[2] == .string("Running") && cells[3] == .number("3"))
        #expect(cells[4].stringValue?.hasSuffix("s") == true)
        #expect(cells[5] == .string("10.0.0.1") && cells[6] == .string("n1"))
        #expect(rows[1]["cells"]?.arrayValue?[2] == .string("ImagePullBackOff"))
        #expect(rows[1]["cells"]?.arrayValue?[5] == .string("<none>"))
        // The row object is the metadata only, unless includeObject says otherwise.
        #expect(rows[0]["object"]?["kind"] == .string("PartialObjectMetadata"))
        #expect(rows[0]["object"]?["metadata"]?["labels"]?["app"] == .string("web"))
        #expect(rows[0]["object"]?["spec"] == nil)
        let full = await get(api, "/api/v1/namespaces/ns/pods?includeObject=Object").json
        #expect(full?["rows"]?.arrayValue?[0]["object"]?["spec"]?["nodeName"] == .string("n1"))
        let bare = await get(api, "/api/v1/namespaces/ns/pods?includeObject=None").json
        #expect(bare?["rows"]?.arrayValue?[0]["object"] == nil)
        #expect(await get(api, "/api/v1/namespaces/ns/pods?includeObject=All").status == 400)
        // Pages keep their continue token.
        let page = await get(api, "/api/v1/namespaces/ns/pods?limit=1").json
        #expect(page?["rows"]?.arrayValue?.count == 1)
        #expect(page?["metadata"]?["continue"]?.stringValue?.isEmpty == false)
    }

    @Test func otherResourcesGetNameAndAge() async throws {
        let api = self.api
        _ = try await registry.create(try JSONObject(parsing: #"{"metadata":{"name":"c"}}"#), in: .configMaps, namespace: "ns")
        let table = await get(api, "/api/v1/namespaces/ns/configmaps/c").json
        #expect(table?["kind"] == .string("Table"))
        #expect(table?["columnDefinitions"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["Name", "Age"])
        #expect(table?["rows"]?.arrayValue?.first?["cells"]?.arrayValue?.first == .string("c"))
        // Without the Table form the object itself comes back.
        #expect(await get(api, "/api/v1/namespaces/ns/configmaps/c", accept: "application/json").json?["kind"] == .string("ConfigMap"))
        // A type the server does not produce is 406.
        #expect(await get(api, "/api/v1/namespaces/ns/configmaps/c", accept: "text/html").status == 406)
    }

    @Test func watchEventsCarryColumnsOnlyOnTheFirst() async throws {
        let api = self.api
        let response = await withCheckedContinuation { c in
            api.handle(APIRequest(method: "GET", target: "/api/v1/namespaces/ns/pods?watch=true&allowWatchBookmarks=true",
                                  headers: [("Accept", Self.kubectlAccept)])) { c.resume(returning: $0) }
        }
        guard case .watch(let cache, let options, let transform?, _) = response else { Issue.record("not a Table watch"); return }
        let watcher = try cache.watch(options) {}
        try createPod("a")
        try createPod("b")
        var events: [WatchEvent] = []
        _ = watcher.next(into: &events, maxEvents: 10)
        let tables = try events.map(transform).map { try JSONObject(parsing: String(decoding: $0.body, as: UTF8.self)) }
        #expect(tables.count == 2)
        #expect(tables[0]["columnDefinitions"]?.arrayValue?.count == 7)
        #expect(tables[1]["columnDefinitions"] == .null)
        #expect(tables[1]["rows"]?.arrayValue?.first?["cells"]?.arrayValue?.first == .string("b"))
        #expect(tables[1]["metadata"]?["resourceVersion"] == .string(events[1].resourceVersion.description))
        // The wire line keeps its event type around the Table.
        #expect(String(decoding: transform(events[0]).line, as: UTF8.self).hasPrefix(#"{"type":"ADDED","object":{"kind":"Table""#))
        watcher.cancel()
    }

    @Test func agesReadLikeKubectl() {
        let cases: [(Int, String)] = [(-5, "<invalid>"), (-1, "0s"), (0, "0s"), (119, "119s"), (120, "2m"), (150, "2m30s"), (600, "10m"),
                                      (179 * 60, "179m"), (3 * 3600, "3h"), (3 * 3600 + 300, "3h5m"), (8 * 3600, "8h"), (47 * 3600, "47h"),
                                      (48 * 3600, "2d"), (50 * 3600, "2d2h"), (8 * 86400, "8d"), (800 * 86400, "2y70d"), (9 * 365 * 86400, "9y")]
        for (seconds, text) in cases { #expect(TableConvertor.humanDuration(seconds: seconds) == text, "\(seconds)s") }
        #expect(TableConvertor.parseRFC3339("1970-01-02T00:00:01Z") == 86401)
        #expect(TableConvertor.parseRFC3339("2026-11-24T17:28:00.123456Z") == 1_795_541_280)
        #expect(TableConvertor.parseRFC3339("yesterday") == nil)
    }
}
