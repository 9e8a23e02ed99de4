import WatchCache

/// Decodes Kubernetes protobuf (`application/vnd.kubernetes.protobuf`) to the JSON the server stores.
///
/// A body is kube-apiserver's envelope: the magic `k8s\0`, then a `runtime.Unknown` message whose
/// type meta names the kind and whose raw bytes are the object's message. Fields are read by the
/// schema's numbers and written under their JSON names, with the JSON Go would write for the same
/// object: zero values of `omitempty` fields are left out (the generated marshallers write every
/// non-pointer scalar), `bytes` become base64, `Quantity` a string, `IntOrString` a number or a string,
/// `Time` RFC 3339, raw extensions their embedded JSON.
public enum ProtobufDecoder {
    /// The four bytes that open every Kubernetes protobuf body.
    public static let magic: [UInt8] = [0x6B, 0x38, 0x73, 0x00]

    /// The parts of the `runtime.Unknown` envelope.
    public struct Envelope: Sendable {
        public var apiVersion: String = ""
        public var kind: String = ""
        public var raw: ArraySlice<UInt8> = []
        public var contentEncoding: String = ""
        public var contentType: String = ""
    }

    /// Reads the envelope of a body.
    public static func envelope(_ body: [UInt8]) throws(ProtobufError) -> Envelope {
        guard body.count >= 4, Array(body[0..<4]) == magic else {
            throw ProtobufError("provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]")
        }
        var reader = ProtobufReader(body[4...])
        var envelope = Envelope()
        while !reader.isAtEnd {
            let tag = try reader.readTag()
            guard tag.wireType == .lengthDelimited else {
                try reader.skip(tag.wireType, number: tag.number)
                continue
            }
            let value = try reader.readLengthDelimited()
            switch tag.number {
            case 1:
                var typeMeta = ProtobufReader(value)
                while !typeMeta.isAtEnd {
                    let t = try typeMeta.readTag()
                    guard t.wireType == .lengthDelimited else {
                        try typeMeta.skip(t.wireType, number: t.number)
                        continue
                    }
                    let text = String(decoding: try typeMeta.readLengthDelimited(), as: UTF8.self)
                    if t.number == 1 { envelope.apiVersion = text } else if t.number == 2 { envelope.kind = text }
                }
            case 2: envelope.raw = value
            case 3: envelope.contentEncoding = String(decoding: value, as: UTF8.self)
            case 4: envelope.contentType = String(decoding: value, as: UTF8.self)
            default: break
            }
        }
        return envelope
    }

    /// Decodes a body to the JSON object of the kind its envelope names.
    public static func decodeObject(_ body: [UInt8], in schema: APISchema) throws(ProtobufError) -> JSONObject {
        let envelope = try envelope(body)
        guard envelope.contentEncoding.isEmpty else {
            throw ProtobufError("unsupported content encoding \"\(envelope.contentEncoding)\"")
        }
        guard let type = schema.messageType(apiVersion: envelope.apiVersion, kind: envelope.kind) else {
            throw ProtobufError("no kind \"\(envelope.kind)\" is registered for version \"\(envelope.apiVersion)\"")
        }
        return try decodeObject(envelope, as: type, in: schema)
    }

    /// Decodes the message of `envelope` as `type`, with the envelope's `apiVersion` and `kind` first.
    public static func decodeObject(_ envelope: Envelope, as type: MessageSchema, in schema: APISchema) throws(ProtobufError) -> JSONObject {
        var object = JSONObject()
        if type.hasTypeMeta {
            if !envelope.kind.isEmpty { object["kind"] = .string(envelope.kind) }
            if !envelope.apiVersion.isEmpty { object["apiVersion"] = .string(envelope.apiVersion) }
        }
        for (key, value) in try decode(envelope.raw, as: type, in: schema).members {
            object[key] = value
        }
        return object
    }

