/// A served built-in kind: where it lives in the API and which message types describe it.
public struct KindSchema: Sendable {
    /// API group; empty for the core group.
    public let group: String
    public let version: String
    public let kind: String
    /// The plural resource name in paths.
    public let plural: String
    public let namespaced: Bool
    /// The object's message type.
    public let typeName: String
    /// The `<Kind>List` message type.
    public let listTypeName: String
    /// Whether the kind has a `status` (and so a `/status` subresource).
    public let hasStatus: Bool
    /// Whether kube-apiserver serves `/scale` (`autoscaling/v1` Scale) for it.
    public let hasScale: Bool

    /// `v1` or `apps/v1`.
    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
}
