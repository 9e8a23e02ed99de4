import WatchCache

/// What kube-apiserver's REST strategy does to an object of a built-in kind on each kind of write,
/// beyond storing it: defaults; the status an object starts with; `status` changed only through
/// the `/status` subresource, and everything else only through the main resource.
public struct WriteStrategy: Sendable {
    public let kind: KindSchema
    public let type: MessageSchema
    private let schema: APISchema

    /// The strategy for `group`/`version`/`plural`, or `nil` if the schema does not describe it.
    public init?(group: String, version: String, plural: String, schema: APISchema = .builtIn) {
        guard let kind = schema.kind(group: group, version: version, plural: plural), let type = schema[kind.typeName] else {
            return nil
        }
        self.kind = kind
        self.type = type
        self.schema = schema
    }

    /// A created object: defaults filled, status as kube-apiserver starts it (a pod `Pending` with
    /// its QoS class, a namespace `Active`, a workload or service empty; a node keeps its own).
    public func prepareForCreate(_ object: inout JSONObject) {
        ObjectDefaults.apply(group: kind.group, kind: kind.kind, to: &object)
        guard kind.hasStatus else { return }
        switch (kind.group, kind.kind) {
        case ("", "Node"):
            break
        case ("", "Pod"):
            object["status"] = .object(JSONObject([("phase", .string("Pending")), ("qosClass", .string(PodQOS.qosClass(of: object)))]))
        case ("", "Namespace"):
            object["status"] = .object(JSONObject([("phase", .string("Active"))]))
        default:
            if let statusType = type.field(named: "status")?.type.messageName.flatMap({ schema[$0] }) {
                object["status"] = .object(ZeroValue.object(of: statusType, in: schema))
            }
        }
    }

    /// A replaced or patched object: defaults filled, status as it was (kinds with a status
    /// subresource). A namespace's finalizers change only through `/finalize`.
    public func prepareForUpdate(_ object: inout JSONObject, current: JSONObject) {
        ObjectDefaults.apply(group: kind.group, kind: kind.kind, to: &object)
        if kind.hasStatus {
            object["status"] = current["status"]
        }
        if kind.group.isEmpty && kind.kind == "Namespace" {
            var spec = object["spec"]?.objectValue ?? JSONObject()
            spec["finalizers"] = current["spec"]?["finalizers"]
            object["spec"] = spec.count == 0 && current["spec"] == nil ? nil : .object(spec)
        }
    }

    /// A write to `/status`: the current object with the new object's status. The new object's
    /// `metadata.resourceVersion`, when set, stays as the write's precondition.
    public func prepareForStatusUpdate(_ object: JSONObject, current: JSONObject) -> JSONObject {
        var result = current
        result["status"] = object["status"]
        var metadata = result["metadata"]?.objectValue ?? JSONObject()
        metadata["resourceVersion"] = object["metadata"]?["resourceVersion"]
        result["metadata"] = .object(metadata)
        return result
    }
}
