/// One field of a message in the Kubernetes API: its JSON name, its protobuf number and type,
/// and how patches and validation treat it.
public struct FieldSchema: Sendable {
    /// The member name in JSON (`containers`).
    public let name: String
    /// The protobuf field number.
    public let number: Int
    /// The type of the value; of each element for lists, of each value for maps.
    public let type: FieldType
    /// A repeated field: a JSON array.
    public let isList: Bool
    /// A map with string keys: a JSON object.
    public let isMap: Bool
    /// Go's `omitempty`: a zero value is left out of JSON.
    public let omitEmpty: Bool
    /// Go's `json:",inline"`: the member's own fields appear in the parent's JSON object, while
    /// protobuf nests them as one message field (`Volume.volumeSource`).
    public let isInline: Bool
    /// The Go field is a pointer (`*int32`): a zero value that is set is kept.
    public let isPointer: Bool
    /// Must be present (kube-apiserver's OpenAPI `required`).
    public let isRequired: Bool
    /// `patchStrategy` for strategic merge patch.
    public let patchStrategy: PatchStrategy
    /// `patchMergeKey`: the member that identifies list elements in a strategic merge.
    public let patchMergeKey: String?
    /// `+listType` (`atomic`, `set`, `map`), when given.
    public let listType: String?
    /// `+listMapKey`s of a `map` list.
    public let listMapKeys: [String]

    public init(name: String, number: Int, type: FieldType, isList: Bool = false, isMap: Bool = false, omitEmpty: Bool = false,
                isInline: Bool = false, isPointer: Bool = false, isRequired: Bool = false, patchStrategy: PatchStrategy = [], patchMergeKey: String? = nil,
                listType: String? = nil, listMapKeys: [String] = []) {
        self.name = name
        self.number = number
        self.type = type
        self.isList = isList
        self.isMap = isMap
        self.omitEmpty = omitEmpty
        self.isInline = isInline
        self.isPointer = isPointer
        self.isRequired = isRequired
        self.patchStrategy = patchStrategy
        self.patchMergeKey = patchMergeKey
        self.listType = listType
        self.listMapKeys = listMapKeys
    }
}

/// A field's `patchStrategy` tag: how a strategic merge patch combines the field.
public struct PatchStrategy: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Lists merge element by element (by ``FieldSchema/patchMergeKey``, or as a set of primitives).
    public static let merge = PatchStrategy(rawValue: 1)
    /// The patch replaces the value whole.
    public static let replace = PatchStrategy(rawValue: 2)
    /// `$retainKeys` may name the members to keep (union types such as volume sources).
    public static let retainKeys = PatchStrategy(rawValue: 4)

    /// Parses a tag such as `merge,retainKeys`.
    public init(tag: String) {
        var strategy: PatchStrategy = []
        for part in tag.split(separator: ",") {
            switch part {
            case "merge": strategy.insert(.merge)
            case "replace": strategy.insert(.replace)
            case "retainKeys": strategy.insert(.retainKeys)
            default: break
            }
        }
        self = strategy
    }
}

/// The type of a field's values.
public enum FieldType: Sendable, Hashable {
    case string, bool, int32, int64, double, float
    /// Bytes: base64 in JSON.
    case bytes
    /// `resource.Quantity`: a string in JSON (`100m`), a message with one string in protobuf.
    case quantity
    /// `intstr.IntOrString`: a number or a string in JSON.
    case intOrString
    /// `metav1.Time` (RFC 3339 seconds) and `metav1.MicroTime` (microseconds): strings in JSON.
    case time, microTime
    /// `metav1.Duration`: a Go duration string (`1m0s`) in JSON.
    case duration
    /// `runtime.RawExtension`: any embedded JSON value.
    case rawExtension
    /// `metav1.FieldsV1`: an embedded JSON object (managed fields).
    case fieldsV1
    /// A message of the schema, by name.
    case message(String)

    /// The type named `name` in a schema description: a scalar, a special type, or a message.
    init(schemaName name: String) {
        switch name {
        case "string": self = .string
        case "bool": self = .bool
        case "int32": self = .int32
        case "int64": self = .int64
        case "double": self = .double
        case "float": self = .float
        case "bytes": self = .bytes
        case "io.k8s.apimachinery.pkg.api.resource.Quantity": self = .quantity
        case "io.k8s.apimachinery.pkg.util.intstr.IntOrString": self = .intOrString
        case "io.k8s.apimachinery.pkg.apis.meta.v1.Time": self = .time
        case "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": self = .microTime
        case "io.k8s.apimachinery.pkg.apis.meta.v1.Duration": self = .duration
        case "io.k8s.apimachinery.pkg.runtime.RawExtension": self = .rawExtension
        case "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1": self = .fieldsV1
        default: self = .message(name)
        }
    }

    /// The message name, for ``message(_:)``.
    public var messageName: String? {
        if case .message(let name) = self { return name }
        return nil
    }
}
