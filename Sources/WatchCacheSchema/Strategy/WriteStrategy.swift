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
        if kind.group.isEmpty && kind.kind == "Service", case .object(let currentSpec)? = current["spec"] {
            // What the service registry allocated stays when an update leaves it out.
            var spec = object["spec"]?.objectValue ?? JSONObject()
            for key in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy", "healthCheckNodePort"]
            where spec[key] == nil && currentSpec[key] != nil {
                spec[key] = currentSpec[key]
            }
            object["spec"] = .object(spec)
        }
        if kind.group.isEmpty && kind.kind == "Namespace" {
            var spec = object["spec"]?.objectValue ?? JSONObject()
            spec["finalizers"] = current["spec"]?["finalizers"]
            object["spec"] = spec.count == 0 && current["spec"] == nil ? nil : .object(spec)
        }
    }

    /// How the kind is deleted gracefully, if it is (kube-apiserver's `CheckGracefulDelete`): pods
    /// get the requested period, else their `terminationGracePeriodSeconds`; a pod not bound to a
    /// node, or already finished, goes at once.
    public var gracefulDeletion: GracefulDeletion? {
        guard kind.group.isEmpty && kind.kind == "Pod" else { return nil }
        return { pod, requested in
            var period = requested ?? pod["spec"]?["terminationGracePeriodSeconds"].flatMap { Int64($0.fieldText ?? "") } ?? 0
            if (pod["spec"]?["nodeName"]?.stringValue ?? "").isEmpty { period = 0 }
            if let phase = pod["status"]?["phase"]?.stringValue, phase == "Failed" || phase == "Succeeded" { period = 0 }
            return period
        }
    }

    /// A write to `/status`: the new object with the current spec, as kube-apiserver's status
    /// strategies keep it. Metadata comes from the new object except what the kind's status
    /// strategy protects: a pod's owner references (old kubelets corrupted them), a workload's
    /// labels; deletion and identity fields are the registry's. The new object's
    /// `metadata.resourceVersion`, when set, stays as the write's precondition.
    public func prepareForStatusUpdate(_ object: JSONObject, current: JSONObject) -> JSONObject {
        var result = object
        ObjectDefaults.apply(group: kind.group, kind: kind.kind, to: &result)
        result["spec"] = current["spec"]
        var metadata = result["metadata"]?.objectValue ?? JSONObject()
        let currentMetadata = current["metadata"]?.objectValue ?? JSONObject()
        var kept = ["deletionTimestamp", "deletionGracePeriodSeconds", "generation"]
        switch (kind.group, kind.kind) {
        case ("", "Pod"): kept.append("ownerReferences")
        case ("apps", _): kept.append("labels")
        default: break
        }
        for key in kept { metadata[key] = currentMetadata[key] }
        result["metadata"] = .object(metadata)
        return result
    }
}
