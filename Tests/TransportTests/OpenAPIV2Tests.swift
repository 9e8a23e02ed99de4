import Testing
import WatchCache
@testable import WatchCacheServer

/// `/openapi/v2`: the Swagger 2.0 document kubectl validates `List` files against, as JSON and as
/// gnostic's protobuf (what client-go asks for). kubectl reading it is in KubectlWriteTests.
@Suite struct OpenAPIV2Tests {
    let registry = try! Registry(clock: ManualClock())
    static let widgets = ResourceDescriptor(group: "example.com", plural: "widgets", kind: "Widget")
    /// What client-go asks for, and what the answer is labelled (Go's media type parser refuses `@`).
    static let protobuf = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
    static let protobufAnswer = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"

    func server() throws -> APIServer {
        try APIServer(registry: registry, resources: ResourceDescriptor.builtIn + [Self.widgets], serverAddress: "x", namespaceLifecycle: false)
    }

    func get(_ api: APIServer, accept: String? = nil, method: String = "GET") async -> (status: Int, contentType: String, body: [UInt8], headers: [(String, String)]) {
        let response = await withCheckedContinuation { c in
            api.handle(APIRequest(method: method, target: "/openapi/v2", headers: accept.map { [("Accept", $0)] } ?? [])) { c.resume(returning: $0) }
        }
        guard case .complete(let status, let contentType, let body, let headers) = response else { return (0, "", [], []) }
        return (status, contentType, body, headers)
    }

    func json(_ api: APIServer) async throws -> JSONObject {
        let response = await get(api)
        #expect(response.status == 200 && response.contentType == "application/json")
        return try JSONObject(parsing: String(decoding: response.body, as: UTF8.self))
    }

