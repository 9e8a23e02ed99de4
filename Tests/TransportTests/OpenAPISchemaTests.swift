import Testing
import WatchCache
@testable import WatchCacheServer

/// The schemas of the OpenAPI v3 documents: kube-apiserver's for the built-in kinds (what
/// `kubectl apply` reads patch metadata from and `kubectl explain` renders), open ones for others.
@Suite struct OpenAPISchemaTests {
    let registry = try! Registry(clock: ManualClock())
    static let widgets = ResourceDescriptor(group: "example.com", plural: "widgets", kind: "Widget")

    func get(_ api: APIServer, _ target: String) async throws -> (json: JSONObject, size: Int) {
        let response = await withCheckedContinuation { c in
            api.handle(APIRequest(method: "GET", target: target)) { c.resume(returning: $0) }
        }
        guard case .complete(let status, _, let body, _) = response else { throw Failure("\(target): not a complete response") }
        #expect(status == 200, "\(target)")
        return (try JSONObject(parsing: String(decoding: body, as: UTF8.self)), body.count)
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    func server() throws -> APIServer {
        try APIServer(registry: registry, resources: ResourceDescriptor.builtIn + [Self.widgets], serverAddress: "x")
    }

    func schemas(_ document: JSONObject) throws -> JSONObject {
        try #require(document["components"]?["schemas"]?.objectValue)
    }

    @Test func podHasItsRealSchema() async throws {
        let document = try await get(server(), "/openapi/v3/api/v1").json
        let schemas = try schemas(document)
        let pod = try #require(schemas["io.k8s.api.core.v1.Pod"])
        #expect(pod["type"] == .string("object"))
        #expect(pod["x-kubernetes-preserve-unknown-fields"] == nil)
        #expect(pod["x-kubernetes-group-version-kind"] == .array([.object(JSONObject([
            ("group", .string("")), ("kind", .string("Pod")), ("version", .string("v1")),
        ]))]))
        #expect(pod["properties"]?["spec"]?["allOf"]?.arrayValue?.first?["$ref"] == .string("#/components/schemas/io.k8s.api.core.v1.PodSpec"))
        #expect(pod["properties"]?["metadata"]?["allOf"]?.arrayValue?.first?["$ref"]
            == .string("#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"))
        #expect(pod["properties"]?["kind"]?["type"] == .string("string"))
        #expect(pod["properties"]?["apiVersion"]?["type"] == .string("string"))
        #expect(schemas["io.k8s.api.core.v1.PodList"]?["x-kubernetes-group-version-kind"]?.arrayValue?.first?["kind"] == .string("PodList"))

        let podSpec = try #require(schemas["io.k8s.api.core.v1.PodSpec"]?["properties"])
        let containers = try #require(podSpec["containers"])
        #expect(containers["type"] == .string("array"))
        #expect(containers["items"]?["allOf"]?.arrayValue?.first?["$ref"] == .string("#/components/schemas/io.k8s.api.core.v1.Container"))
        #expect(containers["x-kubernetes-patch-merge-key"] == .string("name"))
        #expect(containers["x-kubernetes-patch-strategy"] == .string("merge"))
        #expect(containers["x-kubernetes-list-type"] == .string("map"))
        #expect(containers["x-kubernetes-list-map-keys"] == .array([.string("name")]))
        #expect(podSpec["volumes"]?["x-kubernetes-patch-strategy"] == .string("merge,retainKeys"))
        #expect(podSpec["nodeSelector"]?["additionalProperties"]?["type"] == .string("string"))
        #expect(podSpec["terminationGracePeriodSeconds"]?["format"] == .string("int64"))
        #expect(podSpec["hostNetwork"]?["type"] == .string("boolean"))

        let container = try #require(schemas["io.k8s.api.core.v1.Container"])
        #expect(container["required"]?.arrayValue?.contains(.string("name")) == true)
        #expect(container["properties"]?["ports"]?["x-kubernetes-patch-merge-key"] == .string("containerPort"))
        // Inline members (Volume's VolumeSource) appear as the parent's own properties.
        #expect(schemas["io.k8s.api.core.v1.Volume"]?["properties"]?["configMap"] != nil)
    }

    @Test func specialTypesAreKubeApiserversSchemas() async throws {
        let schemas = try await schemas(get(server(), "/openapi/v3/api/v1").json)
        let quantity = try #require(schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"])
        #expect(quantity["oneOf"] == .array([.object(JSONObject([("type", .string("string"))])), .object(JSONObject([("type", .string("number"))]))]))
        #expect(schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]?["format"] == .string("int-or-string"))
        #expect(schemas["io.k8s.apimachinery.pkg.apis.meta.v1.Time"]?["format"] == .string("date-time"))
        #expect(schemas["io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1"]?["type"] == .string("object"))
        let requests = try #require(schemas["io.k8s.api.core.v1.ResourceRequirements"]?["properties"]?["requests"])
        #expect(requests["additionalProperties"]?["$ref"] == .string("#/components/schemas/io.k8s.apimachinery.pkg.api.resource.Quantity"))
        #expect(schemas["io.k8s.api.core.v1.Secret"]?["properties"]?["data"]?["additionalProperties"]?["format"] == .string("byte"))
        #expect(schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]?["properties"]?["creationTimestamp"]?["allOf"]?.arrayValue?.first?["$ref"]
            == .string("#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Time"))
    }

    /// Lists answer with the list kind, collection deletes with Status; kubectl finds the kind's
    /// schema by its group-version-kind.
    @Test func operationsReferToTheRealSchemas() async throws {
        let document = try await get(server(), "/openapi/v3/apis/apps/v1").json
        let paths = try #require(document["paths"])
        let collection = try #require(paths["/apis/apps/v1/namespaces/{namespace}/deployments"])
        func response(_ op: JSONValue?) -> JSONValue? { op?["responses"]?["200"]?["content"]?["application/json"]?["schema"]?["$ref"] }
        #expect(response(collection["get"]) == .string("#/components/schemas/io.k8s.api.apps.v1.DeploymentList"))
        #expect(response(collection["post"]) == .string("#/components/schemas/io.k8s.api.apps.v1.Deployment"))
        #expect(response(collection["delete"]) == .string("#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Status"))
        let item = try #require(paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"])
        #expect(response(item["get"]) == .string("#/components/schemas/io.k8s.api.apps.v1.Deployment"))
        #expect(item["patch"]?["requestBody"]?["content"]?["application/strategic-merge-patch+json"] != nil)
        #expect(item["patch"]?["x-kubernetes-group-version-kind"]?["kind"] == .string("Deployment"))
        let schemas = try schemas(document)
        let matching = schemas.members.filter { _, schema in
            schema["x-kubernetes-group-version-kind"]?.arrayValue?.contains {
                $0["group"] == .string("apps") && $0["version"] == .string("v1") && $0["kind"] == .string("Deployment")
            } == true
        }
        #expect(matching.map(\.0) == ["io.k8s.api.apps.v1.Deployment"])
        // Deployments reach core types through the pod template.
        #expect(schemas["io.k8s.api.core.v1.PodTemplateSpec"] != nil)
        #expect(schemas["io.k8s.api.core.v1.Container"] != nil)
        #expect(schemas["io.k8s.api.apps.v1.ReplicaSet"] != nil)
    }

    /// Every `$ref` of every document names a schema of that same document, and schemas are sorted.
    @Test func everyReferenceResolves() async throws {
        let api = try server()
        let root = try await get(api, "/openapi/v3").json
        let urls = try #require(root["paths"]?.objectValue).members.compactMap { $0.1["serverRelativeURL"]?.stringValue }
        #expect(urls.count == 3)
        for url in urls {
            let (document, size) = try await get(api, url)
            let schemas = try schemas(document)
            print("OpenAPI \(url): \(size) bytes, \(schemas.count) schemas")
            #expect(schemas.keys == schemas.keys.sorted(), "\(url)")
            var refs: Set<String> = []
            func collect(_ value: JSONValue) {
                switch value {
                case .object(let object):
                    for (key, member) in object.members {
                        if key == "$ref", let ref = member.stringValue { refs.insert(ref) } else { collect(member) }
                    }
                case .array(let elements): elements.forEach(collect)
                default: break
                }
            }
            collect(.object(document))
            #expect(!refs.isEmpty)
            for ref in refs {
                #expect(ref.hasPrefix("#/components/schemas/"), "\(url): \(ref)")
                #expect(schemas[String(ref.dropFirst("#/components/schemas/".count))] != nil, "\(url): \(ref) does not resolve")
            }
        }
    }

    /// A resource the server has no schema for keeps an open one, and (like a custom resource in
    /// kube-apiserver) offers no strategic merge patch, so `kubectl apply` sends a JSON merge patch
    /// without warning that it cannot compute a strategic one from the schema.
    @Test func customResourcesKeepAnOpenSchema() async throws {
        let document = try await get(server(), "/openapi/v3/apis/example.com/v1").json
        let schemas = try schemas(document)
        #expect(schemas.keys == ["watchcache.example.com.v1.Widget"])
        let widget = try #require(schemas["watchcache.example.com.v1.Widget"])
        #expect(widget["x-kubernetes-preserve-unknown-fields"] == .bool(true))
        #expect(widget["x-kubernetes-group-version-kind"]?.arrayValue?.first?["kind"] == .string("Widget"))
        let patch = try #require(document["paths"]?["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]?["patch"])
        #expect(patch["requestBody"]?["content"]?["application/merge-patch+json"]?["schema"]?["$ref"]
            == .string("#/components/schemas/watchcache.example.com.v1.Widget"))
        #expect(patch["requestBody"]?["content"]?["application/strategic-merge-patch+json"] == nil)
        #expect(patch["parameters"]?.arrayValue?.contains { $0["name"] == .string("fieldValidation") } == true)
    }

    /// Documents are built once and are the same every time.
    @Test func documentsAreDeterministic() throws {
        let a = OpenAPI(resources: ResourceDescriptor.builtIn)
        let b = OpenAPI(resources: ResourceDescriptor.builtIn)
        #expect(a.root == b.root)
        #expect(a.document(at: "api/v1") == b.document(at: "api/v1"))
        #expect(a.document(at: "apis/apps/v1") == b.document(at: "apis/apps/v1"))
    }
}
