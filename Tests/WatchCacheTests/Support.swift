import Testing
@testable import WatchCache

/// A registry on a manual clock, with helpers for the pod shapes the tests use.
final class Fixture: Sendable {
    let clock = ManualClock()
    let registry: Registry
    let pods: ResourceCache
    let configMaps: ResourceCache

    init(configuration: CacheConfiguration = CacheConfiguration()) {
        registry = try! Registry(configuration: configuration, clock: clock)
        pods = try! registry.register(.pods)
        configMaps = try! registry.register(.configMaps)
    }

    static func podJSON(_ name: String, namespace: String = "default", node: String = "", labels: [String: String] = [:],
                        phase: String = "Pending") -> JSONObject {
        var metadata = JSONObject([("name", .string(name)), ("namespace", .string(namespace))])
        if !labels.isEmpty {
            metadata["labels"] = .object(JSONObject(labels.sorted { $0.key < $1.key }.map { ($0.key, JSONValue.string($0.value)) }))
        }
        return JSONObject([
            ("metadata", .object(metadata)),
            ("spec", .object(JSONObject([("nodeName", .string(node))]))),
            ("status", .object(JSONObject([("phase", .string(phase))]))),
        ])
    }

    @discardableResult
    func createPod(_ name: String, namespace: String = "default", node: String = "", labels: [String: String] = [:]) -> KubeObject {
        try! registry.create(Self.podJSON(name, namespace: namespace, node: node, labels: labels), in: .pods)
    }

    /// Replaces the pod's node and labels (unconditional update).
    @discardableResult
    func updatePod(_ name: String, namespace: String = "default", node: String = "", labels: [String: String] = [:],
                   phase: String = "Pending") -> KubeObject {
        try! registry.update(Self.podJSON(name, namespace: namespace, node: node, labels: labels, phase: phase), in: .pods)
    }

    @discardableResult
    func deletePod(_ name: String, namespace: String = "default") -> KubeObject {
        try! registry.delete(.pods, namespace: namespace, name: name)
    }

    @discardableResult
    func createConfigMap(_ name: String) -> KubeObject {
        try! registry.create(JSONObject([("metadata", .object(JSONObject([("name", .string(name))])))]), in: .configMaps)
    }

    func watchPods(_ options: WatchOptions) throws(Status) -> Watcher {
        try pods.watch(options) {}
    }

    /// Moves time forward and runs the caches' time-driven work.
    func advance(_ duration: Duration) {
        clock.advance(by: duration)
        registry.tick()
    }
}

/// Everything the watcher has now (pulling through replays), and whether it ended.
func drain(_ w: Watcher) -> (events: [WatchEvent], end: WatchEndReason?) {
    var events: [WatchEvent] = []
    while true {
        let batch = w.next(maxEvents: 1000)
        events += batch.events
        if let end = batch.end { return (events, end) }
        if batch.isPending { return (events, nil) }
    }
}

/// `TYPE name@rv` for each event, for compact assertions.
func summary(_ events: [WatchEvent]) -> [String] {
    events.map { e in
        switch e.type {
        case .bookmark: "BOOKMARK@\(e.resourceVersion)"
        case .error: "ERROR \(e.status!.code)"
        default: "\(e.type.rawValue) \(e.object!.name)@\(e.resourceVersion)"
        }
    }
}

func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
