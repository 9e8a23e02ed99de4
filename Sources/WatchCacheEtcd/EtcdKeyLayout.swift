import WatchCache

/// Where kube-apiserver keeps each object in etcd: `<prefix>/<resource prefix>/<namespace>/<name>`
/// (`<prefix>/<resource prefix>/<name>` when cluster-scoped), so a kube-apiserver on the same etcd
/// (with `--storage-media-type=application/json`) reads the same keys.
public struct EtcdKeyLayout: Sendable {
    /// `--etcd-prefix`, without a trailing slash (kube-apiserver's default `/registry`).
    public let prefix: String

    public init(prefix: String = "/registry") {
        var p = prefix
        while p.hasSuffix("/") { p.removeLast() }
        self.prefix = p
    }

    /// The resource's folder, ending with `/`: every key of the resource, and nothing else, starts with it.
    public func folder(of resource: ResourceDescriptor) -> String {
        "\(prefix)/\(Self.resourcePrefix(resource))/"
    }

    /// The key of one object.
    public func key(of resource: ResourceDescriptor, namespace: String?, name: String) -> String {
        if resource.namespaced { return folder(of: resource) + "\(namespace ?? "")/\(name)" }
        return folder(of: resource) + name
    }

    /// The key of `object`.
    public func key(of object: KubeObject) -> String {
        key(of: object.resource, namespace: object.namespace, name: object.name)
    }

    /// The end of the key range of a folder: the folder with its last byte incremented (etcd's
    /// prefix range).
    static func rangeEnd(of folder: String) -> [UInt8] {
        var bytes = Array(folder.utf8)
        while let last = bytes.last {
            if last < 0xFF {
                bytes[bytes.count - 1] = last + 1
                return bytes
            }
            bytes.removeLast()
        }
        return [0]
    }

    /// kube-apiserver's resource prefix: the resource name, with its historical exceptions
    /// (`specialDefaultResourcePrefixes`); resources of groups it does not serve itself (custom
    /// resources) live under `<group>/<plural>`.
    static func resourcePrefix(_ resource: ResourceDescriptor) -> String {
        if resource.group.isEmpty || resource.group == "extensions" || resource.group == "networking.k8s.io" {
            switch resource.plural {
            case "replicationcontrollers": return "controllers"
            case "endpoints": return "services/endpoints"
            case "services": return "services/specs"
            case "nodes": return "minions"
            case "ingresses": return "ingress"
            default: break
            }
        }
        if resource.group.isEmpty || builtInGroups.contains(resource.group) { return resource.plural }
        return "\(resource.group)/\(resource.plural)"
    }

    /// The API groups kube-apiserver serves itself (their resources are stored under their plural
    /// alone); `apiextensions.k8s.io` and `apiregistration.k8s.io` use `<group>/<plural>` as
    /// custom resources do.
    static let builtInGroups: Set<String> = [
        "apps", "batch", "autoscaling", "policy", "extensions", "networking.k8s.io", "rbac.authorization.k8s.io",
        "storage.k8s.io", "scheduling.k8s.io", "coordination.k8s.io", "node.k8s.io", "discovery.k8s.io",
        "certificates.k8s.io", "admissionregistration.k8s.io", "flowcontrol.apiserver.k8s.io", "events.k8s.io",
        "resource.k8s.io", "storagemigration.k8s.io", "internal.apiserver.k8s.io",
    ]
}
