import WatchCache
import WatchCacheSchema

/// The `components.schemas` of one OpenAPI v3 document, or the `definitions` of the OpenAPI v2
/// (Swagger 2.0) document, as kube-apiserver writes them for its built-in kinds: one schema per
/// message type (`io.k8s.api.core.v1.Pod`), fields as properties, and the strategic-merge-patch
/// metadata kubectl reads to compute `kubectl apply` patches (`x-kubernetes-patch-strategy`,
/// `x-kubernetes-patch-merge-key`, `x-kubernetes-list-type`, `x-kubernetes-list-map-keys`).
/// The two differ in how a property refers to a type (see ``Dialect``) and in the schemas of the
/// types with their own JSON form (v2 has no `oneOf`).
///
/// Types are added with everything they reference, each once; ``json`` lists them sorted by name.
struct OpenAPISchemas {
    /// Which document the schemas are for.
    enum Dialect {
        /// OpenAPI 3.0: references to `#/components/schemas/`, wrapped in `allOf` for properties
        /// (3.0 ignores siblings of `$ref`), `default: {}` on struct values.
        case v3
        /// Swagger 2.0: plain references to `#/definitions/`; what kubectl's client-side
        /// validation (`kubectl create -f` of a `List`) and older clients read.
        case v2
    }

    static let status = "io.k8s.apimachinery.pkg.apis.meta.v1.Status"
    static let deleteOptions = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"
    /// The body of a PATCH: any object (kube-apiserver's `Patch`).
    static let patch = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"

    private let schema: APISchema
    private let dialect: Dialect
    private var entries: [String: JSONValue] = [:]
    /// Group-version-kinds for types that are kinds (`x-kubernetes-group-version-kind`).
    private var kinds: [String: [GVK]] = [:]

    struct GVK: Hashable {
        let group: String
        let version: String
        let kind: String
    }

    init(schema: APISchema = .builtIn, dialect: Dialect = .v3) {
        self.schema = schema
        self.dialect = dialect
    }

    /// Whether a schema named `name` is already in the document.
    func contains(_ name: String) -> Bool { entries[name] != nil }

    /// Adds `kind`'s object and list types and every type they reference.
    mutating func add(_ kind: KindSchema) {
        add(kind.typeName, as: GVK(group: kind.group, version: kind.version, kind: kind.kind))
        add(kind.listTypeName, as: GVK(group: kind.group, version: kind.version, kind: kind.kind + "List"))
    }

    /// Adds the meta type `name` (`Status`, `DeleteOptions`) and what it references. kube-apiserver
    /// tags them with the core `v1` kind and the kind in each group-version that serves them.
    mutating func addMeta(_ name: String, group: String, version: String) {
        if name == Self.patch {
            entries[name] = Self.object([
                ("description", .string("Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.")),
                ("type", .string("object")),
            ])
            return
        }
        let kind = String(name[name.index(after: name.lastIndex(of: ".")!)...])
        add(name, as: GVK(group: "", version: "v1", kind: kind))
        if !group.isEmpty || version != "v1" {
            add(name, as: GVK(group: group, version: version, kind: kind))
        }
    }

    /// Adds the type named `name` (tagged with `gvk`, if given) and every type reachable from it.
    mutating func add(_ name: String, as gvk: GVK? = nil) {
        if let gvk, !kinds[name, default: []].contains(gvk) {
            kinds[name, default: []].append(gvk)
            entries[name] = nil  // rebuilt below with its kinds
        }
        var pending = [name]
        while let next = pending.popLast() {
            guard entries[next] == nil else { continue }
            if let special = Self.specialSchema(next, dialect: dialect) {
                entries[next] = special
                continue
            }
            guard let message = schema[next] else { continue }
            entries[next] = messageSchema(message)
            for field in message.jsonFields {
                switch field.type {
                case .message(let ref): pending.append(ref)
                case .quantity, .intOrString, .time, .microTime, .rawExtension, .fieldsV1:
                    if let ref = Self.specialName(field.type) { pending.append(ref) }
                default: break
                }
            }
        }
    }

    /// The schemas, sorted by name.
    var json: JSONObject {
        JSONObject(entries.keys.sorted().map { ($0, entries[$0]!) })
    }

    // MARK: - Messages

    private func messageSchema(_ message: MessageSchema) -> JSONValue {
        var properties: [(String, JSONValue)] = []
        if message.hasTypeMeta {
            properties.append(("apiVersion", Self.object([
                ("description", .string("APIVersion defines the versioned schema of this representation of an object.")),
                ("type", .string("string")),
            ])))
            properties.append(("kind", Self.object([
                ("description", .string("Kind is a string value representing the REST resource this object represents.")),
                ("type", .string("string")),
            ])))
        }
        for field in message.jsonFields where !properties.contains(where: { $0.0 == field.name }) {
            properties.append((field.name, property(field)))
        }
        properties.sort { $0.0 < $1.0 }
        var members: [(String, JSONValue)] = [("properties", .object(JSONObject(properties)))]
        let required = message.jsonFields.filter(\.isRequired).map { JSONValue.string($0.name) }
        if !required.isEmpty { members.append(("required", .array(required))) }
        members.append(("type", .string("object")))
        if let gvks = kinds[message.name] {
            members.append(("x-kubernetes-group-version-kind", .array(gvks.map { gvk in
                Self.object([("group", .string(gvk.group)), ("kind", .string(gvk.kind)), ("version", .string(gvk.version))])
            })))
        }
        return .object(JSONObject(members))
    }

