import WatchCache
import WatchCacheSchema

/// An OpenAPI v2 document in the protobuf form client-go reads from `/openapi/v2`: gnostic's
/// `openapi_v2.Document` (github.com/google/gnostic-models, `openapiv2/OpenAPIv2.proto`).
///
/// Covers what ``OpenAPIV2`` writes: the document's `swagger`, `info`, `paths` and `definitions`;
/// path items, operations, body, query and path parameters and responses; schemas with their
/// references, types, properties, items, `additionalProperties`, `allOf`, `required`, `enum`,
/// `default`. Vendor extensions (`x-kubernetes-…`) become gnostic's named `Any` values, whose
/// `yaml` holds the value's JSON text (JSON is YAML). Members outside that are left out.
enum OpenAPIV2Protobuf {
    static func encode(_ document: JSONValue) -> [UInt8] {
        var w = ProtobufWriter(capacity: 1 << 20)
        guard let members = document.objectValue?.members else { return [] }
        for (key, value) in members {
            switch key {
            case "swagger": w.string(1, value)
            case "info":
                w.message(2) { w in
                    for (key, value) in value.entries {
                        switch key {
                        case "title": w.string(1, value)
                        case "version": w.string(2, value)
                        case "description": w.string(3, value)
                        default: w.vendorExtension(7, key, value)
                        }
                    }
                }
            case "host": w.string(3, value)
            case "basePath": w.string(4, value)
            case "schemes": w.strings(5, value)
            case "consumes": w.strings(6, value)
            case "produces": w.strings(7, value)
            case "paths":
                w.message(8) { w in
                    for (path, item) in value.entries {
                        if path.hasPrefix("x-") { w.vendorExtension(1, path, item); continue }
                        w.message(2) { w in
                            w.writeStringField(1, path)
                            w.message(2) { $0.pathItem(item) }
                        }
                    }
                }
            case "definitions":
                w.message(9) { w in w.namedSchemas(1, value) }
            default: w.vendorExtension(16, key, value)
            }
        }
        return w.bytes
    }
}

extension ProtobufWriter {
    /// A length-delimited field whose contents `body` writes.
    fileprivate mutating func message(_ number: Int, _ body: (inout ProtobufWriter) -> Void) {
        let marker = beginMessage(number)
        body(&self)
        endMessage(marker)
    }

    fileprivate mutating func string(_ number: Int, _ value: JSONValue) {
        if let s = value.stringValue, !s.isEmpty { writeStringField(number, s) }
    }

    /// A repeated string field from a JSON array (or a single string).
    fileprivate mutating func strings(_ number: Int, _ value: JSONValue) {
        for item in value.arrayValue ?? [value] { string(number, item) }
    }

    fileprivate mutating func bool(_ number: Int, _ value: JSONValue) {
        if case .bool(true) = value { writeVarintField(number, 1) }
    }

    /// gnostic's `Any`: the value as YAML text (its JSON form).
    fileprivate mutating func any(_ number: Int, _ value: JSONValue) {
        message(number) { w in w.writeBytesField(2, JSONWriter.encode(value)) }
    }

    /// A `NamedAny` under the message's `vendor_extension` field `number`; members not starting
    /// with `x-` are not extensions and are left out.
    fileprivate mutating func vendorExtension(_ number: Int, _ name: String, _ value: JSONValue) {
        guard name.hasPrefix("x-") else { return }
        message(number) { w in
            w.writeStringField(1, name)
            w.any(2, value)
        }
    }

    /// `NamedSchema`s (`Definitions`, `Properties`) under field `number`.
    fileprivate mutating func namedSchemas(_ number: Int, _ value: JSONValue) {
        for (name, schema) in value.entries {
            message(number) { w in
                w.writeStringField(1, name)
                w.message(2) { $0.schema(schema) }
            }
        }
    }

    // MARK: - Paths

