import Dispatch
import Synchronization
import Testing
import WatchCache
import WatchCacheBench
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

    /// A storage holding `count` pods: a load that takes seconds in a debug build.
    struct ManyPods: Storage {
        /// Made up front: the load's time is the registry's (parsing, indexing), not this storage's.
        let pods: [[UInt8]]

        init(count: Int) {
            pods = (0..<count).map { i in
                Array(#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p\#(i)","namespace":"default","resourceVersion":"\#(i + 1)","labels":{"app":"a"}},"spec":{"nodeName":"n\#(i % 100)"}}"#.utf8)
            }
        }

        func recover(historyLimit: Int) throws -> StorageRecovery {
            StorageRecovery(version: ResourceVersion(UInt64(pods.count)), objects: [ResourceDescriptor.pods.description: pods])
        }
        func persist(_ writes: [StoredWrite]) throws {}
    }

    /// Parsing and indexing a large storage happen outside the registry's lock: requests that
    /// arrive during the load are answered (503, or /metrics) while it goes on, not after it.
    /// (Before, every request waited for the whole load, so at most one could be answered.)
    @Test func requestsDuringALongLoadAreAnsweredWhileItGoesOn() async throws {
        let registry = try Registry(storage: ManyPods(count: 200_000), recover: false)
        let api = try APIServer(registry: registry, resources: [.pods], serverAddress: "x")
        let loading = Atomic(true)
        let done = DispatchSemaphore(value: 0)
        startThread {  // off the Swift concurrency pool: recover() blocks its thread
            try? registry.recover()
            loading.store(false, ordering: .sequentiallyConsistent)
            done.signal()
        }
        var answeredWhileLoading = 0
        var metricsWhileLoading = 0
        while loading.load(ordering: .sequentiallyConsistent) {
            let (status, _, _) = await send(api, "GET", "/api/v1/pods")
            let (metrics, _, _) = await send(api, "GET", "/metrics")
            guard loading.load(ordering: .sequentiallyConsistent) else { break }
            if status == 503 { answeredWhileLoading += 1 }
            if metrics == 200 { metricsWhileLoading += 1 }
        }
        try await offPool { done.wait() }
        #expect(answeredWhileLoading >= 3, "requests answered during the load: \(answeredWhileLoading)")
        #expect(metricsWhileLoading >= 3, "metrics pages served during the load: \(metricsWhileLoading)")
        let (status, body, _) = await send(api, "GET", "/api/v1/pods?limit=1")
        #expect(status == 200 && body.contains(#""continue""#))
        #expect(registry.cache(for: .pods)?.versionAndCount.objects == 200_000)
        // Where the load went: parsing 200,000 objects and indexing them took measurable time.
        let timings = try #require(registry.loadTimings)
        #expect(timings.parseSeconds > 0 && timings.fillSeconds > 0 && timings.readSeconds >= 0)
        #expect(timings.totalSeconds == timings.readSeconds + timings.parseSeconds + timings.fillSeconds)
    }
}