    @Test func theDocumentDescribesEveryPathAndKind() async throws {
        let document = try await json(server())
        #expect(document["swagger"] == .string("2.0"))
        let definitions = try #require(document["definitions"]?.objectValue)
        #expect(definitions.keys == definitions.keys.sorted())
        let pod = try #require(definitions["io.k8s.api.core.v1.Pod"])
        #expect(pod["x-kubernetes-group-version-kind"] == .array([.object(JSONObject([
            ("group", .string("")), ("kind", .string("Pod")), ("version", .string("v1")),
        ]))]))
        // Swagger 2.0 references: plain, to #/definitions/, no allOf, no default.
        #expect(pod["properties"]?["spec"] == .object(JSONObject([("$ref", .string("#/definitions/io.k8s.api.core.v1.PodSpec"))])))
        let containers = try #require(definitions["io.k8s.api.core.v1.PodSpec"]?["properties"]?["containers"])
        #expect(containers["items"] == .object(JSONObject([("$ref", .string("#/definitions/io.k8s.api.core.v1.Container"))])))
        #expect(containers["x-kubernetes-patch-merge-key"] == .string("name"))
        #expect(containers["x-kubernetes-patch-strategy"] == .string("merge"))
        #expect(definitions["io.k8s.api.core.v1.Container"]?["required"] == .array([.string("name")]))
        #expect(definitions["io.k8s.api.apps.v1.DeploymentSpec"]?["required"] == .array([.string("selector"), .string("template")]))
        // The types with their own JSON form, as kube-apiserver's v2 has them (no oneOf in 2.0).
        #expect(definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]?["format"] == .string("int-or-string"))
        #expect(definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]?["type"] == .string("string"))
        #expect(definitions["io.k8s.apimachinery.pkg.api.resource.Quantity"]?["type"] == .string("string"))
        // A resource stored as sent: any content.
        let widget = try #require(definitions["watchcache.example.com.v1.Widget"])
        #expect(widget["type"] == .string("object") && widget["properties"] == nil)
        #expect(widget["x-kubernetes-group-version-kind"]?.arrayValue?.first?["kind"] == .string("Widget"))

        // kubectl's older check for server-side field validation (QueryParamVerifier over v2).
        let paths = try #require(document["paths"]?.objectValue)
        let patch = try #require(paths["/api/v1/namespaces/{namespace}/pods/{name}"]?["patch"])
        #expect(patch["x-kubernetes-group-version-kind"]?["kind"] == .string("Pod"))
        #expect(patch["parameters"]?.arrayValue?.contains { $0["name"] == .string("fieldValidation") && $0["in"] == .string("query") } == true)
        #expect(patch["consumes"]?.arrayValue?.contains(.string("application/strategic-merge-patch+json")) == true)
        #expect(paths["/apis/apps/v1/namespaces/{namespace}/deployments"]?["post"]?["parameters"]?.arrayValue?.first?["schema"]?["$ref"]
            == .string("#/definitions/io.k8s.api.apps.v1.Deployment"))
        #expect(paths["/api/v1/pods"]?["get"]?["responses"]?["200"]?["schema"]?["$ref"] == .string("#/definitions/io.k8s.api.core.v1.PodList"))
        #expect(paths["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]?["patch"]?["consumes"]?.arrayValue?
            .contains(.string("application/strategic-merge-patch+json")) == false)

        // Every reference resolves; nothing of OpenAPI 3 is left.
        var refs: Set<String> = []
        func walk(_ value: JSONValue) {
            switch value {
            case .object(let object):
                for (key, member) in object.members {
                    #expect(key != "allOf" && key != "oneOf" && key != "components", "\(key)")
                    if key == "$ref", let ref = member.stringValue { refs.insert(ref) } else { walk(member) }
                }
            case .array(let elements): elements.forEach(walk)
            default: break
            }
        }
        walk(.object(document))
        #expect(refs.count > 100)
        for ref in refs {
            #expect(ref.hasPrefix("#/definitions/") && definitions[String(ref.dropFirst("#/definitions/".count))] != nil, "\(ref) does not resolve")
        }
    }

    @Test func formsAreNegotiatedAsKubeApiserverDoes() async throws {
        let api = try server()
        let plain = await get(api)
        #expect(plain.status == 200 && plain.contentType == "application/json")
        #expect(plain.headers.contains { $0.0 == "vary" && $0.1 == "Accept" })
        let etag = try #require(plain.headers.first { $0.0 == "etag" }?.1)
        #expect(etag.hasPrefix("\"") && etag.count == 18)
        #expect(await get(api, accept: "application/json").body == plain.body)
        #expect(await get(api, accept: "*/*").contentType == "application/json")
        let proto = await get(api, accept: Self.protobuf)
        #expect(proto.status == 200 && proto.contentType == Self.protobufAnswer && proto.body != plain.body)
        #expect(proto.headers.first { $0.0 == "etag" }?.1 != etag)
        #expect(await get(api, accept: Self.protobufAnswer).contentType == Self.protobufAnswer)
        #expect(await get(api, accept: "application/yaml, \(Self.protobuf)").contentType == Self.protobufAnswer)
        #expect(await get(api, accept: "\(Self.protobuf);q=0, application/json").contentType == "application/json")
        let refused = await get(api, accept: "application/yaml")
        #expect(refused.status == 406)
        #expect(String(decoding: refused.body, as: UTF8.self).contains("only the following media types are accepted: application/json"))
        #expect(await get(api, method: "POST").status == 405)
        // Built once: the same bytes every time, and for a server made alike.
        #expect(await get(api, accept: Self.protobuf).body == proto.body)
        #expect(await get(try server(), accept: Self.protobuf).body == proto.body)
    }

    /// The protobuf form read back with gnostic's field numbers (`openapiv2/OpenAPIv2.proto`):
    /// what kubectl's client-side validation and its v2 field-validation check look at.
    @Test func theProtobufFormIsGnosticsDocument() async throws {
        let api = try server()
        let document = try WireMessage(await get(api, accept: Self.protobuf).body[...])
        #expect(document.string(1) == "2.0")  // swagger
        let definitions = try #require(try document.message(9))  // Definitions
        let named = try definitions.messages(1)  // NamedSchema
        #expect(named.count == (try await json(api))["definitions"]?.objectValue?.count)
        func definition(_ name: String) throws -> WireMessage? {
            try named.first { $0.string(1) == name }?.message(2)
        }
        let pod = try #require(try definition("io.k8s.api.core.v1.Pod"))
        #expect(try pod.message(22)?.strings(1) == ["object"])  // type
        let properties = try #require(try pod.message(25)).messages(1)  // Properties.additional_properties
        #expect(properties.compactMap { $0.string(1) } == ["apiVersion", "kind", "metadata", "spec", "status"])
        let spec = try #require(try properties.first { $0.string(1) == "spec" }?.message(2))
        #expect(spec.string(1) == "#/definitions/io.k8s.api.core.v1.PodSpec")  // _ref
        // x-kubernetes-group-version-kind: a NamedAny whose Any.yaml is the value (JSON is YAML).
        let gvk = try #require(try pod.messages(31).first { $0.string(1) == "x-kubernetes-group-version-kind" })
        let yaml = try #require(try gvk.message(2)?.string(2))
        #expect(try JSONParser.parse(yaml) == .array([.object(JSONObject([("group", .string("")), ("kind", .string("Pod")), ("version", .string("v1"))]))]))
        let container = try #require(try definition("io.k8s.api.core.v1.Container"))
        #expect(container.strings(19) == ["name"])  // required
        let labels = try #require(try definition("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")?.message(25)?.messages(1)
            .first { $0.string(1) == "labels" }?.message(2))
        #expect(try labels.message(22)?.strings(1) == ["object"])
        #expect(try labels.message(21)?.message(1)?.message(22)?.strings(1) == ["string"])  // additionalProperties.schema.type

        // Paths → the pod PATCH → its query parameters (ParametersItem.parameter.non_body_parameter.query).
        let paths = try #require(try document.message(8)).messages(2)
        let item = try #require(try paths.first { $0.string(1) == "/api/v1/namespaces/{namespace}/pods/{name}" }?.message(2))
        let patch = try #require(try item.message(8))
        let queries = try patch.messages(8).compactMap { try $0.message(1)?.message(2)?.message(3) }
        #expect(queries.contains { $0.string(4) == "fieldValidation" && $0.string(2) == "query" })
        let operationGVK = try #require(try patch.messages(13).first { $0.string(1) == "x-kubernetes-group-version-kind" })
        #expect(try JSONParser.parse(try #require(try operationGVK.message(2)?.string(2)))["kind"] == .string("Pod"))
        let body = try #require(try item.message(3)?.messages(8).compactMap { try $0.message(1)?.message(1) }.first)  // put's body parameter
        #expect(body.string(3) == "body")
        #expect(try body.message(5)?.string(1) == "#/definitions/io.k8s.api.core.v1.Pod")
        let path = try #require(try item.messages(9).compactMap { try $0.message(1)?.message(2)?.message(4) }.first)
        #expect(path.string(4) == "name" && path.varint(1) == 1)  // required
    }
}

