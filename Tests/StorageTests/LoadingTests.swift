import Testing
import WatchCache
@testable import WatchCacheServer

/// A server listens before its storage is loaded: until then it is live but not ready, and
/// clients are told to come back rather than given an empty or partial answer.
@Suite struct LoadingTests {
    func send(_ api: APIServer, _ method: String, _ target: String, body: String = "") async -> (Int, String, [(String, String)]) {
        let response = await withCheckedContinuation { c in
            api.handle(APIRequest(method: method, target: target, headers: [("content-type", "application/json")], body: Array(body.utf8))) {
                c.resume(returning: $0)
            }
        }
        guard case .complete(let status, _, let bytes, let headers) = response else { return (0, "", []) }
        return (status, String(decoding: bytes, as: UTF8.self), headers)
    }

    @Test func notReadyAndRetryLaterUntilTheStorageIsLoaded() async throws {
        let registry = try Registry(recover: false)
        let api = try APIServer(registry: registry, resources: [.pods], serverAddress: "x")

        let ready = await send(api, "GET", "/readyz")
        #expect(ready.0 == 503 && ready.1.contains("storage"))
        #expect(await send(api, "GET", "/livez").0 == 200)
        #expect(await send(api, "GET", "/healthz").0 == 200)
        for (method, target, body) in [("GET", "/api/v1/pods", ""), ("GET", "/api/v1/pods?watch=1", ""),
                                       ("POST", "/api/v1/namespaces/default/pods", #"{"metadata":{"name":"a"}}"#)] {
            let (status, text, headers) = await send(api, method, target, body: body)
            #expect(status == 503, "\(method) \(target)")
            #expect(text.contains(#""reason":"ServiceUnavailable""#))
            #expect(headers.contains { $0.0 == "retry-after" && $0.1 == "1" })
        }

        try registry.recover()
        #expect(await send(api, "GET", "/readyz").0 == 200)
        #expect(await send(api, "POST", "/api/v1/namespaces/default/pods", body: #"{"metadata":{"name":"a"}}"#).0 == 201)
        #expect(await send(api, "GET", "/api/v1/pods").0 == 200)
    }
}
