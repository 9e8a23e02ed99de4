import Testing
import WatchCache
@testable import WatchCacheServer

/// Aggregated discovery (`apidiscovery.k8s.io/v2`): `/api` and `/apis` in one document each when
/// asked for. kubectl discovering with two requests is in KubectlWriteTests.
@Suite struct AggregatedDiscoveryTests {
    let registry = try! Registry(clock: ManualClock())
    static let kubectlAccept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"

    func get(_ api: APIServer, _ path: String, accept: String?) async throws -> (contentType: String, json: JSONObject) {
        let response = await withCheckedContinuation { c in
            api.handle(APIRequest(method: "GET", target: path, headers: accept.map { [("Accept", $0)] } ?? [])) { c.resume(returning: $0) }
        }
        guard case .complete(let status, let contentType, let body, _) = response else { throw Status.internalError("no answer") }
        #expect(status == 200)
        return (contentType, try JSONObject(parsing: String(decoding: body, as: UTF8.self)))
    }

    func server() throws -> APIServer {
        try APIServer(registry: registry, resources: ResourceDescriptor.builtIn + [ResourceDescriptor(group: "example.com", plural: "widgets", kind: "Widget")],
                      serverAddress: "x", namespaceLifecycle: false)
    }

    @Test func theAcceptHeaderChoosesTheForm() {
        #expect(Discovery.aggregatedVersion(Self.kubectlAccept) == "v2")
        #expect(Discovery.aggregatedVersion("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList") == "v2beta1")
        #expect(Discovery.aggregatedVersion("application/json, application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList") == nil)
        #expect(Discovery.aggregatedVersion("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;q=0,application/json") == nil)
        #expect(Discovery.aggregatedVersion("application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList") == nil)
        #expect(Discovery.aggregatedVersion(nil) == nil)
    }

    @Test func apisListsEveryGroupVersionAndResource() async throws {
        let api = try server()
        let (type, list) = try await get(api, "/apis", accept: Self.kubectlAccept)
        #expect(type == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
        #expect(list["kind"] == .string("APIGroupDiscoveryList") && list["apiVersion"] == .string("apidiscovery.k8s.io/v2"))
        let items = try #require(list["items"]?.arrayValue)
        let apps = try #require(items.first { $0["metadata"]?["name"] == .string("apps") })
        let v1 = try #require(apps["versions"]?.arrayValue?.first)
        #expect(v1["version"] == .string("v1") && v1["freshness"] == .string("Current"))
        let deployments = try #require(v1["resources"]?.arrayValue?.first { $0["resource"] == .string("deployments") })
        #expect(deployments["responseKind"] == .object(JSONObject([("group", .string("apps")), ("version", .string("v1")), ("kind", .string("Deployment"))])))
        #expect(deployments["scope"] == .string("Namespaced") && deployments["singularResource"] == .string("deployment"))
        #expect(deployments["shortNames"] == .array([.string("deploy")]) && deployments["categories"] == .array([.string("all")]))
        #expect(deployments["verbs"]?.arrayValue?.contains(.string("watch")) == true)
        let subresources = try #require(deployments["subresources"]?.arrayValue)
        #expect(subresources.first { $0["subresource"] == .string("scale") }?["responseKind"]
            == .object(JSONObject([("group", .string("autoscaling")), ("version", .string("v1")), ("kind", .string("Scale"))])))
        #expect(subresources.contains { $0["subresource"] == .string("status") })
        let reviews = try #require(items.first { $0["metadata"]?["name"] == .string(AccessReviews.authorization) })
        #expect(reviews["versions"]?.arrayValue?.first?["resources"]?.arrayValue?.allSatisfy {
            $0["verbs"] == .array([.string("create")]) && $0["scope"] == .string("Cluster")
        } == true)

        // The same groups, versions and resources as the documents it stands for.
        let plain = try await get(api, "/apis", accept: "application/json").json
        let groups = plain["groups"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        #expect(items.compactMap { $0["metadata"]?["name"]?.stringValue } == groups)
        for item in items {
            let name = try #require(item["metadata"]?["name"]?.stringValue)
            for version in item["versions"]?.arrayValue ?? [] {
                let v = try #require(version["version"]?.stringValue)
                let resources = try await get(api, "/apis/\(name)/\(v)", accept: nil).json["resources"]?.arrayValue ?? []
                let expected = resources.compactMap { $0["name"]?.stringValue }.filter { !$0.contains("/") }
                #expect(version["resources"]?.arrayValue?.compactMap { $0["resource"]?.stringValue } == expected, "\(name)/\(v)")
            }
        }
    }

    @Test func apiListsTheCoreGroup() async throws {
        let api = try server()
        #expect(try await get(api, "/api", accept: "application/json").json["kind"] == .string("APIVersions"))
        let (type, list) = try await get(api, "/api", accept: "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList")
        #expect(type.contains("v=v2beta1") && list["apiVersion"] == .string("apidiscovery.k8s.io/v2beta1"))
        let item = try #require(list["items"]?.arrayValue?.first)
        #expect(list["items"]?.arrayValue?.count == 1 && item["metadata"]?["name"] == nil)
        let resources = try #require(item["versions"]?.arrayValue?.first?["resources"]?.arrayValue)
        let pods = try #require(resources.first { $0["resource"] == .string("pods") })
        #expect(pods["responseKind"]?["group"] == .string("") && pods["shortNames"] == .array([.string("po")]))
        #expect(pods["subresources"]?.arrayValue?.compactMap { $0["subresource"]?.stringValue } == ["status"])
        #expect(resources.first { $0["resource"] == .string("namespaces") }?["scope"] == .string("Cluster"))
    }
}
