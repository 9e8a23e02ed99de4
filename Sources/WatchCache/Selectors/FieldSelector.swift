/// A Kubernetes field selector (`spec.nodeName=node-1,status.phase!=Running`), parsed as
/// `fields.ParseSelector` does: terms split on unescaped commas, operators `=`, `==`, `!=`, and
/// `\,` `\=` `\\` escapes in values.
public struct FieldSelector: Hashable, Sendable, CustomStringConvertible {
    /// One term; all must hold.
    public struct Requirement: Hashable, Sendable {
        /// The field path (`spec.nodeName`).
        public var field: String
        /// `true` for `=`/`==`, `false` for `!=`.
        public var equals: Bool
        /// The value compared, unescaped.
        public var value: String
        /// Where the field's value is in the objects' selectable-field values (resolved once, at parse).
        var position = 0
    }

    /// The terms, in the order written.
    public let requirements: [Requirement]

    /// The selector that matches everything.
    public static let everything = FieldSelector(requirements: [])

    init(requirements: [Requirement]) { self.requirements = requirements }

    /// Whether the selector has no terms.
    public var isEverything: Bool { requirements.isEmpty }

    public var description: String {
        requirements.map { "\($0.field)\($0.equals ? "=" : "!=")\($0.value)" }.joined(separator: ",")
    }

    /// The value an exact (`=`) requirement pins `field` to, if there is one.
    public func exactValue(for field: String) -> String? {
        requirements.first { $0.field == field && $0.equals }?.value
    }

    /// Parses selector text (400 BadRequest on bad syntax) and checks every field is selectable
    /// for `resource` (400 `field label not supported: F`).
    public init(parsing text: String, for resource: ResourceDescriptor) throws(Status) {
        var requirements: [Requirement] = []
        for term in try Self.split(text, on: ",") where !term.isEmpty {
            requirements.append(try Self.parseTerm(term))
        }
        for i in requirements.indices {
            guard let position = resource.allSelectableFields.firstIndex(of: requirements[i].field) else {
                throw Status.badRequest("field label not supported: \(requirements[i].field)")
            }
            requirements[i].position = position
        }
        self.requirements = requirements
    }

    /// The ``KubeObject/fieldSignature`` bits every matching object has: those of its `=` terms.
    var requiredSignature: UInt64 {
        var bits: UInt64 = 0
        for r in requirements where r.equals { bits |= Self.bits(position: r.position, value: r.value) }
        return bits
    }

    /// The two signature bits of the selectable field at `position` having `value` (from one hash,
    /// stable within the process).
    static func bits(position: Int, value: String) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(position)
        hasher.combine(value)
        let h = UInt64(truncatingIfNeeded: hasher.finalize())
        return 1 << (h & 63) | 1 << ((h >> 6) & 63)
    }

    /// Whether `object` (of the resource this selector was parsed for) satisfies every term.
    public func matches(_ object: KubeObject) -> Bool {
        for r in requirements where (object.fieldValues[r.position] == r.value) != r.equals { return false }
        return true
    }

    private static func split(_ text: String, on separator: Character) throws(Status) -> [String] {
        var parts: [String] = []
        var current = ""
        var escaped = false
        for c in text {
            if escaped {
                current.append("\\")
                current.append(c)
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else if c == separator {
                parts.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        if escaped { current.append("\\") }
        parts.append(current)
        return parts
    }

    private static func parseTerm(_ term: String) throws(Status) -> Requirement {
        // Find the first unescaped operator, preferring "!=" and "==" over "=".
        let chars = Array(term)
        var i = 0
        while i < chars.count {
            if chars[i] == "\\" { i += 2; continue }
            for (op, equals) in [("!=", false), ("==", true), ("=", true)] {
                let opChars = Array(op)
                if i + opChars.count <= chars.count, Array(chars[i..<(i + opChars.count)]) == opChars {
                    let field = String(chars[0..<i])
                    let value = try unescape(String(chars[(i + opChars.count)...]))
                    return Requirement(field: field, equals: equals, value: value)
                }
            }
            i += 1
        }
        throw Status.badRequest("invalid selector: '\(term)'; can't understand '\(term)'")
    }

    private static func unescape(_ value: String) throws(Status) -> String {
        var out = ""
        var escaped = false
        for c in value {
            if escaped {
                guard c == "\\" || c == "," || c == "=" else {
                    throw Status.badRequest("invalid field selector: invalid escape sequence: \\\(c)")
                }
                out.append(c)
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else if c == "," || c == "=" {
                throw Status.badRequest("invalid field selector: unescaped \(c) in value: \(value)")
            } else {
                out.append(c)
            }
        }
        if escaped { throw Status.badRequest("invalid field selector: trailing backslash in value: \(value)") }
        return out
    }
}
