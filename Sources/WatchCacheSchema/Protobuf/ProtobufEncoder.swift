import WatchCache

/// Encodes the server's JSON objects as Kubernetes protobuf (`application/vnd.kubernetes.protobuf`),
/// byte for byte as kube-apiserver's gogo-generated marshallers write the same object.
///
/// The rules of the generated code: fields in ascending number order; non-pointer scalars always
/// (`""`, `0`, `false` when the JSON leaves them out), non-pointer messages always (the encoding of
/// the zero struct when absent); pointers, lists, maps and `bytes` only when set (`null` is unset;
/// an empty list or map is not written). Repeated scalars are not packed. Map entries go in key
/// order, each a message of key 1 and value 2. `Quantity` is a message of its string, `IntOrString`
/// of type, int and string, `Time` of seconds (and nanoseconds 0), `MicroTime` of seconds and
/// microsecond-truncated nanoseconds, `Duration` of nanoseconds, raw extensions and `FieldsV1` of
/// the embedded JSON text. An inline member (`Volume.volumeSource`) is a nested message built from
/// the parent's JSON members. Members the schema does not know have no place in protobuf and are
/// dropped.
public enum ProtobufEncoder {
    /// A body as kube-apiserver sends one object: the magic `k8s\0`, then a `runtime.Unknown` of
    /// type meta (`apiVersion`, `kind`), the object's message as raw, and empty content encoding
    /// and content type.
    public static func encodeObject(_ object: JSONObject, as type: MessageSchema, apiVersion: String, kind: String,
                                    in schema: APISchema) throws(ProtobufError) -> [UInt8] {
        var encoder = MessageEncoder(schema: schema)
        encoder.writer.writeRaw(ProtobufDecoder.magic)
        let typeMeta = encoder.writer.beginMessage(1)
        encoder.writer.writeStringField(1, apiVersion)
        encoder.writer.writeStringField(2, kind)
        encoder.writer.endMessage(typeMeta)
        let raw = encoder.writer.beginMessage(2)
        try encoder.fields(of: object, as: type)
        encoder.writer.endMessage(raw)
        encoder.writer.writeStringField(3, "")
        encoder.writer.writeStringField(4, "")
        return encoder.writer.bytes
    }

    /// A body for `object` of the kind its own `apiVersion` and `kind` name.
    public static func encodeObject(_ object: JSONObject, in schema: APISchema) throws(ProtobufError) -> [UInt8] {
        guard let apiVersion = object["apiVersion"]?.stringValue, let kind = object["kind"]?.stringValue else {
            throw ProtobufError("the object has no apiVersion and kind")
        }
        guard let kindSchema = schema.kind(apiVersion: apiVersion, kind: kind), let type = schema[kindSchema.typeName] else {
            throw ProtobufError("no kind \"\(kind)\" is registered for version \"\(apiVersion)\"")
        }
        return try encodeObject(object, as: type, apiVersion: apiVersion, kind: kind, in: schema)
    }

    /// The message of `object` as `type`, without the envelope.
    public static func encodeMessage(_ object: JSONObject, as type: MessageSchema, in schema: APISchema) throws(ProtobufError) -> [UInt8] {
        var encoder = MessageEncoder(schema: schema)
        try encoder.fields(of: object, as: type)
        return encoder.writer.bytes
    }
}

/// Go's zero `time.Time` (0001-01-01T00:00:00Z) in Unix seconds: `metav1.Time` writes nothing for it.
private let goZeroTimeSeconds: Int64 = -62_135_596_800

/// The encoding walk: the writer, and the path of the value being written (for errors).
private struct MessageEncoder {
    enum PathComponent {
        case field(String)
        case index(Int)
        case key(String)
    }

    let schema: APISchema
    var writer = ProtobufWriter(capacity: 1024)
    var path: [PathComponent] = []

    init(schema: APISchema) {
        self.schema = schema
    }

    /// The fields of `type` from the members of `object`.
    mutating func fields(of object: JSONObject, as type: MessageSchema) throws(ProtobufError) {
        // Each field looks for its member. An object's members are few, so a scan finds them; with
        // many fields to look up (a pod spec has over 40), a hash of the members is cheaper.
        let members: [String: JSONValue]? = type.fields.count > 8 && object.count > 2
            ? Dictionary(object.members.map { ($0, $1) }, uniquingKeysWith: { $1 }) : nil
        for field in type.fields {
            if field.isInline {
                // The inline member's fields are the parent's JSON members.
                let inner = try message(field.type)
                let marker = writer.beginMessage(field.number)
                try fields(of: object, as: inner)
                writer.endMessage(marker)
                continue
            }
            let value = members.map { $0[field.name] } ?? object[field.name]
            if value == nil && (field.isPointer || field.isList || field.isMap || field.type == .bytes) { continue }
            path.append(.field(field.name))
            try self.field(field, value)
            path.removeLast()
        }
    }

