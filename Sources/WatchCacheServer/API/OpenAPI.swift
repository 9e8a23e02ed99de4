import Synchronization
import WatchCache
import WatchCacheSchema

/// The OpenAPI v3 documents kube-apiserver publishes at `/openapi/v3`: the root lists one document
/// per group-version, and each document describes the paths, verbs and query parameters served.
///
/// kubectl reads them before `create`, `apply` and `replace` to learn that the server accepts
/// `fieldValidation` on writes (it then leaves validation to the server), `kubectl apply` reads the
/// patch metadata of the kind's schema (`x-kubernetes-patch-strategy`, `-merge-key`) to compute its
/// strategic merge patch, and `kubectl explain` renders the schemas.
///
/// Built-in kinds (those ``APISchema/builtIn`` describes) get kube-apiserver's schemas, named as it
/// names them (`io.k8s.api.core.v1.Pod`), with every type they reference (see ``OpenAPISchemas``).
/// Other resources (`--resource`) are stored as sent, so their schema is an open object
/// (`x-kubernetes-preserve-unknown-fields`) that makes no claims about fields.
struct OpenAPI: Sendable {
    private let resources: [ResourceDescriptor]
    /// The documents (`api/v1` or `apis/{group}/{version}` → the document, encoded once) and the
    /// root, built at the first request for one: most API servers made (tests, embedders, the
    /// fuzz targets) are never asked, and a server starts without paying for them.
    private let built = LazyDocuments()

    init(resources: [ResourceDescriptor]) {
        self.resources = resources
    }

    /// The document for `api/v1`-style `path` (the part after `/openapi/v3/`), or nil.
    func document(at path: String) -> [UInt8]? { contents.documents[path] }

    /// `/openapi/v3`.
    var root: [UInt8] { contents.root }

    private var contents: (documents: [String: [UInt8]], root: [UInt8]) {
        built.value.withLock { built in
            if let built { return built }
            let made = Self.build(resources)
            built = made
            return made
        }
    }

    private final class LazyDocuments: Sendable {
        let value = Mutex<(documents: [String: [UInt8]], root: [UInt8])?>(nil)
    }

    private static func build(_ resources: [ResourceDescriptor]) -> (documents: [String: [UInt8]], root: [UInt8]) {
        var byPath: [String: [ResourceDescriptor]] = [:]
        var order: [String] = []
        for r in resources {
            let key = r.group.isEmpty ? "api/\(r.version)" : "apis/\(r.group)/\(r.version)"
            if byPath[key] == nil { order.append(key) }
            byPath[key, default: []].append(r)
        }
        var documents: [String: [UInt8]] = [:]
        var paths = JSONObject()
        for key in order {
            let document = JSONWriter.encode(Self.document(byPath[key]!))
            documents[key] = document
            paths[key] = .object(JSONObject([("serverRelativeURL", .string("/openapi/v3/\(key)?hash=\(Self.hash(document))"))]))
        }
        return (documents, JSONWriter.encode(.object(JSONObject([("paths", .object(paths))]))))
    }

    // MARK: - Documents

    /// What a resource's operations refer to in `components.schemas`.
    private struct References {
        /// The object (`io.k8s.api.core.v1.Pod`), for reads, creates, updates and deletes.
        let object: String
        /// The list (`io.k8s.api.core.v1.PodList`), for lists.
        let list: String
        /// The PATCH body.
        let patch: String
        /// The answer to a collection DELETE.
        let status: String
        /// The body a DELETE may carry, when described.
        let deleteOptions: String?
        /// The PATCH content types. Like kube-apiserver for custom resources, a resource without a
        /// schema offers no strategic merge patch: kubectl then sends a JSON merge patch for
        /// `apply` without first trying (and warning about) a strategic one it cannot compute.
        let patchTypes: [String]
    }

