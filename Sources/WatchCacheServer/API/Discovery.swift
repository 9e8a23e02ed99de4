import WatchCache
import WatchCacheBuildInfo
import WatchCacheSchema

/// The discovery documents kubectl and client-go read before anything else.
struct Discovery {
    let resources: [ResourceDescriptor]
    let serverAddress: String

    var groupVersions: [(group: String, version: String)] {
        var seen: [(String, String)] = []
        for r in resources where !r.group.isEmpty && !seen.contains(where: { $0 == (r.group, r.version) }) { seen.append((r.group, r.version)) }
        // The reviews kubectl's `auth whoami` and `auth can-i` post (``AccessReviews``).
        for group in [AccessReviews.authentication, AccessReviews.authorization] where !seen.contains(where: { $0 == (group, "v1") }) {
            seen.append((group, "v1"))
        }
        return seen
    }

    /// `/api`
    var apiVersions: JSONValue {
        .object(JSONObject([
            ("kind", .string("APIVersions")),
            ("versions", .array([.string("v1")])),
            ("serverAddressByClientCIDRs", .array([.object(JSONObject([("clientCIDR", .string("0.0.0.0/0")), ("serverAddress", .string(serverAddress))]))])),
        ]))
    }

    /// `/apis`
    var groupList: JSONValue {
        var groups: [String: [String]] = [:]
        var order: [String] = []
        for (g, v) in groupVersions {
            if groups[g] == nil { order.append(g) }
            groups[g, default: []].append(v)
        }
        return .object(JSONObject([
            ("kind", .string("APIGroupList")), ("apiVersion", .string("v1")),
            ("groups", .array(order.map { group(named: $0, versions: groups[$0]!) })),
        ]))
    }

    /// `/apis/{group}`, or nil if no resource is in that group.
    func group(_ name: String) -> JSONValue? {
        let versions = groupVersions.filter { $0.group == name }.map(\.version)
        guard !versions.isEmpty else { return nil }
        var g = group(named: name, versions: versions).objectValue!
        g["kind"] = .string("APIGroup")
        g["apiVersion"] = .string("v1")
        return .object(g)
    }

    private func group(named name: String, versions: [String]) -> JSONValue {
        func gv(_ v: String) -> JSONValue { .object(JSONObject([("groupVersion", .string("\(name)/\(v)")), ("version", .string(v))])) }
        return .object(JSONObject([("name", .string(name)), ("versions", .array(versions.map(gv))), ("preferredVersion", gv(versions[0]))]))
    }

    /// `/api/v1` or `/apis/{group}/{version}`, or nil if nothing is served there.
    func resourceList(group: String, version: String) -> JSONValue? {
        let served = resources.filter { $0.group == group && $0.version == version }
        let reviews = AccessReviews.kinds.filter { $0.key.hasPrefix(group + "/") && version == "v1" }.sorted { $0.key < $1.key }
        guard !served.isEmpty || !reviews.isEmpty else { return nil }
        let reviewEntries: [JSONValue] = reviews.map { key, kind in
            .object(JSONObject([
                ("name", .string(String(key.dropFirst(group.count + 1)))), ("singularName", .string(kind.lowercased())),
                ("namespaced", .bool(false)), ("kind", .string(kind)), ("verbs", .array([.string("create")])),
            ]))
        }
        let verbs: JSONValue = .array(["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"].map { .string($0) })
        return .object(JSONObject([
            ("kind", .string("APIResourceList")), ("apiVersion", .string("v1")),
            ("groupVersion", .string(group.isEmpty ? version : "\(group)/\(version)")),
            ("resources", .array(served.flatMap { r -> [JSONValue] in
                var entry = JSONObject([
                    ("name", .string(r.plural)), ("singularName", .string(r.kind.lowercased())), ("namespaced", .bool(r.namespaced)),
                    ("kind", .string(r.kind)), ("verbs", verbs),
                ])
                let known = Self.builtIn["\(r.group)/\(r.plural)"]
                if let shortNames = known?.shortNames { entry["shortNames"] = .array(shortNames.map { .string($0) }) }
                if known?.inAll == true { entry["categories"] = .array([.string("all")]) }
                return [.object(entry)] + subresources(of: r)
            } + reviewEntries)),
        ]))
    }

    /// The subresources of `r` as kube-apiserver lists them after the resource: `pods/status`,
    /// `deployments/scale` (an `autoscaling/v1` `Scale`).
    private func subresources(of r: ResourceDescriptor) -> [JSONValue] {
        guard let kind = APISchema.builtIn.kind(group: r.group, version: r.version, plural: r.plural) else { return [] }
        let verbs: JSONValue = .array(["get", "patch", "update"].map { .string($0) })
        var entries: [JSONValue] = []
        if kind.hasScale {
            entries.append(.object(JSONObject([
                ("name", .string("\(r.plural)/scale")), ("singularName", .string("")), ("namespaced", .bool(r.namespaced)),
                ("group", .string("autoscaling")), ("version", .string("v1")), ("kind", .string("Scale")), ("verbs", verbs),
            ])))
        }
        if kind.hasStatus {
            entries.append(.object(JSONObject([
                ("name", .string("\(r.plural)/status")), ("singularName", .string("")), ("namespaced", .bool(r.namespaced)),
                ("kind", .string(r.kind)), ("verbs", verbs),
            ])))
        }
        return entries
    }

    /// kube-apiserver's short names for its own resources (`kubectl get po`), and whether
    /// `kubectl get all` includes them.
    static let builtIn: [String: (shortNames: [String], inAll: Bool)] = [
        "/pods": (["po"], true), "/services": (["svc"], true), "/configmaps": (["cm"], false), "/secrets": ([], false),
        "/endpoints": (["ep"], false), "/events": (["ev"], false), "/nodes": (["no"], false), "/namespaces": (["ns"], false),
        "/persistentvolumeclaims": (["pvc"], false), "/serviceaccounts": (["sa"], false),
        "apps/deployments": (["deploy"], true), "apps/replicasets": (["rs"], true), "apps/statefulsets": (["sts"], true),
        "apps/daemonsets": (["ds"], true), "batch/jobs": ([], true), "batch/cronjobs": (["cj"], true),
    ]

    /// `/version`: kube-apiserver's shape, with what was built (``BuildInfo``): kubectl reads it first.
    static let version: JSONValue = .object(JSONObject([
        ("major", .string(BuildInfo.kubernetesMajor)), ("minor", .string(BuildInfo.kubernetesMinor)),
        ("gitVersion", .string(BuildInfo.gitVersion)), ("gitCommit", .string(BuildInfo.gitCommit)),
        ("gitTreeState", .string(BuildInfo.gitTreeState)), ("buildDate", .string(BuildInfo.buildDate)),
        ("goVersion", .string(BuildInfo.compiler)), ("compiler", .string("swiftc")), ("platform", .string(BuildInfo.platform)),
    ]))
}
