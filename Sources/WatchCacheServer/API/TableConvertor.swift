#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import WatchCache

/// Kubernetes' `meta.k8s.io` Table form of objects, lists and watch events — what `kubectl get`
/// prints. Every resource has Name and Age columns (kube-apiserver's default printer); pods add
/// Ready, Status and Restarts, and IP and Node for `-o wide`; namespaces add Status.
///
/// Rows carry the object as `PartialObjectMetadata` unless `includeObject` says `None` or `Object`.
/// In a watch only the first event carries the column definitions, as kube-apiserver sends them
/// (kubectl reuses the last ones it saw).
struct TableConvertor: Sendable {
    enum IncludeObject: String, Sendable { case none = "None", metadata = "Metadata", object = "Object" }

    struct Column: Sendable {
        let name: String
        let type: String
        var format = ""
        let description: String
        var priority = 0
        let cell: @Sendable (KubeObject, JSONValue, Int) -> JSONValue
    }

    /// `meta.k8s.io/v1` or `meta.k8s.io/v1beta1`.
    let apiVersion: String
    let include: IncludeObject
    let columns: [Column]

    init(resource: ResourceDescriptor, version: String, query: [(String, String)]) throws(Status) {
        apiVersion = "meta.k8s.io/\(version)"
        let given = query.last { $0.0 == "includeObject" }?.1 ?? ""
        guard let include = given.isEmpty ? .metadata : IncludeObject(rawValue: given) else {
            throw Status.badRequest("includeObject: Unsupported value: \"\(given)\": supported values: \"None\", \"Metadata\", \"Object\"")
        }
        self.include = include
        columns = Self.columns(for: resource)
    }

    /// A LIST as a Table: one row per item, the list's version and continue token.
    func list(_ result: ListResult) -> [UInt8] {
        var metadata = JSONObject([("resourceVersion", .string(result.resourceVersion.description))])
        if let token = result.continueToken { metadata["continue"] = .string(token) }
        if let remaining = result.remainingItemCount { metadata["remainingItemCount"] = .number(String(remaining)) }
        return table(metadata: metadata, objects: result.items, headers: true)
    }

    /// One object as a Table with one row.
    func object(_ object: KubeObject) -> [UInt8] {
        table(metadata: JSONObject([("resourceVersion", .string(object.resourceVersion.description))]), objects: [object], headers: true)
    }

    /// A transform for a watch's events: changes become one-row Tables (column definitions on the
    /// first only), bookmarks become empty Tables at their version, errors stay `Status` objects.
    func watchTransform() -> @Sendable (WatchEvent) -> WatchEvent {
        let headersSent = Mutex(false)
        return { event in
            let metadata = JSONObject([("resourceVersion", .string(event.resourceVersion.description))])
            switch event.type {
            case .error:
                return event
            case .bookmark:
                return event.replacingBody(table(metadata: metadata, objects: [], headers: false))
            case .added, .modified, .deleted:
                guard let object = event.object else { return event }
                let headers = headersSent.withLock { sent in
                    defer { sent = true }
                    return !sent
                }
                return event.replacingBody(table(metadata: metadata, objects: [object], headers: headers))
            }
        }
    }

    private func table(metadata: JSONObject, objects: [KubeObject], headers: Bool) -> [UInt8] {
        let now = Int(time(nil))
        let rows: [JSONValue] = objects.map { object in
            let json = JSONValue.object(object.json)
            var row = JSONObject([("cells", .array(columns.map { $0.cell(object, json, now) }))])
            switch include {
            case .none: break
            case .object: row["object"] = json
            case .metadata:
                row["object"] = .object(JSONObject([
                    ("kind", .string("PartialObjectMetadata")), ("apiVersion", .string(apiVersion)),
                    ("metadata", json["metadata"] ?? .object(JSONObject())),
                ]))
            }
            return .object(row)
        }
        let definitions: JSONValue = headers ? .array(columns.map { column in
            .object(JSONObject([
                ("name", .string(column.name)), ("type", .string(column.type)), ("format", .string(column.format)),
                ("description", .string(column.description)), ("priority", .number(String(column.priority))),
            ]))
        }) : .null
        return JSONWriter.encode(.object(JSONObject([
            ("kind", .string("Table")), ("apiVersion", .string(apiVersion)), ("metadata", .object(metadata)),
            ("columnDefinitions", definitions), ("rows", .array(rows)),
        ])))
    }

    // MARK: - Columns

    private static let name = Column(
        name: "Name", type: "string", format: "name",
        description: "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically.",
        cell: { object, _, _ in .string(object.name) })

    private static let age = Column(
        name: "Age", type: "string",
        description: "CreationTimestamp is a timestamp representing the server time when this object was created.",
        cell: { _, json, now in
            guard let text = json["metadata"]?["creationTimestamp"]?.stringValue, let created = parseRFC3339(text) else { return .string("<unknown>") }
            return .string(humanDuration(seconds: now - created))
        })