    /// Decodes one message of `type` without an envelope (a watch frame's `WatchEvent`, a list item).
    public static func decodeMessage(_ bytes: ArraySlice<UInt8>, as type: MessageSchema, in schema: APISchema) throws(ProtobufError) -> JSONObject {
        try decode(bytes, as: type, in: schema)
    }

    // MARK: Messages

    /// Decodes one message of `type`.
    static func decode(_ bytes: ArraySlice<UInt8>, as type: MessageSchema, in schema: APISchema) throws(ProtobufError) -> JSONObject {
        var reader = ProtobufReader(bytes)
        // Values by field index, in the order fields are declared (Go writes JSON in that order).
        var values = [JSONValue?](repeating: nil, count: type.fields.count)
        while !reader.isAtEnd {
            let tag = try reader.readTag()
            guard let index = type.fieldIndex(number: tag.number) else {
                try reader.skip(tag.wireType, number: tag.number)
                continue
            }
            let field = type.fields[index]
            if field.isMap {
                guard tag.wireType == .lengthDelimited else { throw mismatch(field, type) }
                let (key, value) = try mapEntry(try reader.readLengthDelimited(), field, type, schema)
                var map = values[index]?.objectValue ?? JSONObject()
                values[index] = nil  // the only reference left is `map`: no copy on the append
                map[key] = value
                values[index] = .object(map)
            } else if field.isList {
                var list = values[index]?.arrayValue ?? []
                values[index] = nil  // the only reference left is `list`: no copy on the append
                if tag.wireType == .lengthDelimited, field.type.isPackable {
                    var packed = ProtobufReader(try reader.readLengthDelimited())
                    while !packed.isAtEnd {
                        list.append(try scalar(&packed, field.type.packedWireType, field, type))
                    }
                } else {
                    list.append(try value(&reader, tag.wireType, field, type, schema))
                }
                values[index] = .array(list)
            } else {
                values[index] = try value(&reader, tag.wireType, field, type, schema)
            }
        }
        var object = JSONObject()
        for (index, field) in type.fields.enumerated() {
            guard let value = values[index] else { continue }
            if field.isInline, case .object(let inner) = value {
                for (key, member) in inner.members { object[key] = member }
                continue
            }
            if field.omitEmpty && !field.isPointer && isZero(value, field.type) { continue }
            object[field.name] = value
        }
        return object
    }

    /// A `map<string, V>` entry: key 1, value 2.
    private static func mapEntry(_ bytes: ArraySlice<UInt8>, _ field: FieldSchema, _ type: MessageSchema,
                                 _ schema: APISchema) throws(ProtobufError) -> (String, JSONValue) {
        var reader = ProtobufReader(bytes)
        var key = ""
        var value: JSONValue?
        while !reader.isAtEnd {
            let tag = try reader.readTag()
            switch tag.number {
            case 1:
                guard tag.wireType == .lengthDelimited else { throw mismatch(field, type) }
                key = String(decoding: try reader.readLengthDelimited(), as: UTF8.self)
            case 2:
                value = try self.value(&reader, tag.wireType, field, type, schema)
            default:
                try reader.skip(tag.wireType, number: tag.number)
            }
        }
        return (key, value ?? zeroValue(field.type, schema))
    }

    /// One value of `field` (an element, for lists and maps).
    private static func value(_ reader: inout ProtobufReader, _ wireType: ProtobufReader.WireType, _ field: FieldSchema,
                              _ type: MessageSchema, _ schema: APISchema) throws(ProtobufError) -> JSONValue {
        switch field.type {
        case .string, .bytes, .quantity, .intOrString, .time, .microTime, .duration, .rawExtension, .fieldsV1, .message:
            guard wireType == .lengthDelimited else { throw mismatch(field, type) }
            let bytes = try reader.readLengthDelimited()
            return try lengthDelimited(bytes, field, type, schema)
        case .bool, .int32, .int64, .double, .float:
            return try scalar(&reader, wireType, field, type)
        }
    }

