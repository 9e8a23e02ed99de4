/// A JSON document, kept exactly as written: numbers keep their literal text and object members
/// keep their order, so an object read and written back is byte-for-byte what the client sent
/// (apart from insignificant whitespace).
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    /// A number, as its literal text (`42`, `-1.5e3`): no precision is lost to `Double`.
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// The member `key` when this is an object, else `nil`.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let object) = self else { return nil }
        return object[key]
    }

    /// The value at a dotted path (`metadata.name`, `spec.nodeName`) through nested objects.
    public func value(atPath path: String) -> JSONValue? {
        value(atComponents: path.split(separator: ".", omittingEmptySubsequences: false).map(String.init))
    }

    /// The value at a path given as its components (`["spec", "nodeName"]`).
    public func value(atComponents components: [String]) -> JSONValue? {
        var current = self
        for component in components {
            guard case .object(let object) = current, let next = object[component] else { return nil }
            current = next
        }
        return current
    }

    /// The string payload, if this is a string.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The elements, if this is an array.
    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The object payload, if this is an object.
    public var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// The value as text the way Kubernetes field selectors see it: strings as themselves,
    /// numbers and booleans as their literal, `null` as empty. Arrays and objects have no field text.
    public var fieldText: String? {
        switch self {
        case .string(let s): return s
        case .number(let n): return n
        case .bool(let b): return b ? "true" : "false"
        case .null: return ""
        case .array, .object: return nil
        }
    }
}

/// A JSON object whose members keep their insertion order.
///
/// Kubernetes objects have a handful of members per level, so lookup is a linear scan: that is
/// faster than hashing at these sizes and keeps the original order for output.
public struct JSONObject: Sendable, Hashable {
    public private(set) var keys: [String]
    public private(set) var values: [JSONValue]

    /// An empty object.
    public init() {
        keys = []
        values = []
    }

    /// An object with `members` in the given order; a repeated key keeps its last value.
    public init(_ members: [(String, JSONValue)]) {
        self.init()
        keys.reserveCapacity(members.count)
        values.reserveCapacity(members.count)
        for (k, v) in members { self[k] = v }
    }

    /// The number of members.
    public var count: Int { keys.count }

    /// Gets, replaces, appends (new key) or removes (`nil`) a member.
    public subscript(key: String) -> JSONValue? {
        get {
            guard let i = keys.firstIndex(of: key) else { return nil }
            return values[i]
        }
        set {
            if let i = keys.firstIndex(of: key) {
                if let newValue {
                    values[i] = newValue
                } else {
                    keys.remove(at: i)
                    values.remove(at: i)
                }
            } else if let newValue {
                keys.append(key)
                values.append(newValue)
            }
        }
    }

    /// The members in order.
    public var members: Zip2Sequence<[String], [JSONValue]> { zip(keys, values) }
}
