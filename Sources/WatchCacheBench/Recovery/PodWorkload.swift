import WatchCache

/// The objects of the recovery workload: `objectsPerWatcher` pods on each of `watchers` nodes, in
/// namespace `bench`, shaped like small real pods; each write changes one pod's status (over HTTP, a PUT to
/// `pods/{name}/status`, as kubelets report it).
struct PodWorkload {
    static let namespace = "bench"
    let watchers: Int
    let objectsPerWatcher: Int

    var objects: Int { watchers * objectsPerWatcher }

    func name(_ index: Int) -> String { "pod-\(index / objectsPerWatcher)-\(index % objectsPerWatcher)" }
    func node(_ index: Int) -> Int { index / objectsPerWatcher }

    /// Pod `index` at its `revision`-th write.
    func pod(_ index: Int, revision: Int) -> JSONObject {
        let node = self.node(index)
        return JSONObject([
            ("apiVersion", .string("v1")), ("kind", .string("Pod")),
            ("metadata", .object(JSONObject([
                ("name", .string(name(index))), ("namespace", .string(Self.namespace)),
                ("labels", .object(JSONObject([("app", .string("bench")), ("node", .string("node-\(node)"))]))),
            ]))),
            ("spec", .object(JSONObject([
                ("nodeName", .string("node-\(node)")),
                ("containers", .array([.object(JSONObject([
                    ("name", .string("app")), ("image", .string("registry.k8s.io/pause:3.10")),
                    ("resources", .object(JSONObject([("requests", .object(JSONObject([("cpu", .string("10m")), ("memory", .string("16Mi"))])))]))),
                ]))])),
            ]))),
            ("status", .object(JSONObject([
                ("phase", .string("Running")), ("podIP", .string("10.\(node / 250 % 250).\(node % 250).\(index % objectsPerWatcher + 2)")),
                ("message", .string("revision \(revision)")),
            ]))),
        ])
    }

    /// The field selector of watcher `node` (`nil` for an unselective watcher).
    static func fieldSelector(node: Int?) -> String? { node.map { "spec.nodeName=node-\($0)" } }
}