    /// One field: `value` is its JSON member, if any.
    private mutating func field(_ field: FieldSchema, _ value: JSONValue?) throws(ProtobufError) {
        let value = value == .null ? nil : value
        if field.isMap {
            guard let value else { return }
            guard case .object(let map) = value else { throw expected("an object") }
            var entries = Array(map.members)
            // gogo sorts the keys (Go string order: bytewise).
            if !entries.indices.dropFirst().allSatisfy({ Self.precedes(entries[$0 - 1].0, entries[$0].0) }) {
                entries.sort { Self.precedes($0.0, $1.0) }
            }
            for (key, member) in entries {
                path.append(.key(key))
                let marker = writer.beginMessage(field.number)
                writer.writeStringField(1, key)
                if member == .null {
                    // Go's zero value; a nil `[]byte` is not written.
                    if field.type != .bytes { try zero(field.type, 2) }
                } else {
                    try single(field.type, member, 2)
                }
                writer.endMessage(marker)
                path.removeLast()
            }
        } else if field.isList {
            guard let value else { return }
            guard case .array(let elements) = value else { throw expected("an array") }
            for (i, element) in elements.enumerated() {
                path.append(.index(i))
                if element == .null {
                    if field.type == .bytes { writer.writeBytesField(field.number, []) } else { try zero(field.type, field.number) }
                } else {
                    try single(field.type, element, field.number)
                }
                path.removeLast()
            }
        } else if let value {
            try single(field.type, value, field.number)
        } else if !field.isPointer && field.type != .bytes {
            // A non-pointer field is always written: Go has no way to leave it out. (A `[]byte`
            // is written only when not nil.)
            try zero(field.type, field.number)
        }
    }

    /// One value of `type` (not `null`) as field `number`.
    private mutating func single(_ type: FieldType, _ value: JSONValue, _ number: Int) throws(ProtobufError) {
        switch type {
        case .string:
            guard case .string(let s) = value else { throw expected("a string") }
            writer.writeStringField(number, s)
        case .bool:
            guard case .bool(let b) = value else { throw expected("a boolean") }
            writer.writeVarintField(number, b ? 1 : 0)
        case .int32:
            writer.writeTag(number, .varint)
            writer.writeSignedVarint(Int64(try int32(value)))
        case .int64:
            writer.writeTag(number, .varint)
            writer.writeSignedVarint(try int64(value))
        case .double:
            guard case .number(let text) = value, let d = Double(text), d.isFinite else { throw expected("a number") }
            writer.writeTag(number, .fixed64)
            writer.writeFixed64(d.bitPattern)
        case .float:
            guard case .number(let text) = value, let f = Float(text), f.isFinite else { throw expected("a number") }
            writer.writeTag(number, .fixed32)
            writer.writeFixed32(f.bitPattern)
        case .bytes:
            guard case .string(let s) = value else { throw expected("a base64 string") }
            guard let bytes = Base64.decode(s) else { throw error("\"\(s)\" is not base64") }
            writer.writeBytesField(number, bytes)
        case .quantity:
            // Quantity's own marshaller: one string, always written. (JSON may give a number.)
            let text: String
            switch value {
            case .string(let s): text = s
            case .number(let n): text = n
            default: throw expected("a quantity (a string or a number)")
            }
            guard !text.isEmpty else { throw error("a quantity cannot be empty") }
            let marker = writer.beginMessage(number)
            writer.writeStringField(1, text)
            writer.endMessage(marker)
        case .intOrString:
            // The generated marshaller writes all three fields.
            let marker = writer.beginMessage(number)
            switch value {
            case .number:
                writer.writeVarintField(1, 0)
                writer.writeTag(2, .varint)
                writer.writeSignedVarint(Int64(try int32(value)))
                writer.writeStringField(3, "")
            case .string(let s):
                writer.writeVarintField(1, 1)
                writer.writeVarintField(2, 0)
                writer.writeStringField(3, s)
            default:
                throw expected("an integer or a string")
            }
            writer.endMessage(marker)
        case .time, .microTime:
            guard case .string(let s) = value else { throw expected("an RFC 3339 time") }
            guard let parsed = KubeTime.parse(s) else { throw error("\"\(s)\" is not an RFC 3339 time") }
            let (seconds, nanos) = parsed
            let marker = writer.beginMessage(number)
            // time_proto.go / micro_time_proto.go: nothing for Go's zero time; else a Timestamp
            // (both fields always) whose nanoseconds are 0 for Time, truncated to microseconds for
            // MicroTime.
            if !(seconds == goZeroTimeSeconds && nanos == 0) {
                writer.writeTag(1, .varint)
                writer.writeSignedVarint(seconds)
                writer.writeTag(2, .varint)
                writer.writeSignedVarint(type == .microTime ? Int64(nanos / 1000 * 1000) : 0)
            }
            writer.endMessage(marker)
        case .duration:
            guard case .string(let s) = value else { throw expected("a duration") }
            guard let nanoseconds = KubeTime.parseDuration(s) else { throw error("\"\(s)\" is not a duration") }
            let marker = writer.beginMessage(number)
            writer.writeTag(1, .varint)
            writer.writeSignedVarint(nanoseconds)
            writer.endMessage(marker)
        case .rawExtension, .fieldsV1:
            // The embedded value's JSON text as raw (field 1).
            let marker = writer.beginMessage(number)
            writer.writeBytesField(1, JSONWriter.encode(value))
            writer.endMessage(marker)
        case .message:
            guard case .object(let object) = value else { throw expected("an object") }
            let inner = try message(type)
            let marker = writer.beginMessage(number)
            try fields(of: object, as: inner)
            writer.endMessage(marker)
        }
    }

