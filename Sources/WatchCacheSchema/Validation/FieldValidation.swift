import WatchCache

/// What kube-apiserver's decoder does with the fields of a JSON object of a built-in kind: members
/// the type does not have are unknown fields (dropped, reported as warnings, or an error under
/// `fieldValidation=Strict`), and a value of the wrong JSON type cannot be decoded at all.
public enum FieldValidation {
    /// A value the type cannot hold: the object cannot be decoded (`400 BadRequest`).
    public struct TypeError: Error, Equatable, CustomStringConvertible {
        /// Go's message: `json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type []v1.Container`.
        public let description: String
    }

    /// Removes the members of `object` (of message type `type`) that the schema does not describe
    /// and returns their paths (`spec.containers[0].foo`) in document order.
    public static func prune(_ object: inout JSONObject, as type: MessageSchema, in schema: APISchema) throws(TypeError) -> [String] {
        var unknown: [String] = []
        try prune(&object, type, schema, path: "", unknown: &unknown)
        return unknown
    }

    private static func prune(_ object: inout JSONObject, _ type: MessageSchema, _ schema: APISchema, path: String,
                              unknown: inout [String]) throws(TypeError) {
        var result = JSONObject()
        for (key, value) in object.members {
            let fieldPath = path.isEmpty ? key : "\(path).\(key)"
            if type.hasTypeMeta, key == "kind" || key == "apiVersion" {
                guard case .string = value else { throw mismatch(value, type, fieldPath, goType: "string") }
                result[key] = value
                continue
            }
            guard let field = type.field(named: key) else {
                unknown.append(fieldPath)
                continue
            }
            var value = value
            try check(&value, field, type, schema, path: fieldPath, unknown: &unknown)
            result[key] = value
        }
        object = result
    }

    private static func check(_ value: inout JSONValue, _ field: FieldSchema, _ parent: MessageSchema, _ schema: APISchema,
                              path: String, unknown: inout [String]) throws(TypeError) {
        if value == .null { return }
        if field.isList {
            guard case .array(var elements) = value else { throw mismatch(value, parent, path, goType: "[]" + goType(field.type)) }
            for i in elements.indices {
                try checkElement(&elements[i], field, parent, schema, path: "\(path)[\(i)]", unknown: &unknown)
            }
            value = .array(elements)
        } else if field.isMap {
            guard case .object(let members) = value else { throw mismatch(value, parent, path, goType: "map[string]" + goType(field.type)) }
            var result = JSONObject()
            for (key, member) in members.members {
                var member = member
                try checkElement(&member, field, parent, schema, path: "\(path).\(key)", unknown: &unknown)
                result[key] = member
            }
            value = .object(result)
        } else {
            try checkElement(&value, field, parent, schema, path: path, unknown: &unknown)
        }
    }

    /// One value of the field's element type.
    private static func checkElement(_ value: inout JSONValue, _ field: FieldSchema, _ parent: MessageSchema, _ schema: APISchema,
                                     path: String, unknown: inout [String]) throws(TypeError) {
        let ok: Bool
        switch (field.type, value) {
        case (_, .null): ok = true
        case (.string, .string): ok = true
        // Values Go's decoder refuses are refused here too, so that every stored object can be
        // written again in protobuf.
        case (.bytes, .string(let s)): ok = s.utf8.count % 4 == 0 && Base64.decode(s) != nil
        case (.time, .string(let s)), (.microTime, .string(let s)): ok = KubeTime.parse(s) != nil
        case (.duration, .string(let s)): ok = KubeTime.parseDuration(s) != nil
        case (.bool, .bool): ok = true
        case (.int32, .number(let n)): ok = Int32(n) != nil
        case (.int64, .number(let n)): ok = Int64(n) != nil
        case (.double, .number), (.float, .number): ok = true
        case (.quantity, .string(let s)): ok = Quantity.value(s) != nil
        case (.quantity, .number(let n)): ok = Quantity.value(n) != nil
        case (.intOrString, .string): ok = true
        case (.intOrString, .number(let n)): ok = Int32(n) != nil
        case (.rawExtension, _), (.fieldsV1, .object): ok = true
        case (.message(let name), .object(var object)):
            guard let message = schema[name] else { return }
            try prune(&object, message, schema, path: path, unknown: &unknown)
            value = .object(object)
            ok = true
        default: ok = false
        }
        if !ok {
            switch (field.type, value) {
            case (.bytes, .string), (.time, .string), (.microTime, .string), (.duration, .string), (.quantity, .string),
                 (.quantity, .number), (.int32, .number), (.int64, .number), (.intOrString, .number):
                throw TypeError(description: "\(path): invalid value \(JSONWriter.text(value)) for \(goType(field.type))")
            default:
                throw mismatch(value, parent, path, goType: goType(field.type))
            }
        }
    }

    private static func mismatch(_ value: JSONValue, _ parent: MessageSchema, _ path: String, goType: String) -> TypeError {
        let jsonType: String
        switch value {
        case .null: jsonType = "null"
        case .bool: jsonType = "bool"
        case .number: jsonType = "number"
        case .string: jsonType = "string"
        case .array: jsonType = "array"
        case .object: jsonType = "object"
        }
        let structName = parent.name.split(separator: ".").last.map(String.init) ?? parent.name
        return TypeError(description: "json: cannot unmarshal \(jsonType) into Go struct field \(structName).\(path) of type \(goType)")
    }

    /// The Go type of a field's values, as Go's decoder names it (`v1.Container`, `int32`).
    private static func goType(_ type: FieldType) -> String {
        switch type {
        case .string: return "string"
        case .bool: return "bool"
        case .int32: return "int32"
        case .int64: return "int64"
        case .double: return "float64"
        case .float: return "float32"
        case .bytes: return "[]uint8"
        case .quantity: return "resource.Quantity"
        case .intOrString: return "intstr.IntOrString"
        case .time: return "v1.Time"
        case .microTime: return "v1.MicroTime"
        case .duration: return "v1.Duration"
        case .rawExtension: return "runtime.RawExtension"
        case .fieldsV1: return "v1.FieldsV1"
        case .message(let name):
            let parts = name.split(separator: ".")
            return parts.count >= 2 ? "\(parts[parts.count - 2]).\(parts[parts.count - 1])" : name
        }
    }
}
