import WatchCache

// kube-apiserver's defaulting for the built-in kinds this server serves, as of Kubernetes 1.32 with
// its default feature gates: the hand-written `SetDefaults_*` functions of the core/v1 and apps/v1
// API packages, the declarative `+default=` markers of `k8s.io/api` types, and the nesting the
// generated defaulters walk (volumes, containers, probes, pod templates, claim templates), plus
// the namespace strategy's create-time finalizer. Defaults fill what is missing or empty; they
// replace a value the client gave only where Kubernetes does: a namespace's
// `kubernetes.io/metadata.name` label always equals its name, and a service's
// `sessionAffinityConfig` follows its `sessionAffinity` (dropped for None, a timeout for ClientIP).
//
// Deliberately not done here, because kube-apiserver does it outside defaulting:
// - Service IP and port allocation by the service registry: `clusterIP`/`clusterIPs`,
//   `ipFamilies`, `ipFamilyPolicy`, `nodePort`s and `healthCheckNodePort`.
// - Admission plugins: ServiceAccount (`serviceAccountName`, the token volume), Priority
//   (`priority`, `preemptionPolicy`), DefaultTolerationSeconds (not-ready/unreachable tolerations),
//   LimitRanger, DefaultStorageClass and the like.
// - Metadata the registry sets (`uid`, `creationTimestamp`, `generation`, `resourceVersion`) and
//   the strategies' status resets on create.
// - Resource quantity rounding to milli precision and canonical formatting (`SetDefaults_ResourceList`):
//   that belongs with quantity parsing, not here.
// Left out because their feature gates are off by default in 1.32: container `resizePolicy`
// (InPlacePodVerticalScaling), pod-level resources (PodLevelResources), `image` volume pull
// policy (ImageVolume), and host ports in pod templates (DefaultHostNetworkHostPortsInPodTemplates:
// only pods get them). `SetDefaults_ConfigMap` (`data: {}`) is left out too: an empty map is
// omitted from kube-apiserver's output, so it has no visible effect.

/// kube-apiserver's defaulting of the built-in kinds: the values it fills in before it validates
/// and stores an object.
public enum ObjectDefaults {
    /// Fills in `object`'s defaults for the kind `kind` of API group `group` (`""` for core/v1,
    /// `"apps"` for apps/v1). Members the object already has keep their values; new members are
    /// appended. Kinds without defaults are left as they are.
    public static func apply(group: String, kind: String, to object: inout JSONObject) {
        switch (group, kind) {
        case ("", "Pod"): PodDefaults.applyToPod(&object)
        case ("", "Service"): ServiceDefaults.applyToService(&object)
        case ("", "Endpoints"): ServiceDefaults.applyToEndpoints(&object)
        case ("", "Namespace"): applyToNamespace(&object)
        case ("", "Node"): applyToNode(&object)
        case ("", "Secret"): applyToSecret(&object)
        case ("", "ConfigMap"), ("", "Event"): break
        case ("apps", "Deployment"): WorkloadDefaults.applyToDeployment(&object)
        case ("apps", "ReplicaSet"): WorkloadDefaults.applyToReplicaSet(&object)
        case ("apps", "StatefulSet"): WorkloadDefaults.applyToStatefulSet(&object)
        case ("apps", "DaemonSet"): WorkloadDefaults.applyToDaemonSet(&object)
        default: break
        }
    }

