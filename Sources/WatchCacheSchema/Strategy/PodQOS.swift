import WatchCache

/// A pod's quality-of-service class, as kube-apiserver records it in `status.qosClass` when the
/// pod is created: `BestEffort` without any CPU or memory request or limit, `Guaranteed` when every
/// container limits both and requests exactly its limits, `Burstable` otherwise.
enum PodQOS {
    static func qosClass(of pod: JSONObject) -> String {
        let spec = pod["spec"]?.objectValue ?? JSONObject()
        let containers = (spec["initContainers"]?.arrayValue ?? []) + (spec["containers"]?.arrayValue ?? [])
        var requests: [String: Double] = [:]
        var limits: [String: Double] = [:]
        var guaranteed = true
        for container in containers {
            let resources = container["resources"]
            for (name, value) in resources?["requests"]?.objectValue?.members ?? JSONObject().members {
                guard supported(name), let amount = value.stringValue.flatMap(Quantity.value) ?? number(value), amount > 0 else { continue }
                requests[name, default: 0] += amount
            }
            var limited: Set<String> = []
            for (name, value) in resources?["limits"]?.objectValue?.members ?? JSONObject().members {
                guard supported(name), let amount = value.stringValue.flatMap(Quantity.value) ?? number(value), amount > 0 else { continue }
                limited.insert(name)
                limits[name, default: 0] += amount
            }
            if !limited.isSuperset(of: ["cpu", "memory"]) { guaranteed = false }
        }
        if requests.isEmpty && limits.isEmpty { return "BestEffort" }
        if guaranteed {
            for (name, request) in requests where limits[name] != request {
                guaranteed = false
            }
        }
        return guaranteed && requests.count == limits.count ? "Guaranteed" : "Burstable"
    }

    private static func supported(_ name: String) -> Bool { name == "cpu" || name == "memory" }

    private static func number(_ value: JSONValue) -> Double? {
        if case .number(let text) = value { return Double(text) }
        return nil
    }
}
