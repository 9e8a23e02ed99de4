/// A point in the global, strictly increasing history of writes (like an etcd revision).
///
/// On the wire it is a decimal string. `0` is special in requests ("any version").
public struct ResourceVersion: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ value: UInt64) { self.rawValue = value }

    /// Parses the wire form: a decimal `UInt64` with no sign, spaces or leading `+`.
    public init?(wire: some StringProtocol) {
        guard !wire.isEmpty, wire.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let value = UInt64(wire) else { return nil }
        self.rawValue = value
    }

    /// The version before any write.
    public static let zero = ResourceVersion(0)

    /// The next version.
    public var next: ResourceVersion { ResourceVersion(rawValue + 1) }

    public var description: String { String(rawValue) }

    public static func < (lhs: ResourceVersion, rhs: ResourceVersion) -> Bool { lhs.rawValue < rhs.rawValue }
}
