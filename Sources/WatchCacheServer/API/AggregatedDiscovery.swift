import WatchCache

/// kube-apiserver's aggregated discovery (`apidiscovery.k8s.io/v2`, GA in 1.30): asked for it in
/// `Accept`, `/api` and `/apis` answer every group, version and resource in one
/// `APIGroupDiscoveryList`, so a client with an empty cache (kubectl, client-go's discovery) makes
/// two requests instead of one per group-version. Built from the per-group-version lists
/// (``Discovery/resourceList(group:version:)``), so the two forms always agree.
extension Discovery {
    /// The aggregated version `accept` asks for first (`v2` or `v2beta1`), or nil for the plain
    /// documents — clauses in the client's order, as kube-apiserver picks.
    static func aggregatedVersion(_ accept: String?) -> String? {
        guard let accept else { return nil }
        for range in MediaRange.parse(accept) where !range.isRefused {
            let parameters = range.parameters
            if range.type == "application/json", parameters["g"] == "apidiscovery.k8s.io", parameters["as"] == "APIGroupDiscoveryList",
               let version = parameters["v"], version == "v2" || version == "v2beta1" {
                return version
            }
            if range.coversJSON, parameters["as"] == nil { return nil }
        }
        return nil
    }

    /// The content type of an aggregated answer in `version`.
    static func aggregatedContentType(_ version: String) -> String {
        "application/json;g=apidiscovery.k8s.io;v=\(version);as=APIGroupDiscoveryList"
    }

    /// `/api` (`core`) or `/apis` as an `APIGroupDiscoveryList` in `version`.
    func aggregated(core: Bool, version: String) -> JSONValue {
        var groups: [(name: String, versions: [String])] = []
        if core {
            groups = [("", ["v1"])]
        } else {
            for (g, v) in groupVersions {
                if let i = groups.firstIndex(where: { $0.name == g }) { groups[i].versions.append(v) } else { groups.append((g, [v])) }
            }
        }
        let items: [JSONValue] = groups.map { group in
            var metadata = JSONObject()
            if !group.name.isEmpty { metadata["name"] = .string(group.name) }
            metadata["creationTimestamp"] = .null
            return .object(JSONObject([
                ("metadata", .object(metadata)),
                ("versions", .array(group.versions.map { v in
                    .object(JSONObject([
                        ("version", .string(v)),
                        ("resources", .array(Self.aggregatedResources(resourceList(group: group.name, version: v), group: group.name, version: v))),
                        ("freshness", .string("Current")),
                    ]))
                })),
            ]))
        }
        return .object(JSONObject([
            ("kind", .string("APIGroupDiscoveryList")), ("apiVersion", .string("apidiscovery.k8s.io/\(version)")),
            ("metadata", .object(JSONObject())), ("items", .array(items)),
        ]))
    }

    /// An `APIResourceList`'s entries as aggregated discovery's resources: each resource with its
    /// subresources (`pods/status`) inside it, kinds as `responseKind`, `scope` for `namespaced`.
    private static func aggregatedResources(_ list: JSONValue?, group: String, version: String) -> [JSONValue] {
        let entries = list?["resources"]?.arrayValue ?? []
        func responseKind(_ entry: JSONValue) -> JSONValue {
            .object(JSONObject([
                ("group", .string(entry["group"]?.stringValue ?? group)),
                ("version", .string(entry["version"]?.stringValue ?? version)),
                ("kind", .string(entry["kind"]?.stringValue ?? "")),
            ]))
        }
        return entries.compactMap { entry -> JSONValue? in
            guard let name = entry["name"]?.stringValue, !name.contains("/") else { return nil }
            var resource = JSONObject([
                ("resource", .string(name)), ("responseKind", responseKind(entry)),
                ("scope", .string(entry["namespaced"] == .bool(true) ? "Namespaced" : "Cluster")),
                ("singularResource", entry["singularName"] ?? .string("")),
                ("verbs", entry["verbs"] ?? .array([])),
            ])
            if let shortNames = entry["shortNames"] { resource["shortNames"] = shortNames }
            if let categories = entry["categories"] { resource["categories"] = categories }
            let subresources: [JSONValue] = entries.compactMap { sub in
                guard let subName = sub["name"]?.stringValue, subName.hasPrefix(name + "/") else { return nil }
                return .object(JSONObject([
                    ("subresource", .string(String(subName.dropFirst(name.count + 1)))), ("responseKind", responseKind(sub)),
                    ("verbs", sub["verbs"] ?? .array([])),
                ]))
            }
            if !subresources.isEmpty { resource["subresources"] = .array(subresources) }
            return .object(resource)
        }
    }
}