    /// One field's property: its value schema (an array or map of them for lists and maps) and
    /// its list and patch metadata, members sorted as kube-apiserver writes them.
    private func property(_ field: FieldSchema) -> JSONValue {
        var members: [(String, JSONValue)]
        if field.isList {
            members = [("items", valueSchema(field.type, pointer: false, element: true)), ("type", .string("array"))]
        } else if field.isMap {
            members = [("additionalProperties", valueSchema(field.type, pointer: false, element: true)), ("type", .string("object"))]
        } else {
            members = valueSchema(field.type, pointer: field.isPointer, element: false).objectValue.map { Array($0.members) } ?? []
        }
        if !field.listMapKeys.isEmpty {
            members.append(("x-kubernetes-list-map-keys", .array(field.listMapKeys.map { .string($0) })))
        }
        if let listType = field.listType {
            members.append(("x-kubernetes-list-type", .string(listType)))
        }
        if let key = field.patchMergeKey {
            members.append(("x-kubernetes-patch-merge-key", .string(key)))
        }
        if let strategy = Self.patchStrategyTag(field.patchStrategy) {
            members.append(("x-kubernetes-patch-strategy", .string(strategy)))
        }
        members.sort { $0.0 < $1.0 }
        return .object(JSONObject(members))
    }

    /// The schema of one value of `type`. Messages and kube's named special types are references:
    /// in v3 wrapped in `allOf` for properties (OpenAPI 3.0 ignores siblings of `$ref`), with
    /// `default: {}` for structs that are not pointers, as kube-apiserver's v3 documents have them;
    /// in v2 plain, as its v2 document has them.
    private func valueSchema(_ type: FieldType, pointer: Bool, element: Bool) -> JSONValue {
        let object = Self.object
        switch type {
        case .string: return object([("type", .string("string"))])
        case .bool: return object([("type", .string("boolean"))])
        case .int32: return object([("format", .string("int32")), ("type", .string("integer"))])
        case .int64: return object([("format", .string("int64")), ("type", .string("integer"))])
        case .double: return object([("format", .string("double")), ("type", .string("number"))])
        case .float: return object([("format", .string("float")), ("type", .string("number"))])
        case .bytes: return object([("format", .string("byte")), ("type", .string("string"))])
        case .duration: return object([("type", .string("string"))])
        case .message(let name):
            if dialect == .v2 { return reference(name) }
            var members: [(String, JSONValue)] = [("allOf", .array([reference(name)]))]
            if element || !pointer { members.append(("default", .object(JSONObject()))) }
            return object(members)
        case .quantity, .intOrString, .time, .microTime, .rawExtension, .fieldsV1:
            let ref = reference(Self.specialName(type)!)
            return element || dialect == .v2 ? ref : object([("allOf", .array([ref]))])
        }
    }

    private func reference(_ name: String) -> JSONValue {
        Self.object([("$ref", .string((dialect == .v2 ? "#/definitions/" : "#/components/schemas/") + name))])
    }

    /// The tag text (`merge,retainKeys`), in the order Kubernetes writes it.
    static func patchStrategyTag(_ strategy: PatchStrategy) -> String? {
        var parts: [String] = []
        if strategy.contains(.merge) { parts.append("merge") }
        if strategy.contains(.replace) { parts.append("replace") }
        if strategy.contains(.retainKeys) { parts.append("retainKeys") }
        return parts.isEmpty ? nil : parts.joined(separator: ",")
    }

    // MARK: - Special types

    private static let quantity = "io.k8s.apimachinery.pkg.api.resource.Quantity"
    private static let intOrString = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
    private static let time = "io.k8s.apimachinery.pkg.apis.meta.v1.Time"
    private static let microTime = "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime"
    private static let rawExtension = "io.k8s.apimachinery.pkg.runtime.RawExtension"
    private static let fieldsV1 = "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1"

    private static func specialName(_ type: FieldType) -> String? {
        switch type {
        case .quantity: quantity
        case .intOrString: intOrString
        case .time: time
        case .microTime: microTime
        case .rawExtension: rawExtension
        case .fieldsV1: fieldsV1
        default: nil
        }
    }

    /// kube-apiserver's schemas for the types with their own JSON form.
    private static func specialSchema(_ name: String, dialect: Dialect) -> JSONValue? {
        switch name {
        case quantity where dialect == .v2:
            object([
                ("description", .string("Quantity is a fixed-point representation of a number: a string such as 100m or 1Gi, or a number.")),
                ("type", .string("string")),
            ])
        case intOrString where dialect == .v2:
            object([
                ("description", .string("IntOrString is a type that can hold an int32 or a string.")),
                ("format", .string("int-or-string")), ("type", .string("string")),
            ])
        case quantity:
            object([
                ("description", .string("Quantity is a fixed-point representation of a number: a string such as 100m or 1Gi, or a number.")),
                ("oneOf", .array([object([("type", .string("string"))]), object([("type", .string("number"))])])),
            ])
        case intOrString:
            object([
                ("description", .string("IntOrString is a type that can hold an int32 or a string.")),
                ("format", .string("int-or-string")),
                ("oneOf", .array([object([("type", .string("integer"))]), object([("type", .string("string"))])])),
            ])
        case time:
            object([
                ("description", .string("Time is a timestamp in RFC 3339 form, in seconds.")),
                ("format", .string("date-time")), ("type", .string("string")),
            ])
        case microTime:
            object([
                ("description", .string("MicroTime is version of Time with microsecond level precision.")),
                ("format", .string("date-time")), ("type", .string("string")),
            ])
        case rawExtension:
            object([("description", .string("RawExtension is an embedded object.")), ("type", .string("object"))])
        case fieldsV1:
            object([("description", .string("FieldsV1 stores a set of fields in a data structure like a Trie, in JSON format.")),
                    ("type", .string("object"))])
        default:
            nil
        }
    }

    private static func object(_ members: [(String, JSONValue)]) -> JSONValue { .object(JSONObject(members)) }
}