    /// Go's zero value of `type` as field `number`, as the generated code writes it.
    private mutating func zero(_ type: FieldType, _ number: Int) throws(ProtobufError) {
        switch type {
        case .string: writer.writeStringField(number, "")
        case .bytes: writer.writeBytesField(number, [])
        case .bool, .int32, .int64: writer.writeVarintField(number, 0)
        case .double:
            writer.writeTag(number, .fixed64)
            writer.writeFixed64(0)
        case .float:
            writer.writeTag(number, .fixed32)
            writer.writeFixed32(0)
        case .quantity:
            // The zero Quantity's String() is "0".
            let marker = writer.beginMessage(number)
            writer.writeStringField(1, "0")
            writer.endMessage(marker)
        case .intOrString:
            let marker = writer.beginMessage(number)
            writer.writeVarintField(1, 0)
            writer.writeVarintField(2, 0)
            writer.writeStringField(3, "")
            writer.endMessage(marker)
        case .duration:
            let marker = writer.beginMessage(number)
            writer.writeVarintField(1, 0)
            writer.endMessage(marker)
        case .time, .microTime, .rawExtension, .fieldsV1:
            // Zero time: no fields. Nil raw: no fields.
            let marker = writer.beginMessage(number)
            writer.endMessage(marker)
        case .message:
            // The zero struct, with its own always-written fields.
            let inner = try message(type)
            let marker = writer.beginMessage(number)
            try fields(of: JSONObject(), as: inner)
            writer.endMessage(marker)
        }
    }

    // MARK: Values

    private func message(_ type: FieldType) throws(ProtobufError) -> MessageSchema {
        guard let name = type.messageName else { throw error("\(type) is not a message type") }
        guard let message = schema[name] else { throw ProtobufError("no schema for \(name)") }
        return message
    }

    private func int32(_ value: JSONValue) throws(ProtobufError) -> Int32 {
        let v = try integer(value, "int32")
        guard let result = Int32(exactly: v) else { throw error("\(v) is out of range for int32") }
        return result
    }

    private func int64(_ value: JSONValue) throws(ProtobufError) -> Int64 {
        try integer(value, "int64")
    }

    /// An integer from JSON number text; as Go's decoder, no fraction or exponent.
    private func integer(_ value: JSONValue, _ typeName: String) throws(ProtobufError) -> Int64 {
        guard case .number(let text) = value else { throw expected("an integer") }
        if let v = Int64(text) { return v }
        if text.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) {
            throw error("\(text) is not an integer (\(typeName))")
        }
        throw error("\(text) is out of range for \(typeName)")
    }

    // MARK: Errors

    private static func precedes(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    /// The path of the value being written: `spec.containers[0].ports`, `metadata.labels[app]`.
    private var pathText: String {
        var text = ""
        for component in path {
            switch component {
            case .field(let name):
                if !text.isEmpty { text += "." }
                text += name
            case .index(let i): text += "[\(i)]"
            case .key(let key): text += "[\(key)]"
            }
        }
        return text.isEmpty ? "the object" : text
    }

    private func error(_ message: String) -> ProtobufError {
        ProtobufError("\(pathText): \(message)")
    }

    private func expected(_ what: String) -> ProtobufError {
        error("expected \(what)")
    }
}
