import WatchCache

/// The objects of the recovery workload: `objectsPerWatcher` pods on each of `watchers` nodes,
/// shaped like small real pods; each write changes one pod's status (over HTTP, a PUT to
/// `pods/{name}/status`, as kubelets report it).
struct PodWorkload {
    /// The namespace of runs against a server the benchmark starts.
    static let namespace = "bench"

    /// How a pod belongs to its node, and so how its node's watcher selects it.
    enum Placement {
        /// `spec.nodeName`, selected with `fieldSelector=spec.nodeName=node-N`, as kubelets watch:
        /// for a server the benchmark starts (nothing runs the pods).
        case nodeName
        /// A label, `watchcache.io/bench-node=node-N`, selected with a label selector; the pod is
        /// never scheduled (its `schedulerName` names no scheduler). For a real cluster: pods bound
        /// to nodes that exist would run there, and pods bound to nodes that do not are deleted by
        /// the pod garbage collector.
        case label
    }

    let watchers: Int
    let objectsPerWatcher: Int
    var namespace = PodWorkload.namespace
    var placement = Placement.nodeName

    /// The label that places a pod on its node with ``Placement/label``.
    static let nodeLabel = "watchcache.io/bench-node"
    /// The scheduler named by pods placed with ``Placement/label``: none such runs.
    static let noScheduler = "watchcache-bench-unscheduled"

    var objects: Int { watchers * objectsPerWatcher }

    func name(_ index: Int) -> String { "pod-\(index / objectsPerWatcher)-\(index % objectsPerWatcher)" }
    func node(_ index: Int) -> Int { index / objectsPerWatcher }

    /// Pod `index` at its `revision`-th write.
    func pod(_ index: Int, revision: Int) -> JSONObject {
        let node = self.node(index)
        var labels = JSONObject([("app", .string("bench")), ("node", .string("node-\(node)"))])
        var container = JSONObject([
            ("name", .string("app")), ("image", .string("registry.k8s.io/pause:3.10")),
            ("resources", .object(JSONObject([("requests", .object(JSONObject([("cpu", .string("10m")), ("memory", .string("16Mi"))])))]))),
        ])
        var spec = JSONObject()
        var status = JSONObject()
        switch placement {
        case .nodeName:
            spec["nodeName"] = .string("node-\(node)")
            status["phase"] = .string("Running")
            status["podIP"] = .string("10.\(node / 250 % 250).\(node % 250).\(index % objectsPerWatcher + 2)")
        case .label:
            labels[Self.nodeLabel] = .string("node-\(node)")
            spec["schedulerName"] = .string(Self.noScheduler)
            // What a namespace under the "restricted" Pod Security level and a LimitRange that
            // wants limits accept.
            spec["securityContext"] = .object(JSONObject([
                ("runAsNonRoot", .bool(true)), ("runAsUser", .number("65535")),
                ("seccompProfile", .object(JSONObject([("type", .string("RuntimeDefault"))]))),
            ]))
            container["resources"] = .object(JSONObject([
                ("requests", .object(JSONObject([("cpu", .string("10m")), ("memory", .string("16Mi"))]))),
                ("limits", .object(JSONObject([("cpu", .string("10m")), ("memory", .string("16Mi"))]))),
            ]))
            container["securityContext"] = .object(JSONObject([
                ("allowPrivilegeEscalation", .bool(false)),
                ("capabilities", .object(JSONObject([("drop", .array([.string("ALL")]))]))),
            ]))
            status["phase"] = .string("Pending")
        }
        spec["containers"] = .array([.object(container)])
        status["message"] = .string("revision \(revision)")
        return JSONObject([
            ("apiVersion", .string("v1")), ("kind", .string("Pod")),
            ("metadata", .object(JSONObject([
                ("name", .string(name(index))), ("namespace", .string(namespace)), ("labels", .object(labels)),
            ]))),
            ("spec", .object(spec)),
            ("status", .object(status)),
        ])
    }

    /// The field selector of watcher `node` (`nil` for an unselective watcher).
    static func fieldSelector(node: Int?) -> String? { node.map { "spec.nodeName=node-\($0)" } }

    /// The query that selects watcher `node`'s pods (`""` for an unselective watcher), URL-encoded,
    /// with its leading `&`.
    func selectorQuery(node: Int?) -> String {
        guard let node else { return "" }
        switch placement {
        case .nodeName: return "&fieldSelector=spec.nodeName%3Dnode-\(node)"
        case .label: return "&labelSelector=\(Self.nodeLabel.replacingOccurrences(of: "/", with: "%2F"))%3Dnode-\(node)"
        }
    }
}
