/// Where a Kubernetes API path points.
enum ResourcePath: Equatable {
    case apiVersions                                   // /api
    case groupList                                     // /apis
    case group(String)                                 // /apis/{group}
    case resourceList(group: String, version: String)  // /api/v1, /apis/{group}/{version}
    /// A collection (`name == nil`) or one object, cluster-wide or in a namespace, or one of the
    /// object's subresources (`status`, `scale`).
    case resource(group: String, version: String, plural: String, namespace: String?, name: String?, subresource: String? = nil)
    case version, health(String), metrics
    /// `/openapi/v3` (`nil`) or one group-version's document (`api/v1`, `apis/apps/v1`).
    case openAPI(String?)
    /// `/openapi/v2`: the one Swagger 2.0 document.
    case openAPIV2

    /// Parses `path`; `nil` if it is not an API path.
    init?(_ path: String) {
        var parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        switch parts.first {
        case "version" where parts.count == 1: self = .version; return
        case "metrics" where parts.count == 1: self = .metrics; return
        case "healthz", "livez", "readyz": self = .health(parts[0]); return
        case "openapi" where parts.count == 2 && parts[1] == "v2": self = .openAPIV2; return
        case "openapi" where parts.count >= 2 && parts[1] == "v3":
            self = .openAPI(parts.count == 2 ? nil : parts.dropFirst(2).joined(separator: "/"))
            return
        case "api":
            parts.removeFirst()
            if parts.isEmpty { self = .apiVersions; return }
            let version = parts.removeFirst()
            self.init(group: "", version: version, rest: parts)
        case "apis":
            parts.removeFirst()
            if parts.isEmpty { self = .groupList; return }
            let group = parts.removeFirst()
            if parts.isEmpty { self = .group(group); return }
            let version = parts.removeFirst()
            self.init(group: group, version: version, rest: parts)
        default:
            return nil
        }
    }

    private init?(group: String, version: String, rest: [String]) {
        switch rest.count {
        case 0: self = .resourceList(group: group, version: version)
        case 1: self = .resource(group: group, version: version, plural: rest[0], namespace: nil, name: nil)
        case 2 where rest[0] != "namespaces": self = .resource(group: group, version: version, plural: rest[0], namespace: nil, name: rest[1])
        case 2: self = .resource(group: group, version: version, plural: "namespaces", namespace: nil, name: rest[1])
        // A namespace's own subresources: `/api/v1/namespaces/{name}/status` (never a resource named `status`).
        case 3 where rest[0] == "namespaces" && Self.namespaceSubresources.contains(rest[2]):
            self = .resource(group: group, version: version, plural: "namespaces", namespace: nil, name: rest[1], subresource: rest[2])
        case 3 where rest[0] == "namespaces": self = .resource(group: group, version: version, plural: rest[2], namespace: rest[1], name: nil)
        case 4 where rest[0] == "namespaces": self = .resource(group: group, version: version, plural: rest[2], namespace: rest[1], name: rest[3])
        case 3 where rest[0] != "namespaces":
            self = .resource(group: group, version: version, plural: rest[0], namespace: nil, name: rest[1], subresource: rest[2])
        case 5 where rest[0] == "namespaces":
            self = .resource(group: group, version: version, plural: rest[2], namespace: rest[1], name: rest[3], subresource: rest[4])
        default: return nil
        }
    }

    private static let namespaceSubresources: Set<String> = ["status", "finalize"]
}