    /// `SetDefaults_Namespace`, `SetDefaults_NamespaceStatus`, and the `kubernetes` finalizer of
    /// the namespace strategy's `PrepareForCreate`. Kubernetes adds that finalizer on create only:
    /// the namespace controller removes it during deletion, and updates must not bring it back.
    private static func applyToNamespace(_ namespace: inout JSONObject) {
        if case .string(let name)? = namespace["metadata"]?["name"], !name.isEmpty {
            namespace.withDefaultedObject("metadata") { metadata in
                metadata.withDefaultedObject("labels") { labels in
                    labels["kubernetes.io/metadata.name"] = .string(name)
                }
            }
        }
        namespace.withDefaultedObject("spec") { spec in
            switch spec["finalizers"] {
            case .array(var finalizers)?:
                if !finalizers.contains(.string("kubernetes")) {
                    finalizers.append(.string("kubernetes"))
                    spec["finalizers"] = .array(finalizers)
                }
            case nil, .null?:
                spec["finalizers"] = .array([.string("kubernetes")])
            default:
                break
            }
        }
        namespace.withDefaultedObject("status") { status in
            status.defaultString("phase", "Active")
        }
    }

    /// `SetDefaults_NodeStatus`: allocatable is the capacity unless given.
    private static func applyToNode(_ node: inout JSONObject) {
        node.withObject("status") { status in
            guard status.isUnset("allocatable"), case .object(let capacity)? = status["capacity"], capacity.count > 0 else { return }
            status["allocatable"] = .object(capacity)
        }
    }

    /// `SetDefaults_Secret`.
    private static func applyToSecret(_ secret: inout JSONObject) {
        secret.defaultString("type", "Opaque")
    }
}

// MARK: - JSON helpers for defaulting

extension JSONValue {
    /// A JSON number whose value is zero (`0`, `0.0`, `-0`, `0e3`).
    var isZeroNumber: Bool {
        guard case .number(let text) = self else { return false }
        return Double(text) == 0
    }
}

extension JSONObject {
    /// The member is absent or `null`: Go's nil pointer, slice or map.
    func isUnset(_ key: String) -> Bool {
        switch self[key] {
        case nil, .null?: return true
        default: return false
        }
    }

    /// The member is absent, `null` or `""`: Go's empty string.
    func isEmptyString(_ key: String) -> Bool {
        switch self[key] {
        case nil, .null?, .string("")?: return true
        default: return false
        }
    }

    /// The member is absent, `null` or the number zero: Go's zero integer.
    func isZeroInteger(_ key: String) -> Bool {
        switch self[key] {
        case nil, .null?: return true
        case let value?: return value.isZeroNumber
        }
    }

    /// Sets a pointer-like member (`*int32`, `*bool`, a struct pointer) when it is absent or `null`.
    mutating func defaultValue(_ key: String, _ value: JSONValue) {
        if isUnset(key) { self[key] = value }
    }

    /// Sets a string member when it is absent, `null` or empty.
    mutating func defaultString(_ key: String, _ value: String) {
        if isEmptyString(key) { self[key] = .string(value) }
    }

    /// Sets a (non-pointer) integer member when it is absent, `null` or zero.
    mutating func defaultInteger(_ key: String, _ value: Int) {
        if isZeroInteger(key) { self[key] = .number(String(value)) }
    }

    /// Runs `body` on the object member `key`, when there is one, and stores the result back.
    mutating func withObject(_ key: String, _ body: (inout JSONObject) -> Void) {
        guard case .object(var inner)? = self[key] else { return }
        self[key] = .null   // drop this copy so `inner` is mutated in place
        body(&inner)
        self[key] = .object(inner)
    }

    /// Runs `body` on the object member `key`, starting from `{}` when it is absent or `null`
    /// (a Go struct, or a pointer the defaulter allocates). A member of another type is left alone.
    mutating func withDefaultedObject(_ key: String, _ body: (inout JSONObject) -> Void) {
        if isUnset(key) {
            var inner = JSONObject()
            body(&inner)
            self[key] = .object(inner)
        } else {
            withObject(key, body)
        }
    }

    /// Runs `body` on each object element of the array member `key`.
    mutating func withEachObject(in key: String, _ body: (inout JSONObject) -> Void) {
        guard case .array(var elements)? = self[key] else { return }
        self[key] = .null
        for i in elements.indices {
            guard case .object(var element) = elements[i] else { continue }
            elements[i] = .null
            body(&element)
            elements[i] = .object(element)
        }
        self[key] = .array(elements)
    }
}