/// A protobuf message's fields by number, read without a schema (for the test above).
struct WireMessage {
    private var fields: [Int: [Field]] = [:]

    enum Field {
        case varint(UInt64)
        case bytes(ArraySlice<UInt8>)
    }

    struct Malformed: Error {}

    init(_ bytes: ArraySlice<UInt8>) throws {
        var i = bytes.startIndex
        func varint() throws -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard i < bytes.endIndex, shift < 64 else { throw Malformed() }
                let b = bytes[i]
                i += 1
                value |= UInt64(b & 0x7F) << shift
                if b < 0x80 { return value }
                shift += 7
            }
        }
        while i < bytes.endIndex {
            let key = try varint()
            switch key & 7 {
            case 0: fields[Int(key >> 3), default: []].append(.varint(try varint()))
            case 2:
                let length = Int(try varint())
                guard length <= bytes.endIndex - i else { throw Malformed() }
                fields[Int(key >> 3), default: []].append(.bytes(bytes[i..<i + length]))
                i += length
            default: throw Malformed()
            }
        }
    }

    func string(_ number: Int) -> String? {
        guard case .bytes(let b)? = fields[number]?.last else { return nil }
        return String(decoding: b, as: UTF8.self)
    }

    func strings(_ number: Int) -> [String] {
        (fields[number] ?? []).compactMap { if case .bytes(let b) = $0 { String(decoding: b, as: UTF8.self) } else { nil } }
    }

    func varint(_ number: Int) -> UInt64? {
        guard case .varint(let v)? = fields[number]?.last else { return nil }
        return v
    }

    func message(_ number: Int) throws -> WireMessage? {
        guard case .bytes(let b)? = fields[number]?.last else { return nil }
        return try WireMessage(b)
    }

    func messages(_ number: Int) throws -> [WireMessage] {
        try (fields[number] ?? []).compactMap { if case .bytes(let b) = $0 { try WireMessage(b) } else { nil } }
    }
}