    private static func lengthDelimited(_ bytes: ArraySlice<UInt8>, _ field: FieldSchema, _ type: MessageSchema,
                                        _ schema: APISchema) throws(ProtobufError) -> JSONValue {
        switch field.type {
        case .string:
            return .string(String(decoding: bytes, as: UTF8.self))
        case .bytes:
            return .string(Base64.encode(bytes))
        case .quantity:
            var text = ""
            try fields(bytes) { (number, reader, wireType) throws(ProtobufError) in
                if number == 1, wireType == .lengthDelimited {
                    text = String(decoding: try reader.readLengthDelimited(), as: UTF8.self)
                } else {
                    try reader.skip(wireType, number: number)
                }
            }
            return .string(text)
        case .intOrString:
            var kind: UInt64 = 0
            var int: Int32 = 0
            var text = ""
            try fields(bytes) { (number, reader, wireType) throws(ProtobufError) in
                switch (number, wireType) {
                case (1, .varint): kind = try reader.readVarint()
                case (2, .varint): int = Int32(truncatingIfNeeded: try reader.readVarint())
                case (3, .lengthDelimited): text = String(decoding: try reader.readLengthDelimited(), as: UTF8.self)
                default: try reader.skip(wireType, number: number)
                }
            }
            return kind == 1 ? .string(text) : .number(String(int))
        case .time, .microTime:
            var seconds: Int64 = 0
            var nanos: Int32 = 0
            try fields(bytes) { (number, reader, wireType) throws(ProtobufError) in
                switch (number, wireType) {
                case (1, .varint): seconds = Int64(bitPattern: try reader.readVarint())
                case (2, .varint): nanos = Int32(truncatingIfNeeded: try reader.readVarint())
                default: try reader.skip(wireType, number: number)
                }
            }
            // An empty message is Go's zero time, which JSON writes as `null` (so would a Timestamp
            // of the zero time itself); seconds 0 is the Unix epoch, a real time.
            if bytes.isEmpty || (seconds == -62_135_596_800 && nanos == 0) { return .null }
            // Years 0001 to 9999, as RFC 3339 (and Go's encoder) can write them.
            guard (-62_135_596_800...253_402_300_799).contains(seconds), (0..<1_000_000_000).contains(nanos) else {
                throw ProtobufError("field \(type.name).\(field.name) is a time out of range (\(seconds) s, \(nanos) ns)")
            }
            return .string(KubeTime.format(seconds: seconds, nanos: nanos, micro: field.type == .microTime))
        case .duration:
            var nanoseconds: Int64 = 0
            try fields(bytes) { (number, reader, wireType) throws(ProtobufError) in
                if number == 1, wireType == .varint {
                    nanoseconds = Int64(bitPattern: try reader.readVarint())
                } else {
                    try reader.skip(wireType, number: number)
                }
            }
            return .string(KubeTime.formatDuration(nanoseconds: nanoseconds))
        case .rawExtension, .fieldsV1:
            var raw: ArraySlice<UInt8> = []
            try fields(bytes) { (number, reader, wireType) throws(ProtobufError) in
                if number == 1, wireType == .lengthDelimited {
                    raw = try reader.readLengthDelimited()
                } else {
                    try reader.skip(wireType, number: number)
                }
            }
            return try embedded(raw, schema)
        case .message(let name):
            guard let message = schema[name] else { throw ProtobufError("no schema for \(name)") }
            return .object(try decode(bytes, as: message, in: schema))
        case .bool, .int32, .int64, .double, .float:
            throw mismatch(field, type)
        }
    }

    /// A raw extension's bytes: embedded JSON, or an embedded protobuf object in its own envelope.
    private static func embedded(_ raw: ArraySlice<UInt8>, _ schema: APISchema) throws(ProtobufError) -> JSONValue {
        if raw.isEmpty { return .null }
        if raw.count >= 4, Array(raw.prefix(4)) == magic {
            return .object(try decodeObject(Array(raw), in: schema))
        }
        do {
            return try JSONParser.parse(Array(raw))
        } catch {
            throw ProtobufError("an embedded object is neither JSON nor protobuf: \(error)")
        }
    }