    private static func document(_ resources: [ResourceDescriptor]) -> JSONValue {
        var paths = JSONObject()
        var schemas = OpenAPISchemas()
        var open: [(String, JSONValue)] = []
        for r in resources {
            let prefix = r.group.isEmpty ? "/api/\(r.version)" : "/apis/\(r.group)/\(r.version)"
            let scope = r.namespaced ? "\(prefix)/namespaces/{namespace}/\(r.plural)" : "\(prefix)/\(r.plural)"
            let scopeParameters: [JSONValue] = r.namespaced ? [pathParameter("namespace", "object name and auth scope, such as for teams and projects")] : []
            let refs: References
            if let kind = APISchema.builtIn.kind(group: r.group, version: r.version, plural: r.plural), kind.kind == r.kind {
                // A built-in kind: its real schema, the types it references, and kube-apiserver's meta types.
                schemas.add(kind)
                for meta in [OpenAPISchemas.status, OpenAPISchemas.deleteOptions, OpenAPISchemas.patch] {
                    schemas.addMeta(meta, group: r.group, version: r.version)
                }
                refs = References(object: kind.typeName, list: kind.listTypeName, patch: OpenAPISchemas.patch,
                                  status: OpenAPISchemas.status, deleteOptions: OpenAPISchemas.deleteOptions,
                                  patchTypes: ["application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json"])
            } else {
                // Another resource: stored as sent, so an open object.
                let name = schemaName(r)
                open.append((name, .object(JSONObject([
                    ("type", .string("object")),
                    ("description", .string("\(r.kind), stored as the client sent it (the server does not validate fields).")),
                    ("x-kubernetes-preserve-unknown-fields", .bool(true)),
                    ("x-kubernetes-group-version-kind", .array([gvk(r)])),
                ]))))
                refs = References(object: name, list: name, patch: name, status: name, deleteOptions: nil,
                                  patchTypes: ["application/json-patch+json", "application/merge-patch+json"])
            }
            paths[scope] = .object(JSONObject([
                ("get", operation(r, action: "list", id: "list", response: refs.list, query: listQuery)),
                ("post", operation(r, action: "post", id: "create", response: refs.object, query: writeQuery, body: refs.object)),
                ("delete", operation(r, action: "deletecollection", id: "deleteCollection", response: refs.status, query: listQuery + deleteQuery,
                                     body: refs.deleteOptions, bodyRequired: false)),
                ("parameters", .array(scopeParameters + [queryParameter("pretty", "If 'true', then the output is pretty printed.")])),
            ]))
            paths["\(scope)/{name}"] = .object(JSONObject([
                ("get", operation(r, action: "get", id: "read", response: refs.object, query: [])),
                ("put", operation(r, action: "put", id: "replace", response: refs.object, query: writeQuery, body: refs.object)),
                ("patch", operation(r, action: "patch", id: "patch", response: refs.object, query: writeQuery, body: refs.patch,
                                    bodyTypes: refs.patchTypes)),
                ("delete", operation(r, action: "delete", id: "delete", response: refs.object, query: deleteQuery,
                                     body: refs.deleteOptions, bodyRequired: false)),
                ("parameters", .array([pathParameter("name", "name of the \(r.kind)")] + scopeParameters
                    + [queryParameter("pretty", "If 'true', then the output is pretty printed.")])),
            ]))
            if r.namespaced {
                paths["\(prefix)/\(r.plural)"] = .object(JSONObject([
                    ("get", operation(r, action: "list", id: "listForAllNamespaces", response: refs.list, query: listQuery)),
                ]))
            }
        }
        // Open schemas never replace a real one of the same name.
        var members = Array(schemas.json.members)
        for (name, schema) in open where !schemas.contains(name) && !members.contains(where: { $0.0 == name }) {
            members.append((name, schema))
        }
        let components = JSONObject(members.sorted { $0.0 < $1.0 })
        return .object(JSONObject([
            ("openapi", .string("3.0.0")),
            ("info", .object(JSONObject([("title", .string("Kubernetes")), ("version", .string("v1.32.0-watchcache"))]))),
            ("paths", .object(paths)),
            ("components", .object(JSONObject([("schemas", .object(components))]))),
        ]))
    }

    private static func operation(_ r: ResourceDescriptor, action: String, id: String, response: String, query: [(String, String)],
                                  body: String? = nil, bodyRequired: Bool = true, bodyTypes: [String] = ["application/json"]) -> JSONValue {
        func schema(_ name: String) -> JSONValue {
            .object(JSONObject([("schema", .object(JSONObject([("$ref", .string("#/components/schemas/\(name)"))])))]))
        }
        var op = JSONObject([
            ("operationId", .string("\(id)\(operationScope(r))\(r.kind)")),
            ("parameters", .array(query.map { queryParameter($0.0, $0.1) })),
            ("responses", .object(JSONObject([("200", .object(JSONObject([
                ("description", .string("OK")),
                ("content", .object(JSONObject([("application/json", schema(response))]))),
            ])))]))),
            ("x-kubernetes-action", .string(action)),
            ("x-kubernetes-group-version-kind", gvk(r)),
        ])
        if let body {
            op["requestBody"] = .object(JSONObject([
                ("required", .bool(bodyRequired)),
                ("content", .object(JSONObject(bodyTypes.map { ($0, schema(body)) }))),
            ]))
        }
        return .object(op)
    }

