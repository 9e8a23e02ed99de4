import Synchronization
import WatchCache
import WatchCacheSchema

/// The OpenAPI v2 (Swagger 2.0) document kube-apiserver publishes at `/openapi/v2`: every served
/// path and the `definitions` of every kind, in one document, as JSON or as the protobuf of
/// gnostic's `openapi_v2.Document` (``OpenAPIV2Protobuf``), which is the form client-go asks for.
///
/// kubectl reads it where OpenAPI v3 does not answer for it: a file whose kind is `List` (what
/// `kubectl get -o yaml` writes) is validated on the client, item by item, against these
/// definitions (unknown and missing required fields, value types) before anything is sent. Older
/// kubectl versions and tools built on client-go (Helm's client-side validation) read it too.
/// Built-in kinds get the same schemas as in v3 (``OpenAPISchemas`` in its v2 dialect); other
/// resources an open object that any content satisfies.
struct OpenAPIV2: Sendable {
    /// The protobuf media type, as the response is labelled. Go's `mime.ParseMediaType` (client-go
    /// parses every response's type) refuses the `@` of the name client-go asks for, so
    /// kube-apiserver answers that name, too, with this one.
    static let protobufType = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    /// The name client-go's `OpenAPISchema()` asks for (deprecated in kube-openapi).
    static let requestedProtobufType = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"

    /// What the document can be served as.
    enum Form: Equatable {
        case json, protobuf
    }

    private let resources: [ResourceDescriptor]
    /// The document in both forms and its content hash (the ETag), built at the first request
    /// for it, as the v3 documents are.
    private let built = LazyDocument()

    init(resources: [ResourceDescriptor]) {
        self.resources = resources
    }

    /// The document in `form`, and its entity tag.
    func body(_ form: Form) -> (bytes: [UInt8], etag: String) {
        let document = built.value.withLock { built in
            if let built { return built }
            let json = Self.document(resources)
            let made = Built(json: JSONWriter.encode(json), protobuf: OpenAPIV2Protobuf.encode(json))
            built = made
            return made
        }
        switch form {
        case .json: return (document.json, document.jsonTag)
        case .protobuf: return (document.protobuf, document.protobufTag)
        }
    }

    /// The first form `accept` lists that this document comes in (JSON when there is none), as
    /// kube-apiserver's OpenAPI handler picks; 406 when nothing listed can be served.
    static func negotiate(_ accept: String?) throws(Status) -> Form {
        guard let accept, !accept.allSatisfy({ $0 == " " }) else { return .json }
        for range in MediaRange.parse(accept) where !range.isRefused {
            if range.coversJSON { return .json }
            if range.type == protobufType || range.type == requestedProtobufType { return .protobuf }
        }
        throw Status(code: 406, reason: .notAcceptable,
                     message: "only the following media types are accepted: application/json, \(protobufType), \(requestedProtobufType)")
    }

    private struct Built: Sendable {
        let json: [UInt8]
        let protobuf: [UInt8]
        let jsonTag: String
        let protobufTag: String

        init(json: [UInt8], protobuf: [UInt8]) {
            self.json = json
            self.protobuf = protobuf
            jsonTag = "\"\(OpenAPI.hash(json))\""
            protobufTag = "\"\(OpenAPI.hash(protobuf))\""
        }
    }

    private final class LazyDocument: Sendable {
        let value = Mutex<Built?>(nil)
    }

    // MARK: - The document

