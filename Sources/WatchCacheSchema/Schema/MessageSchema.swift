/// One message type of the Kubernetes API (`io.k8s.api.core.v1.Container`): its fields, found by
/// JSON name or by protobuf number.
public final class MessageSchema: Sendable {
    /// The OpenAPI-style name (`io.k8s.api.core.v1.Container`).
    public let name: String
    /// Fields in protobuf number order.
    public let fields: [FieldSchema]
    /// The fields as JSON sees them: inline members replaced by their own fields.
    public let jsonFields: [FieldSchema]
    /// Whether the JSON form carries `kind` and `apiVersion` (Go's embedded `TypeMeta`).
    public let hasTypeMeta: Bool
    private let byName: [String: Int]
    private let byNumber: [Int: Int]

    /// A message with `fields`; `jsonFields` lists the fields by JSON name when some are inline.
    public init(name: String, fields: [FieldSchema], hasTypeMeta: Bool = false, jsonFields: [FieldSchema]? = nil) {
        self.name = name
        self.fields = fields.sorted { $0.number < $1.number }
        self.hasTypeMeta = hasTypeMeta
        self.jsonFields = jsonFields ?? self.fields.filter { !$0.isInline }
        var byName: [String: Int] = [:]
        var byNumber: [Int: Int] = [:]
        for (i, f) in self.jsonFields.enumerated() {
            byName[f.name] = i
        }
        for (i, f) in self.fields.enumerated() {
            byNumber[f.number] = i
        }
        self.byName = byName
        self.byNumber = byNumber
    }

    /// The field with JSON name `name`, inline members' fields included.
    public func field(named name: String) -> FieldSchema? { byName[name].map { jsonFields[$0] } }

    /// The field with protobuf number `number`.
    public func field(number: Int) -> FieldSchema? { byNumber[number].map { fields[$0] } }

    /// The position in ``fields`` of the field with protobuf number `number`.
    func fieldIndex(number: Int) -> Int? { byNumber[number] }
}
