/// What a strategic merge patch knows about the value it is merging: the message type of an
/// object, the value type of a map, or nothing (an embedded `RawExtension`, a field the schema does
/// not describe), where objects merge member by member and lists are replaced.
struct PatchContext {
    enum Shape {
        case message(MessageSchema)
        /// A `map<string, V>`: every member has type `V`.
        case map(FieldType)
        case opaque
    }

    /// How the patch treats one member of the value.
    struct Member {
        let context: PatchContext
        let strategy: PatchStrategy
        let mergeKey: String?
    }

    let shape: Shape
    let schema: APISchema

    /// A short name for error messages.
    var name: String {
        switch shape {
        case .message(let message): return message.name
        case .map, .opaque: return "map"
        }
    }

    /// The context of the value of type `type` (list elements, map values and fields alike).
    static func of(_ type: FieldType, in schema: APISchema) -> PatchContext {
        if let name = type.messageName, let message = schema[name] {
            return PatchContext(shape: .message(message), schema: schema)
        }
        return PatchContext(shape: .opaque, schema: schema)
    }

    /// The patch metadata of member `key`.
    func member(_ key: String) -> Member {
        switch shape {
        case .message(let message):
            guard let field = message.field(named: key) else {
                return Member(context: PatchContext(shape: .opaque, schema: schema), strategy: [], mergeKey: nil)
            }
            let context = field.isMap ? PatchContext(shape: .map(field.type), schema: schema) : .of(field.type, in: schema)
            return Member(context: context, strategy: field.patchStrategy, mergeKey: field.patchMergeKey)
        case .map(let valueType):
            return Member(context: .of(valueType, in: schema), strategy: [], mergeKey: nil)
        case .opaque:
            return Member(context: self, strategy: [], mergeKey: nil)
        }
    }
}