    static func columns(for resource: ResourceDescriptor) -> [Column] {
        switch (resource.group, resource.kind) {
        case ("", "Pod"):
            return [name, podReady, podStatus, podRestarts, age, podIP, podNode]
        case ("", "Namespace"):
            return [name, Column(name: "Status", type: "string", description: "The status of the namespace",
                                 cell: { _, json, _ in .string(json["status"]?["phase"]?.stringValue ?? "") }), age]
        default:
            return [name, age]
        }
    }

    private static let podReady = Column(
        name: "Ready", type: "string", description: "The aggregate readiness state of this pod for accepting traffic.",
        cell: { _, json, _ in
            let containers = json.value(atComponents: ["spec", "containers"])?.arrayValue?.count ?? 0
            let ready = (json.value(atComponents: ["status", "containerStatuses"])?.arrayValue ?? []).filter { $0["ready"] == .bool(true) }.count
            return .string("\(ready)/\(containers)")
        })

    private static let podStatus = Column(
        name: "Status", type: "string", description: "The aggregate status of the containers in this pod.",
        cell: { object, json, _ in .string(podPhase(object, json)) })

    private static let podRestarts = Column(
        name: "Restarts", type: "string", description: "The number of times the containers in this pod have been restarted.",
        cell: { _, json, _ in
            let statuses = json.value(atComponents: ["status", "containerStatuses"])?.arrayValue ?? []
            let restarts = statuses.reduce(0) { $0 + (Int($1["restartCount"]?.fieldText ?? "") ?? 0) }
            return .number(String(restarts))
        })

    private static let podIP = Column(
        name: "IP", type: "string", description: "IP address allocated to the pod.", priority: 1,
        cell: { _, json, _ in .string(json.value(atComponents: ["status", "podIP"])?.stringValue ?? "<none>") })

    private static let podNode = Column(
        name: "Node", type: "string", description: "Name of the node this pod runs on.", priority: 1,
        cell: { object, _, _ in
            let node = object.fieldValue("spec.nodeName") ?? ""
            return .string(node.isEmpty ? "<none>" : node)
        })

    /// kubectl's STATUS for a pod: the phase, or a more telling reason from the pod or its containers.
    static func podPhase(_ object: KubeObject, _ json: JSONValue) -> String {
        var reason = json.value(atComponents: ["status", "reason"])?.stringValue ?? json.value(atComponents: ["status", "phase"])?.stringValue ?? ""
        for status in json.value(atComponents: ["status", "containerStatuses"])?.arrayValue ?? [] {
            if let waiting = status["state"]?["waiting"]?["reason"]?.stringValue, !waiting.isEmpty {
                reason = waiting
            } else if let terminated = status["state"]?["terminated"]?.objectValue {
                if let r = terminated["reason"]?.stringValue, !r.isEmpty {
                    reason = r
                } else if let code = terminated["exitCode"]?.fieldText {
                    reason = "ExitCode:\(code)"
                }
            }
        }
        if object.deletionTimestamp != nil { reason = "Terminating" }
        return reason.isEmpty ? "Unknown" : reason
    }

    // MARK: - Time

    /// Seconds since the epoch of an RFC 3339 UTC time (`2026-11-24T17:28:00Z`, fractions ignored).
    static func parseRFC3339(_ text: String) -> Int? {
        WallClock.secondsSince1970(rfc3339: text).map { Int($0) }
    }

    /// An age as kubectl shows it (`45s`, `3m20s`, `5h`, `12d`, `2y30d`), the rules of
    /// apimachinery's `duration.HumanDuration`.
    static func humanDuration(seconds: Int) -> String {
        if seconds < -1 { return "<invalid>" }
        if seconds < 0 { return "0s" }
        if seconds < 120 { return "\(seconds)s" }
        let minutes = seconds / 60
        if minutes < 10 {
            let s = seconds % 60
            return s == 0 ? "\(minutes)m" : "\(minutes)m\(s)s"
        }
        if minutes < 180 { return "\(minutes)m" }
        let hours = minutes / 60
        if hours < 8 {
            let m = minutes % 60
            return m == 0 ? "\(hours)h" : "\(hours)h\(m)m"
        }
        if hours < 48 { return "\(hours)h" }
        if hours < 24 * 8 {
            let h = hours % 24
            return h == 0 ? "\(hours / 24)d" : "\(hours / 24)d\(h)h"
        }
        if hours < 24 * 365 * 2 { return "\(hours / 24)d" }
        if hours < 24 * 365 * 8 {
            let d = (hours / 24) % 365
            return d == 0 ? "\(hours / 24 / 365)y" : "\(hours / 24 / 365)y\(d)d"
        }
        return "\(hours / 24 / 365)y"
    }
}
