import Foundation
import Synchronization
import Testing
import CoreMetrics
import WatchCache
@testable import WatchCacheServer

/// The REST layer without a transport: routing, verbs, discovery, and Kubernetes errors.
@Suite struct APIServerTests {
    let registry = try! Registry(clock: ManualClock(), metricsFactory: APIServer.makeMetricsFactory())
    var api: APIServer {
        try! APIServer(registry: registry, resources: ResourceDescriptor.builtIn, serverAddress: "127.0.0.1:8080", namespaceLifecycle: false)
    }

    /// Sends a request and waits for its (possibly asynchronous) response.
    func send(_ api: APIServer, _ method: String, _ target: String, body: String = "", contentType: String = "application/json") async -> APIResponse {
        await withCheckedContinuation { c in
            api.handle(APIRequest(method: method, target: target, headers: [("Content-Type", contentType)], body: Array(body.utf8))) { c.resume(returning: $0) }
        }
    }

    func complete(_ response: APIResponse) -> (status: Int, json: JSONObject?) {
        guard case .complete(let status, _, let body, _) = response else { return (-1, nil) }
        return (status, try? JSONObject(parsing: String(decoding: body, as: UTF8.self)))
    }

    @Test func pathsParseLikeKubernetes() {
        #expect(ResourcePath("/api/v1/namespaces/ns/pods/p") == .resource(group: "", version: "v1", plural: "pods", namespace: "ns", name: "p"))
        #expect(ResourcePath("/api/v1/pods") == .resource(group: "", version: "v1", plural: "pods", namespace: nil, name: nil))
        #expect(ResourcePath("/api/v1/namespaces/ns") == .resource(group: "", version: "v1", plural: "namespaces", namespace: nil, name: "ns"))
        #expect(ResourcePath("/apis/apps/v1/namespaces/ns/deployments") == .resource(group: "apps", version: "v1", plural: "deployments", namespace: "ns", name: nil))
        #expect(ResourcePath("/apis/apps") == .group("apps"))
        #expect(ResourcePath("/apis/apps/v1") == .resourceList(group: "apps", version: "v1"))
        #expect(ResourcePath("/metrics/x") == nil)
    }

    @Test func queryStringsDecodeLikeGo() {
        let r = APIRequest(method: "GET", target: "/api/v1/pods?labelSelector=app+in+%28a%2Cb%29&watch=1")
        #expect(r.query.first { $0.0 == "labelSelector" }?.1 == "app in (a,b)")
    }

    @Test func discoveryDocuments() async {
        let api = self.api
        #expect(complete(await send(api, "GET", "/api")).json?["versions"] == .array([.string("v1")]))
        let v1 = complete(await send(api, "GET", "/api/v1")).json
        #expect(v1?["kind"] == .string("APIResourceList"))
        guard case .array(let resources)? = v1?["resources"] else { Issue.record("no resources"); return }
        #expect(resources.contains { $0["name"] == .string("pods") && $0["namespaced"] == .bool(true) && $0["kind"] == .string("Pod") })
        #expect(!resources.contains { $0["name"] == .string("deployments") })
        let groups = complete(await send(api, "GET", "/apis")).json
        #expect(groups?["kind"] == .string("APIGroupList"))
        #expect(complete(await send(api, "GET", "/apis/apps/v1")).json?["groupVersion"] == .string("apps/v1"))
        #expect(complete(await send(api, "GET", "/apis/nope/v1")).status == 404)
        #expect(complete(await send(api, "GET", "/version")).json?["major"] == .string("1"))
        #expect(complete(await send(api, "GET", "/readyz")).status == 200)
    }

