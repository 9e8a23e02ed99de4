import Testing
import WatchCache
@testable import WatchCacheServer

/// The OpenAPI v3 documents kubectl reads before writing, and the max-in-flight limits (429).
@Suite struct OpenAPIAndInFlightTests {
    let registry = try! Registry(clock: ManualClock())

    func send(_ api: APIServer, _ method: String, _ target: String, body: String = "") async -> (status: Int, json: JSONObject?, headers: [(String, String)]) {
        let response = await withCheckedContinuation { c in
            api.handle(APIRequest(method: method, target: target, headers: [("Content-Type", "application/json")], body: Array(body.utf8))) {
                c.resume(returning: $0)
            }
        }
        switch response {
        case .complete(let status, _, let body, let headers):
            return (status, try? JSONObject(parsing: String(decoding: body, as: UTF8.self)), headers)
        case .watch:
            return (200, nil, [])
        }
    }

    @Test func rootListsOneDocumentPerGroupVersion() async throws {
        let api = try APIServer(registry: registry, resources: ResourceDescriptor.builtIn, serverAddress: "x", namespaceLifecycle: false)
        let root = try #require(await send(api, "GET", "/openapi/v3").json)
        let core = try #require(root["paths"]?["api/v1"]?["serverRelativeURL"]?.stringValue)
        let apps = try #require(root["paths"]?["apis/apps/v1"]?["serverRelativeURL"]?.stringValue)
        #expect(core.hasPrefix("/openapi/v3/api/v1?hash="))
        #expect(apps.hasPrefix("/openapi/v3/apis/apps/v1?hash="))
        #expect(await send(api, "GET", apps).status == 200)
        #expect(await send(api, "GET", "/openapi/v3/apis/nope/v1").status == 404)
        #expect(await send(api, "POST", "/openapi/v3").status == 405)
    }

    /// kubectl's check (`supportsQueryParamV3`): a PATCH operation tagged with the kind's
    /// group-version-kind that lists `fieldValidation` as a query parameter.
    @Test func patchOperationsDeclareFieldValidation() async throws {
        let api = try APIServer(registry: registry, resources: ResourceDescriptor.builtIn, serverAddress: "x", namespaceLifecycle: false)
        let document = try #require(await send(api, "GET", "/openapi/v3/api/v1").json)
        #expect(document["openapi"] == .string("3.0.0"))
        let pods = try #require(document["paths"]?["/api/v1/namespaces/{namespace}/pods/{name}"]?["patch"])
        #expect(pods["x-kubernetes-group-version-kind"] == .object(JSONObject([("group", .string("")), ("version", .string("v1")), ("kind", .string("Pod"))])))
        let parameters = try #require(pods["parameters"]?.arrayValue)
        #expect(parameters.contains { $0["name"] == .string("fieldValidation") && $0["in"] == .string("query") })
        #expect(document["paths"]?["/api/v1/nodes/{name}"]?["patch"]?["x-kubernetes-group-version-kind"]?["kind"] == .string("Node"))
        #expect(document["paths"]?["/api/v1/pods"]?["get"]?["x-kubernetes-action"] == .string("list"))
        #expect(document["components"]?["schemas"]?["io.k8s.api.core.v1.Pod"]?["properties"]?["metadata"] != nil)
    }

    /// A LIST waiting for a version the cache has not reached holds the only read-only slot: the
    /// next read gets 429 with Retry-After, while writes, watches and health still get through.
    @Test func overTheLimitIsTooManyRequests() async throws {
        let api = try APIServer(registry: registry, resources: ResourceDescriptor.builtIn, serverAddress: "x",
                                maxRequestsInFlight: 1, maxMutatingRequestsInFlight: 1, namespaceLifecycle: false)
        let future = registry.currentVersion.rawValue + 1
        async let waiting = send(api, "GET", "/api/v1/pods?resourceVersion=\(future)&resourceVersionMatch=NotOlderThan")
        var refused = await send(api, "GET", "/api/v1/pods")
        for _ in 0..<100 where refused.status == 200 {  // until the waiting LIST holds the slot
            try await Task.sleep(for: .milliseconds(10))
            refused = await send(api, "GET", "/api/v1/pods")
        }
        #expect(refused.status == 429)
        #expect(refused.json?["reason"] == .string("TooManyRequests"))
        #expect(refused.json?["message"] == .string("Too many requests, please try again later."))
        #expect(refused.headers.contains { $0.0 == "retry-after" && $0.1 == "1" })
        #expect(await send(api, "GET", "/readyz").status == 200)
        #expect(await send(api, "GET", "/api/v1/pods?watch=true").status == 200)
        let page = await withCheckedContinuation { c in
            api.handle(APIRequest(method: "GET", target: "/metrics")) { c.resume(returning: $0) }
        }
        if case .complete(_, _, let body, _) = page {
            let text = String(decoding: body, as: UTF8.self)
            let samples = MetricsPageSamples(text)
            #expect(samples[#"apiserver_dropped_requests_total{request_kind="readOnly"}"#] == 1)
            #expect(samples[#"apiserver_dropped_requests_total{request_kind="mutating"}"#] == 0)
            #expect(samples[#"apiserver_current_inflight_requests{request_kind="readOnly"}"#] == 1)
        }
        // The write is its own kind, so it is admitted, and it releases the waiting LIST.
        #expect(await send(api, "POST", "/api/v1/namespaces/ns/pods", body: #"{"metadata":{"name":"a"}}"#).status == 201)
        #expect(await waiting.status == 200)
        #expect(await send(api, "GET", "/api/v1/pods").status == 200)
    }
}
