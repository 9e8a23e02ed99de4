import WatchCache

/// The JSON Go writes for the zero value of a message: non-`omitempty` scalars as zero, structs as
/// objects, everything else left out. It is what a status reset (`Status = DeploymentStatus{}`)
/// looks like on the wire.
enum ZeroValue {
    static func object(of type: MessageSchema, in schema: APISchema, depth: Int = 0) -> JSONObject {
        var object = JSONObject()
        guard depth < 8 else { return object }
        for field in type.jsonFields where !field.isPointer && !field.isList && !field.isMap {
            switch field.type {
            case .message(let name):
                if let message = schema[name] { object[field.name] = .object(Self.object(of: message, in: schema, depth: depth + 1)) }
            case .string where !field.omitEmpty: object[field.name] = .string("")
            case .bool where !field.omitEmpty: object[field.name] = .bool(false)
            case .int32 where !field.omitEmpty, .int64 where !field.omitEmpty,
                 .double where !field.omitEmpty, .float where !field.omitEmpty:
                object[field.name] = .number("0")
            default: break
            }
        }
        return object
    }
}