    fileprivate mutating func pathItem(_ item: JSONValue) {
        let operations = ["get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7, "patch": 8]
        for (key, value) in item.entries {
            if key == "$ref" {
                string(1, value)
            } else if let number = operations[key] {
                message(number) { $0.operation(value) }
            } else if key == "parameters" {
                for parameter in value.arrayValue ?? [] { message(9) { $0.parametersItem(parameter) } }
            } else {
                vendorExtension(10, key, value)
            }
        }
    }

    fileprivate mutating func operation(_ operation: JSONValue) {
        for (key, value) in operation.entries {
            switch key {
            case "tags": strings(1, value)
            case "summary": string(2, value)
            case "description": string(3, value)
            case "operationId": string(5, value)
            case "produces": strings(6, value)
            case "consumes": strings(7, value)
            case "parameters": for parameter in value.arrayValue ?? [] { message(8) { $0.parametersItem(parameter) } }
            case "responses": message(9) { $0.responses(value) }
            case "schemes": strings(10, value)
            case "deprecated": bool(11, value)
            default: vendorExtension(13, key, value)
            }
        }
    }

    /// `ParametersItem`: a reference, or a `Parameter` — a body parameter, or a query or path one.
    fileprivate mutating func parametersItem(_ parameter: JSONValue) {
        guard let members = parameter.objectValue else { return }
        if let ref = members["$ref"] {
            message(2) { w in w.string(1, ref) }
            return
        }
        message(1) { w in
            switch members["in"]?.stringValue {
            case "body":
                w.message(1) { w in
                    for (key, value) in members.members {
                        switch key {
                        case "description": w.string(1, value)
                        case "name": w.string(2, value)
                        case "in": w.string(3, value)
                        case "required": w.bool(4, value)
                        case "schema": w.message(5) { $0.schema(value) }
                        default: w.vendorExtension(6, key, value)
                        }
                    }
                }
            case "query":
                // NonBodyParameter.query_parameter_sub_schema
                w.message(2) { w in w.message(3) { $0.nonBodyParameter(members, extensions: 23, uniqueItems: 20, typeField: 6) } }
            case "path":
                // NonBodyParameter.path_parameter_sub_schema
                w.message(2) { w in w.message(4) { $0.nonBodyParameter(members, extensions: 22, uniqueItems: 19, typeField: 5) } }
            default:
                break
            }
        }
    }

    /// A query or path parameter: the two messages share their first four fields and differ in
    /// where the type, format, `uniqueItems` and extensions go.
    fileprivate mutating func nonBodyParameter(_ members: JSONObject, extensions: Int, uniqueItems: Int, typeField: Int) {
        for (key, value) in members.members {
            switch key {
            case "required": bool(1, value)
            case "in": string(2, value)
            case "description": string(3, value)
            case "name": string(4, value)
            case "type": string(typeField, value)
            case "format": string(typeField + 1, value)
            case "uniqueItems": bool(uniqueItems, value)
            default: vendorExtension(extensions, key, value)
            }
        }
    }

    fileprivate mutating func responses(_ responses: JSONValue) {
        for (code, response) in responses.entries {
            if code.hasPrefix("x-") { vendorExtension(2, code, response); continue }
            message(1) { w in
                w.writeStringField(1, code)
                // ResponseValue.response
                w.message(2) { w in
                    w.message(1) { w in
                        for (key, value) in response.entries {
                            switch key {
                            case "description": w.string(1, value)
                            case "schema": w.message(2) { w in w.message(1) { $0.schema(value) } }  // SchemaItem.schema
                            default: w.vendorExtension(5, key, value)
                            }
                        }
                    }
                }
            }
        }
    }

    // MARK: - Schemas

    fileprivate mutating func schema(_ schema: JSONValue) {
        for (key, value) in schema.entries {
            switch key {
            case "$ref": string(1, value)
            case "format": string(2, value)
            case "title": string(3, value)
            case "description": string(4, value)
            case "default": any(5, value)
            case "uniqueItems": bool(16, value)
            case "required": strings(19, value)
            case "enum": for item in value.arrayValue ?? [] { any(20, item) }
            case "additionalProperties":
                message(21) { w in
                    if case .bool(let b) = value {
                        w.writeVarintField(2, b ? 1 : 0)
                    } else {
                        w.message(1) { $0.schema(value) }
                    }
                }
            case "type": message(22) { $0.strings(1, value) }
            case "items":
                message(23) { w in
                    for item in value.arrayValue ?? [value] { w.message(1) { $0.schema(item) } }
                }
            case "allOf": for item in value.arrayValue ?? [] { message(24) { $0.schema(item) } }
            case "properties": message(25) { $0.namedSchemas(1, value) }
            case "readOnly": bool(27, value)
            case "example": any(30, value)
            default: vendorExtension(31, key, value)
            }
        }
    }
}

extension JSONValue {
    /// An object's members in order; none for anything else.
    fileprivate var entries: [(String, JSONValue)] {
        objectValue.map { Array($0.members) } ?? []
    }
}