    private static func scalar(_ reader: inout ProtobufReader, _ wireType: ProtobufReader.WireType, _ field: FieldSchema,
                               _ type: MessageSchema) throws(ProtobufError) -> JSONValue {
        switch (field.type, wireType) {
        case (.bool, .varint): return .bool(try reader.readVarint() != 0)
        case (.int32, .varint): return .number(String(Int32(truncatingIfNeeded: try reader.readVarint())))
        case (.int64, .varint): return .number(String(Int64(bitPattern: try reader.readVarint())))
        case (.int32, .fixed32): return .number(String(Int32(bitPattern: try reader.readFixed32())))
        case (.int64, .fixed64): return .number(String(Int64(bitPattern: try reader.readFixed64())))
        case (.double, .fixed64): return .number(JSONNumber.text(Double(bitPattern: try reader.readFixed64())))
        case (.float, .fixed32): return .number(JSONNumber.text(Double(Float(bitPattern: try reader.readFixed32()))))
        default: throw mismatch(field, type)
        }
    }

    /// Calls `body` for each field of a small message.
    private static func fields(_ bytes: ArraySlice<UInt8>,
                               _ body: (Int, inout ProtobufReader, ProtobufReader.WireType) throws(ProtobufError) -> Void) throws(ProtobufError) {
        var reader = ProtobufReader(bytes)
        while !reader.isAtEnd {
            let tag = try reader.readTag()
            try body(tag.number, &reader, tag.wireType)
        }
    }

    private static func mismatch(_ field: FieldSchema, _ type: MessageSchema) -> ProtobufError {
        ProtobufError("field \(type.name).\(field.name) (\(field.number)) has the wrong wire type")
    }

    /// Go's zero value of a field's type, as JSON (for a map entry without a value).
    private static func zeroValue(_ type: FieldType, _ schema: APISchema) -> JSONValue {
        switch type {
        case .string, .bytes: return .string("")
        case .bool: return .bool(false)
        case .int32, .int64, .double, .float, .intOrString: return .number("0")
        case .quantity: return .string("0")
        case .time, .microTime, .rawExtension, .fieldsV1: return .null
        case .duration: return .string("0s")
        case .message: return .object(JSONObject())
        }
    }

    /// Whether `omitempty` leaves the value out: false, 0, "", and empty lists and maps. Structs
    /// are never empty to Go, so messages always stay.
    private static func isZero(_ value: JSONValue, _ type: FieldType) -> Bool {
        switch value {
        case .null: return true
        case .bool(let b): return !b
        case .number(let n): return n == "0"
        case .string(let s):
            switch type {
            case .string, .bytes: return s.isEmpty
            default: return false
            }
        case .array(let a): return a.isEmpty
        case .object(let o):
            if case .message = type { return false }
            return o.count == 0
        }
    }
}

extension FieldType {
    /// Scalars a repeated field may pack into one length-delimited run.
    var isPackable: Bool {
        switch self {
        case .bool, .int32, .int64, .double, .float: return true
        default: return false
        }
    }

    /// The wire type of one packed element.
    var packedWireType: ProtobufReader.WireType {
        switch self {
        case .double: return .fixed64
        case .float: return .fixed32
        default: return .varint
        }
    }
}

/// JSON text of a floating-point number as Go's encoder writes it: integral values without a
/// fraction, others in the shortest form that reads back the same.
enum JSONNumber {
    static func text(_ value: Double) -> String {
        if value.isNaN || value.isInfinite { return "0" }
        if value == value.rounded(), let integer = Int64(exactly: value) { return String(integer) }
        return "\(value)"
    }
}
