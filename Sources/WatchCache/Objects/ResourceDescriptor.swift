/// What the cache knows about one resource (a group/version/resource such as `v1 pods`).
///
/// Objects are stored as the client sent them; the descriptor only says how to address them and
/// which fields field selectors may use and which one (if any) indexes watchers and LISTs.
///
/// Immutable and shared by reference: every object points at its resource's descriptor. Two
/// descriptors are equal when they name the same group, version and resource.
public final class ResourceDescriptor: Hashable, Sendable, CustomStringConvertible {
    /// API group; empty for the core group (`/api/v1`).
    public let group: String
    /// API version (`v1`).
    public let version: String
    /// The plural resource name used in paths (`pods`).
    public let plural: String
    /// The object kind (`Pod`); lists are `<kind>List`.
    public let kind: String
    /// Whether objects live in namespaces.
    public let namespaced: Bool
    /// Field-selector paths this resource supports beyond `metadata.name` and `metadata.namespace`.
    public let selectableFields: [String]
    /// The field whose exact value indexes watchers (dispatch) and LISTs, e.g. `spec.nodeName` for pods.
    /// It must also be selectable.
    public let indexedField: String?

    public static func == (a: ResourceDescriptor, b: ResourceDescriptor) -> Bool {
        a === b || (a.group == b.group && a.version == b.version && a.plural == b.plural)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(group)
        hasher.combine(version)
        hasher.combine(plural)
    }

    /// A resource; `indexedField`, when given, is made selectable too.
    public init(group: String = "", version: String = "v1", plural: String, kind: String, namespaced: Bool = true,
                selectableFields: [String] = [], indexedField: String? = nil) {
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
        var fields = selectableFields
        if let indexedField, !fields.contains(indexedField) { fields.append(indexedField) }
        self.selectableFields = fields
        self.indexedField = indexedField
        let all = ["metadata.name", "metadata.namespace"] + fields
        self.allSelectableFields = all
        self.selectableFieldPaths = all.map { $0.split(separator: ".", omittingEmptySubsequences: false).map(String.init) }
        self.indexedFieldPosition = indexedField.flatMap { all.firstIndex(of: $0) }
        self.describingMembers = JSONMemberSelection(paths: KubeObject.describingMetadata.map { ["metadata", $0] } + selectableFieldPaths)
    }

    /// `v1` or `apps/v1`.
    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }

    /// Whether this is the core group's `namespaces`.
    public var isNamespaceKind: Bool { group.isEmpty && plural == "namespaces" }

    /// `pods` or `deployments.apps`, as kube-apiserver names resources in messages.
    public var qualifiedPlural: String { group.isEmpty ? plural : "\(plural).\(group)" }

    public var description: String { "\(apiVersion) \(plural)" }

    /// Every field a field selector may name, in the order objects store their values.
    let allSelectableFields: [String]
    /// ``allSelectableFields`` split into path components, once.
    let selectableFieldPaths: [[String]]
    /// Where ``indexedField`` is in ``allSelectableFields``.
    let indexedFieldPosition: Int?
    /// The members a ``KubeObject`` of this resource is described by (its metadata that the cache
    /// reads, its selectable fields): all a stored object's bytes are parsed for.
    let describingMembers: JSONMemberSelection
}

extension ResourceDescriptor {
    /// Core `v1` pods, indexed by `spec.nodeName` (what kubelets watch by).
    public static let pods = ResourceDescriptor(
        plural: "pods", kind: "Pod",
        selectableFields: ["spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork",
                           "status.phase", "status.podIP", "status.nominatedNodeName"],
        indexedField: "spec.nodeName")
    /// Core `v1` config maps.
    public static let configMaps = ResourceDescriptor(plural: "configmaps", kind: "ConfigMap")
    /// Core `v1` secrets (field selector: `type`).
    public static let secrets = ResourceDescriptor(plural: "secrets", kind: "Secret", selectableFields: ["type"])
    /// Core `v1` services.
    public static let services = ResourceDescriptor(plural: "services", kind: "Service")
    /// Core `v1` endpoints.
    public static let endpoints = ResourceDescriptor(plural: "endpoints", kind: "Endpoints")
    /// Core `v1` events, with kube-apiserver's selectable fields.
    public static let events = ResourceDescriptor(
        plural: "events", kind: "Event",
        selectableFields: ["involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
                           "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
                           "reason", "reportingComponent", "source", "type"])
    /// Core `v1` nodes (cluster-scoped).
    public static let nodes = ResourceDescriptor(plural: "nodes", kind: "Node", namespaced: false, selectableFields: ["spec.unschedulable"])
    /// Core `v1` namespaces (cluster-scoped).
    public static let namespaces = ResourceDescriptor(plural: "namespaces", kind: "Namespace", namespaced: false, selectableFields: ["status.phase"])
    /// `apps/v1` deployments.
    public static let deployments = ResourceDescriptor(group: "apps", plural: "deployments", kind: "Deployment")
    /// `apps/v1` replica sets.
    public static let replicaSets = ResourceDescriptor(group: "apps", plural: "replicasets", kind: "ReplicaSet")
    /// `apps/v1` stateful sets.
    public static let statefulSets = ResourceDescriptor(group: "apps", plural: "statefulsets", kind: "StatefulSet")
    /// `apps/v1` daemon sets.
    public static let daemonSets = ResourceDescriptor(group: "apps", plural: "daemonsets", kind: "DaemonSet")

    /// The resources a server offers by default.
    public static let builtIn: [ResourceDescriptor] = [
        .pods, .configMaps, .secrets, .services, .endpoints, .events, .nodes, .namespaces, .deployments, .replicaSets,
        .statefulSets, .daemonSets,
    ]
}
