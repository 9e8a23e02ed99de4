import WatchCache

/// What goes wrong talking to etcd.
public enum EtcdError: Error, CustomStringConvertible, Sendable {
    /// The flags do not describe a usable etcd.
    case configuration(String)
    /// The requested revision has been compacted away (etcd's `ErrCompacted`).
    case compacted(ResourceVersion)
    /// etcd answered something this client cannot use.
    case protocolViolation(String)
    /// A stored value is not an object of the resource.
    case undecodable(key: String, reason: String)

    public var description: String {
        switch self {
        case .configuration(let message): message
        case .compacted(let revision): "etcd compacted its history up to revision \(revision)"
        case .protocolViolation(let message): "etcd: \(message)"
        case .undecodable(let key, let reason): "etcd value at \(key) is not a stored object: \(reason)"
        }
    }
}
