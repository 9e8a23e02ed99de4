import WatchCache

/// Parses `--resource` values: `[group/]version/plural=Kind[:cluster]`, e.g.
/// `apps/v1/statefulsets=StatefulSet` or `example.com/v1/widgets=Widget:cluster`.
public enum ResourceFlag {
    public static func parse(_ text: String) throws -> ResourceDescriptor {
        let sides = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        guard sides.count == 2 else { throw ResourceFlagError(text, "expected [group/]version/plural=Kind[:cluster]") }
        let path = sides[0].split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        var kind = String(sides[1])
        var namespaced = true
        if kind.hasSuffix(":cluster") {
            kind.removeLast(":cluster".count)
            namespaced = false
        }
        let group: String, version: String, plural: String
        switch path.count {
        case 2: (group, version, plural) = ("", path[0], path[1])
        case 3: (group, version, plural) = (path[0], path[1], path[2])
        default: throw ResourceFlagError(text, "expected [group/]version/plural before '='")
        }
        guard !version.isEmpty, !plural.isEmpty, !kind.isEmpty, plural == plural.lowercased(),
              kind.first?.isUppercase == true, !kind.contains(":") else {
            throw ResourceFlagError(text, "version, a lower-case plural and a capitalised Kind are required")
        }
        return ResourceDescriptor(group: group, version: version, plural: plural, kind: kind, namespaced: namespaced)
    }
}

/// A `--resource` value that cannot be used.
public struct ResourceFlagError: Error, CustomStringConvertible {
    public let description: String
    init(_ text: String, _ problem: String) { description = "invalid --resource \"\(text)\": \(problem)" }
}