    static func operationScope(_ r: ResourceDescriptor) -> String {
        let group = r.group.isEmpty ? "Core" : r.group.split(separator: ".").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        return group + r.version.prefix(1).uppercased() + r.version.dropFirst() + (r.namespaced ? "Namespaced" : "")
    }

    static let listQuery: [(String, String)] = [
        ("allowWatchBookmarks", "allowWatchBookmarks requests watch events with type \"BOOKMARK\"."),
        ("continue", "The continue option should be set when retrieving more results from the server."),
        ("fieldSelector", "A selector to restrict the list of returned objects by their fields."),
        ("labelSelector", "A selector to restrict the list of returned objects by their labels."),
        ("limit", "limit is a maximum number of responses to return for a list call."),
        ("resourceVersion", "resourceVersion sets a constraint on what resource versions a request may be served from."),
        ("resourceVersionMatch", "resourceVersionMatch determines how resourceVersion is applied to list calls."),
        ("sendInitialEvents", "`sendInitialEvents=true` may be set together with `watch=true` to start with synthetic events for the current state."),
        ("timeoutSeconds", "Timeout for the list/watch call."),
        ("watch", "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications."),
    ]

    static let writeQuery: [(String, String)] = [
        ("dryRun", "When present, indicates that modifications should not be persisted. The only valid value is All."),
        ("fieldManager", "fieldManager is a name associated with the actor or entity that is making these changes."),
        ("fieldValidation", "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields. Accepted; this server stores objects as sent."),
    ]

    static let deleteQuery: [(String, String)] = [
        ("dryRun", "When present, indicates that modifications should not be persisted. The only valid value is All."),
        ("gracePeriodSeconds", "The duration in seconds before the object should be deleted. Accepted; deletion is immediate."),
        ("propagationPolicy", "Whether and how garbage collection will be performed. Accepted; there is no garbage collector."),
    ]

    /// The schema type of query parameter `name`.
    static func queryParameterType(_ name: String) -> String {
        ["limit", "timeoutSeconds", "gracePeriodSeconds"].contains(name) ? "integer"
            : ["allowWatchBookmarks", "watch", "sendInitialEvents"].contains(name) ? "boolean" : "string"
    }

    private static func queryParameter(_ name: String, _ description: String) -> JSONValue {
        let type = queryParameterType(name)
        return .object(JSONObject([
            ("name", .string(name)), ("in", .string("query")), ("description", .string(description)),
            ("schema", .object(JSONObject([("type", .string(type)), ("uniqueItems", .bool(true))]))),
        ]))
    }

    private static func pathParameter(_ name: String, _ description: String) -> JSONValue {
        .object(JSONObject([
            ("name", .string(name)), ("in", .string("path")), ("description", .string(description)), ("required", .bool(true)),
            ("schema", .object(JSONObject([("type", .string("string")), ("uniqueItems", .bool(true))]))),
        ]))
    }

    static func gvk(_ r: ResourceDescriptor) -> JSONValue {
        .object(JSONObject([("group", .string(r.group)), ("version", .string(r.version)), ("kind", .string(r.kind))]))
    }

    /// Kubernetes' names for its own kinds (`io.k8s.api.core.v1.Pod`); others get a WatchCache name.
    static func schemaName(_ r: ResourceDescriptor) -> String {
        switch r.group {
        case "": "io.k8s.api.core.\(r.version).\(r.kind)"
        case "apps", "batch", "policy", "autoscaling": "io.k8s.api.\(r.group).\(r.version).\(r.kind)"
        default: "watchcache.\(r.group).\(r.version).\(r.kind)"
        }
    }

    /// A content hash for the document's URL, so clients' caches notice a change (FNV-1a, 64 bits).
    static func hash(_ bytes: [UInt8]) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        let hex = String(h, radix: 16, uppercase: true)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
