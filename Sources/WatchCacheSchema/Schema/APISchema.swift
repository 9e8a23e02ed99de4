import WatchCache

/// A description of Kubernetes API kinds: their message types and fields, with protobuf numbers,
/// patch strategies, list types and required fields. It drives protobuf encoding and decoding,
/// strategic merge patch, field validation, defaulting and the OpenAPI schemas.
///
/// ``builtIn`` describes the kinds kube-apiserver serves that this server serves too, from the
/// published API (see `scripts/generate-schema.py`).
public final class APISchema: Sendable {
    /// Message types by name.
    public let types: [String: MessageSchema]
    /// The described kinds.
    public let kinds: [KindSchema]
    /// Where the facts come from (`kubernetes/api v0.32.9, kubernetes/apimachinery v0.32.9`).
    public let source: String

    /// The schema of the built-in kinds, parsed once on first use.
    public static let builtIn: APISchema = {
        do {
            return try APISchema(json: Array(BuiltinSchema.data.utf8))
        } catch {
            preconditionFailure("the built-in schema does not parse: \(error)")
        }
    }()

    /// Parses a schema description (the JSON `scripts/generate-schema.py` writes).
    public init(json bytes: [UInt8]) throws {
        let root = try JSONParser.parse(bytes)
        guard case .object(let typesObject)? = root["types"], case .array(let kindValues)? = root["kinds"] else {
            throw SchemaError("a schema needs `types` and `kinds`")
        }
        var parsed: [String: (fields: [FieldSchema], typeMeta: Bool)] = [:]
        for (name, value) in typesObject.members {
            var fields: [FieldSchema] = []
            for f in value["fields"]?.arrayValue ?? [] {
                guard let fieldName = f["name"]?.stringValue, case .number(let n)? = f["number"], let number = Int(n),
                      let typeName = f["type"]?.stringValue else {
                    throw SchemaError("a field of \(name) lacks its name, number or type")
                }
                fields.append(FieldSchema(
                    name: fieldName, number: number, type: FieldType(schemaName: typeName),
                    isList: f["list"] == .bool(true), isMap: f["map"] == .bool(true), omitEmpty: f["omitEmpty"] == .bool(true),
                    isInline: f["inline"] == .bool(true), isPointer: f["pointer"] == .bool(true),
                    isRequired: f["required"] == .bool(true),
                    patchStrategy: PatchStrategy(tag: f["patchStrategy"]?.stringValue ?? ""),
                    patchMergeKey: f["patchMergeKey"]?.stringValue, listType: f["listType"]?.stringValue,
                    listMapKeys: f["listMapKeys"]?.arrayValue?.compactMap(\.stringValue) ?? []))
            }
            parsed[name] = (fields.sorted { $0.number < $1.number }, value["typeMeta"] == .bool(true))
        }
        for (name, message) in parsed {
            for field in message.fields {
                if let ref = field.type.messageName, parsed[ref] == nil {
                    throw SchemaError("\(name).\(field.name) names the undefined type \(ref)")
                }
                if field.isInline && (field.type.messageName == nil || field.isList || field.isMap) {
                    throw SchemaError("\(name).\(field.name) is inline but not a single message")
                }
            }
        }
        // The fields JSON sees: inline members expanded, recursively.
        func jsonFields(_ name: String, depth: Int) throws -> [FieldSchema] {
            guard depth < 8, let message = parsed[name] else { throw SchemaError("\(name) inlines itself") }
            var result: [FieldSchema] = []
            for field in message.fields {
                if field.isInline, let inner = field.type.messageName {
                    result += try jsonFields(inner, depth: depth + 1)
                } else {
                    result.append(field)
                }
            }
            return result
        }
        var types: [String: MessageSchema] = [:]
        for (name, message) in parsed {
            types[name] = MessageSchema(name: name, fields: message.fields, hasTypeMeta: message.typeMeta,
                                        jsonFields: try jsonFields(name, depth: 0))
        }
        var kinds: [KindSchema] = []
        for k in kindValues {
            guard let kind = k["kind"]?.stringValue, let plural = k["plural"]?.stringValue, let version = k["version"]?.stringValue,
                  let typeName = k["type"]?.stringValue, let listTypeName = k["listType"]?.stringValue else {
                throw SchemaError("a kind lacks its kind, plural, version or types")
            }
            guard types[typeName] != nil, types[listTypeName] != nil else { throw SchemaError("kind \(kind) names an undefined type") }
            kinds.append(KindSchema(group: k["group"]?.stringValue ?? "", version: version, kind: kind, plural: plural,
                                    namespaced: k["namespaced"] == .bool(true), typeName: typeName, listTypeName: listTypeName,
                                    hasStatus: k["status"] == .bool(true), hasScale: k["scale"] == .bool(true)))
        }
        self.types = types
        self.kinds = kinds
        self.source = root["source"]?.stringValue ?? ""
    }

    /// The message type named `name`.
    public subscript(name: String) -> MessageSchema? { types[name] }

    /// The kind served at `group`/`version`/`plural`.
    public func kind(group: String, version: String, plural: String) -> KindSchema? {
        kinds.first { $0.group == group && $0.version == version && $0.plural == plural }
    }

    /// The message type of an object that says it is `kind` of `apiVersion`: a served kind, its
    /// `<Kind>List`, or one of the API's own types (`Status`, `DeleteOptions`, `WatchEvent` in
    /// `v1` or `meta.k8s.io/v1`; `Scale` in `autoscaling/v1`).
    public func messageType(apiVersion: String, kind: String) -> MessageSchema? {
        if let served = self.kind(apiVersion: apiVersion, kind: kind) { return types[served.typeName] }
        if kind.hasSuffix("List"), let served = self.kind(apiVersion: apiVersion, kind: String(kind.dropLast(4))) {
            return types[served.listTypeName]
        }
        switch apiVersion {
        case "v1", "meta.k8s.io/v1": return types["io.k8s.apimachinery.pkg.apis.meta.v1.\(kind)"]
        case "autoscaling/v1": return types["io.k8s.api.autoscaling.v1.\(kind)"]
        default: return nil
        }
    }

    /// The kind named `kind` in `apiVersion` (`apps/v1`, `v1`).
    public func kind(apiVersion: String, kind: String) -> KindSchema? {
        kinds.first { $0.apiVersion == apiVersion && $0.kind == kind }
    }
}

/// A schema description that cannot be used.
public struct SchemaError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The generated description of the built-in kinds lives in `Generated/`.
enum BuiltinSchema {}