    /// `/version` says what was built: the commit and tree state of this checkout (captured by
    /// the build), a build date, the platform and kube-apiserver's fields.
    @Test func versionIsWhatWasBuilt() async throws {
        let version = try #require(complete(await send(api, "GET", "/version")).json)
        for field in ["major", "minor", "gitVersion", "gitCommit", "gitTreeState", "buildDate", "goVersion", "compiler", "platform"] {
            #expect(version[field]?.stringValue != nil, "\(field)")
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let git = Process()
        git.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        git.arguments = ["git", "-C", root.path, "rev-parse", "HEAD"]
        let out = Pipe()
        git.standardOutput = out
        git.standardError = FileHandle.nullDevice
        try git.run()
        git.waitUntilExit()
        let head = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if git.terminationStatus == 0 {
            // Built in this checkout: its commit (HEAD may have moved on since the build only if
            // someone commits during the test run).
            #expect(version["gitCommit"] == .string(head))
            #expect(["clean", "dirty"].contains(version["gitTreeState"]?.stringValue ?? ""))
            #expect(version["gitVersion"]?.stringValue?.hasPrefix("v1.32.0-watchcache+\(head.prefix(7))") == true)
        }
        #expect(ISO8601DateFormatter().date(from: version["buildDate"]?.stringValue ?? "") != nil)
        #if os(Linux) && arch(x86_64)
        #expect(version["platform"] == .string("linux/amd64"))
        #endif
    }

    @Test func verbsAndTheirErrors() async {
        let api = self.api
        let created = complete(await send(api, "POST", "/api/v1/namespaces/ns/pods", body: #"{"metadata":{"name":"a"}}"#))
        #expect(created.status == 201)
        #expect(created.json?["metadata"]?["namespace"] == .string("ns"))
        #expect(complete(await send(api, "POST", "/api/v1/namespaces/ns/pods", body: #"{"metadata":{"name":"a"}}"#)).json?["reason"] == .string("AlreadyExists"))
        #expect(complete(await send(api, "GET", "/api/v1/namespaces/ns/pods/a")).status == 200)
        #expect(complete(await send(api, "PUT", "/api/v1/namespaces/ns/pods/a", body: #"{"metadata":{"name":"b"}}"#)).json?["message"]
                == .string("the name of the object (b) does not match the name on the URL (a)"))
        #expect(complete(await send(api, "POST", "/api/v1/namespaces/ns/pods", body: "{", contentType: "application/json")).status == 400)
        #expect(complete(await send(api, "POST", "/api/v1/namespaces/ns/pods", body: "a: b", contentType: "application/yaml")).status == 415)
        #expect(complete(await send(api, "PATCH", "/api/v1/namespaces/ns/pods/a", body: "{}", contentType: "application/json")).status == 415)
        #expect(complete(await send(api, "POST", "/api/v1/namespaces/ns/pods/a", body: "{}")).status == 405)
        #expect(complete(await send(api, "GET", "/api/v1/namespaces/ns/nodes")).status == 404)  // nodes are cluster-scoped
        let deletePrecondition = complete(await send(api, "DELETE", "/api/v1/namespaces/ns/pods/a",
                                                     body: #"{"kind":"DeleteOptions","preconditions":{"resourceVersion":"99"}}"#))
        #expect(deletePrecondition.status == 409)
    }

    @Test func patchesMergeOrApplyOperations() async {
        let api = self.api
        _ = await send(api, "POST", "/api/v1/namespaces/ns/pods", body: #"{"metadata":{"name":"a","labels":{"x":"1","y":"2"}},"spec":{"nodeName":"n1"}}"#)
        let merged = complete(await send(api, "PATCH", "/api/v1/namespaces/ns/pods/a", body: #"{"metadata":{"labels":{"x":null,"z":"3"}}}"#,
                                         contentType: "application/merge-patch+json"))
        #expect(merged.json?["metadata"]?["labels"] == .object(JSONObject([("y", .string("2")), ("z", .string("3"))])))
        let patched = complete(await send(api, "PATCH", "/api/v1/namespaces/ns/pods/a",
                                          body: #"[{"op":"test","path":"/spec/nodeName","value":"n1"},{"op":"replace","path":"/spec/nodeName","value":"n2"}]"#,
                                          contentType: "application/json-patch+json"))
        #expect(patched.json?["spec"]?["nodeName"] == .string("n2"))
        let failedTest = complete(await send(api, "PATCH", "/api/v1/namespaces/ns/pods/a", body: #"[{"op":"test","path":"/spec/nodeName","value":"n1"}]"#,
                                             contentType: "application/json-patch+json"))
        #expect(failedTest.status == 422)
    }

    @Test func dryRunAndDeleteCollection() async {
        let api = self.api
        #expect(complete(await send(api, "POST", "/api/v1/namespaces/ns/pods?dryRun=All", body: #"{"metadata":{"name":"d"}}"#)).status == 201)
        #expect(complete(await send(api, "GET", "/api/v1/namespaces/ns/pods/d")).status == 404)
        for name in ["a", "b", "c"] {
            _ = await send(api, "POST", "/api/v1/namespaces/ns/pods", body: "{\"metadata\":{\"name\":\"\(name)\",\"labels\":{\"del\":\"\(name == "c" ? "no" : "yes")\"}}}")
        }
        let deleted = complete(await send(api, "DELETE", "/api/v1/namespaces/ns/pods?labelSelector=del%3Dyes"))
        guard case .array(let items)? = deleted.json?["items"] else { Issue.record("no items"); return }
        #expect(items.count == 2)
        guard case .array(let left)? = complete(await send(api, "GET", "/api/v1/namespaces/ns/pods")).json?["items"] else { Issue.record("the response changed shape"); return }
        #expect(left.count == 1)
    }

    @Test func watchesWithoutATimeoutGetTheServerDefault() async {
        let api = try! APIServer(registry: registry, resources: [.pods], minRequestTimeout: 10, serverAddress: "x")
        guard case .watch(_, let options, _, _) = await send(api, "GET", "/api/v1/pods?watch=true") else { Issue.record("not a watch"); return }
        #expect((10..<20).contains(options.timeoutSeconds ?? 0))
    }

    @Test func aNegativeTimeoutIsKeptNotReplacedByTheDefault() async {
        let api = try! APIServer(registry: registry, resources: [.pods], minRequestTimeout: 10, serverAddress: "x")
        guard case .watch(_, let options, _, _) = await send(api, "GET", "/api/v1/pods?watch=true&timeoutSeconds=-5") else {
            Issue.record("not a watch")
            return
        }
        #expect(options.timeoutSeconds == -5)
    }

    @Test func metricsReportTheCachesAndTheRequests() async throws {
        let api = self.api
        _ = await send(api, "POST", "/api/v1/namespaces/ns/pods", body: #"{"metadata":{"name":"a"}}"#)
        _ = await send(api, "POST", "/api/v1/namespaces/ns/pods", body: #"{"metadata":{"name":"a"}}"#)  // 409
        _ = await send(api, "GET", "/api/v1/pods")
        guard case .watch(let cache, let options, _, _) = await send(api, "GET", "/api/v1/pods?watch=true&resourceVersion=0") else {
            Issue.record("not a watch")
            return
        }
        let w = try cache.watch(options) {}
        _ = w.next(maxEvents: 10)  // one object scanned: one init event
        _ = w.next(maxEvents: 10)  // caught up: the watch start's init events are recorded
        guard case .complete(let status, let type, let body, _) = await send(api, "GET", "/metrics") else { Issue.record("the response changed shape"); return }
        let page = String(decoding: body, as: UTF8.self)
        #expect(status == 200)
        #expect(type.hasPrefix("text/plain; version=0.0.4"))
        let samples = MetricsPageSamples(page)
        #expect(samples[#"apiserver_init_events_total{group="",version="v1",resource="pods"}"#] == 1)
        #expect(samples[#"apiserver_registered_watchers{group="",version="v1",resource="pods"}"#] == 1)
        #expect(samples[#"watchcache_objects{group="",version="v1",resource="pods"}"#] == 1)
        #expect(samples[#"watchcache_objects{group="apps",version="v1",resource="deployments"}"#] == 0)
        #expect(samples[#"apiserver_request_total{verb="CREATE",code="201"}"#] == 1)
        #expect(samples[#"apiserver_request_total{verb="CREATE",code="409"}"#] == 1)
        #expect(samples[#"apiserver_request_total{verb="LIST",code="200"}"#] == 1)
        #expect(samples[#"apiserver_request_total{verb="WATCH",code="200"}"#] == 1)
        #expect(samples[#"apiserver_request_duration_seconds_count{verb="LIST"}"#] == 1)
        #expect(samples[#"watchcache_watch_init_events_bucket{group="",version="v1",resource="pods",le="0.0"}"#] == 0)
        #expect(samples[#"watchcache_watch_init_events_bucket{group="",version="v1",resource="pods",le="1.0"}"#] == 1)
        #expect(samples[#"watchcache_watch_init_events_count{group="",version="v1",resource="pods"}"#] == 1)
        #expect(samples["process_cpu_seconds_total"].map { $0 > 0 } == true)
        #expect(samples["process_resident_memory_bytes"].map { $0 > 0 } == true)
        // The exposition format: every family has its help and type, once, before its samples.
        #expect(samples.problems.isEmpty, "\(samples.problems)")
        #expect(samples.families.count == samples.families.sorted().count && samples.families == samples.families.sorted())
        w.cancel()
    }

    /// Caches that report to another backend (an embedding program's): `/metrics` is still a
    /// valid page, with the server's own metrics and none of the caches'.
    @Test func metricsWithCachesReportingElsewhere() async throws {
        let registry = try Registry(metricsFactory: NOOPMetricsHandler.instance)
        let api = try APIServer(registry: registry, resources: [.pods], serverAddress: "x", namespaceLifecycle: false)
        _ = await send(api, "GET", "/api/v1/pods")
        guard case .complete(200, _, let body, _) = await send(api, "GET", "/metrics") else { Issue.record("no metrics page"); return }
        let samples = MetricsPageSamples(String(decoding: body, as: UTF8.self))
        #expect(samples.problems.isEmpty, "\(samples.problems)")
        #expect(samples[#"apiserver_request_total{verb="LIST",code="200"}"#] == 1)
        #expect(samples.families.contains("process_cpu_seconds_total"))
        #expect(!samples.families.contains("apiserver_init_events_total"))
    }

    @Test func resourceFlagsDescribeExtraResources() async throws {
        let sts = try ResourceFlag.parse("apps/v1/statefulsets=StatefulSet")
        #expect(sts.group == "apps" && sts.version == "v1" && sts.plural == "statefulsets" && sts.kind == "StatefulSet" && sts.namespaced)
        let widgets = try ResourceFlag.parse("example.com/v1alpha1/widgets=Widget:cluster")
        #expect(widgets.group == "example.com" && !widgets.namespaced)
        let core = try ResourceFlag.parse("v1/podtemplates=PodTemplate")
        #expect(core.group == "" && core.apiVersion == "v1")
        for bad in ["statefulsets", "apps/v1/statefulsets", "apps/v1/StatefulSets=StatefulSet", "a/b/c/d=X", "v1/x=lower"] {
            #expect(throws: ResourceFlagError.self) { try ResourceFlag.parse(bad) }
        }
        // Served like the built-ins, with discovery.
        let api = try APIServer(registry: registry, resources: [widgets], serverAddress: "x")
        guard case .complete(_, _, let body, _) = await send(api, "GET", "/apis/example.com/v1alpha1") else { Issue.record("the response changed shape"); return }
        #expect(String(decoding: body, as: UTF8.self).contains(#""name":"widgets","singularName":"widget","namespaced":false,"kind":"Widget""#))
        let created = complete(await send(api, "POST", "/apis/example.com/v1alpha1/widgets", body: #"{"metadata":{"name":"w"}}"#))
        #expect(created.status == 201)
        #expect(created.json?["apiVersion"] == .string("example.com/v1alpha1"))
    }
}