    static func document(_ resources: [ResourceDescriptor]) -> JSONValue {
        var paths: [(String, JSONValue)] = []
        var schemas = OpenAPISchemas(dialect: .v2)
        var open: [(String, JSONValue)] = []
        for r in resources {
            let prefix = r.group.isEmpty ? "/api/\(r.version)" : "/apis/\(r.group)/\(r.version)"
            let scope = r.namespaced ? "\(prefix)/namespaces/{namespace}/\(r.plural)" : "\(prefix)/\(r.plural)"
            let object: String, list: String, patch: String, status: String, deleteOptions: String?
            var patchTypes = ["application/json-patch+json", "application/merge-patch+json"]
            if let kind = APISchema.builtIn.kind(group: r.group, version: r.version, plural: r.plural), kind.kind == r.kind {
                schemas.add(kind)
                for meta in [OpenAPISchemas.status, OpenAPISchemas.deleteOptions, OpenAPISchemas.patch] {
                    schemas.addMeta(meta, group: r.group, version: r.version)
                }
                (object, list, patch, status, deleteOptions) = (kind.typeName, kind.listTypeName, OpenAPISchemas.patch,
                                                                OpenAPISchemas.status, OpenAPISchemas.deleteOptions)
                patchTypes.append("application/strategic-merge-patch+json")
            } else {
                // Stored as sent: an object whose content is not described (a map of anything).
                let name = OpenAPI.schemaName(r)
                open.append((name, .object(JSONObject([
                    ("description", .string("\(r.kind), stored as the client sent it (the server does not validate fields).")),
                    ("type", .string("object")),
                    ("x-kubernetes-group-version-kind", .array([OpenAPI.gvk(r)])),
                ]))))
                (object, list, patch, status, deleteOptions) = (name, name, name, name, nil)
            }
            let namespace: [JSONValue] = r.namespaced ? [pathParameter("namespace", "object name and auth scope, such as for teams and projects")] : []
            let pretty = queryParameter("pretty", "If 'true', then the output is pretty printed.")
            paths.append((scope, .object(JSONObject([
                ("get", operation(r, action: "list", id: "list", response: list, query: OpenAPI.listQuery, watch: true)),
                ("post", operation(r, action: "post", id: "create", response: object, query: OpenAPI.writeQuery, body: object)),
                ("delete", operation(r, action: "deletecollection", id: "deleteCollection", response: status,
                                     query: OpenAPI.listQuery + OpenAPI.deleteQuery, body: deleteOptions)),
                ("parameters", .array(namespace + [pretty])),
            ]))))
            paths.append(("\(scope)/{name}", .object(JSONObject([
                ("get", operation(r, action: "get", id: "read", response: object, query: [])),
                ("put", operation(r, action: "put", id: "replace", response: object, query: OpenAPI.writeQuery, body: object)),
                ("patch", operation(r, action: "patch", id: "patch", response: object, query: OpenAPI.writeQuery, body: patch,
                                    consumes: patchTypes)),
                ("delete", operation(r, action: "delete", id: "delete", response: object, query: OpenAPI.deleteQuery, body: deleteOptions)),
                ("parameters", .array([pathParameter("name", "name of the \(r.kind)")] + namespace + [pretty])),
            ]))))
            if r.namespaced {
                paths.append(("\(prefix)/\(r.plural)", .object(JSONObject([
                    ("get", operation(r, action: "list", id: "listForAllNamespaces", response: list, query: OpenAPI.listQuery, watch: true)),
                    ("parameters", .array([pretty])),
                ]))))
            }
        }
        var definitions = Array(schemas.json.members)
        for (name, schema) in open where !schemas.contains(name) && !definitions.contains(where: { $0.0 == name }) {
            definitions.append((name, schema))
        }
        return .object(JSONObject([
            ("swagger", .string("2.0")),
            ("info", .object(JSONObject([("title", .string("Kubernetes")), ("version", .string("v1.32.0-watchcache"))]))),
            ("paths", .object(JSONObject(paths.sorted { $0.0 < $1.0 }))),
            ("definitions", .object(JSONObject(definitions.sorted { $0.0 < $1.0 }))),
        ]))
    }

    private static func operation(_ r: ResourceDescriptor, action: String, id: String, response: String, query: [(String, String)],
                                  body: String? = nil, consumes: [String] = ["*/*"], watch: Bool = false) -> JSONValue {
        var parameters: [JSONValue] = []
        if let body {
            parameters.append(.object(JSONObject([
                ("in", .string("body")), ("name", .string("body")), ("required", .bool(action != "delete" && action != "deletecollection")),
                ("schema", reference(body)),
            ])))
        }
        parameters += query.map { queryParameter($0.0, $0.1) }
        var produces: [JSONValue] = ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"].map { .string($0) }
        if watch { produces += ["application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch"].map { .string($0) } }
        return .object(JSONObject([
            ("consumes", .array(consumes.map { .string($0) })),
            ("operationId", .string("\(id)\(OpenAPI.operationScope(r))\(r.kind)")),
            ("parameters", .array(parameters)),
            ("produces", .array(produces)),
            ("responses", .object(JSONObject([
                ("200", .object(JSONObject([("description", .string("OK")), ("schema", reference(response))]))),
                ("401", .object(JSONObject([("description", .string("Unauthorized"))]))),
            ]))),
            ("schemes", .array([.string("https")])),
            ("tags", .array([.string(r.group.isEmpty ? "core_\(r.version)" : "\(r.group.split(separator: ".").first ?? "")_\(r.version)")])),
            ("x-kubernetes-action", .string(action)),
            ("x-kubernetes-group-version-kind", OpenAPI.gvk(r)),
        ]))
    }

    private static func reference(_ name: String) -> JSONValue {
        .object(JSONObject([("$ref", .string("#/definitions/\(name)"))]))
    }

    private static func queryParameter(_ name: String, _ description: String) -> JSONValue {
        let type = OpenAPI.queryParameterType(name)
        return .object(JSONObject([
            ("description", .string(description)), ("in", .string("query")), ("name", .string(name)),
            ("type", .string(type)), ("uniqueItems", .bool(true)),
        ]))
    }

    private static func pathParameter(_ name: String, _ description: String) -> JSONValue {
        .object(JSONObject([
            ("description", .string(description)), ("in", .string("path")), ("name", .string(name)),
            ("required", .bool(true)), ("type", .string("string")), ("uniqueItems", .bool(true)),
        ]))
    }
}
