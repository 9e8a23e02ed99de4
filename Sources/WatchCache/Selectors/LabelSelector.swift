/// A Kubernetes label selector (`app=web,tier in (a,b),!canary`), parsed as `labels.Parse` does.
public struct LabelSelector: Hashable, Sendable, CustomStringConvertible {
    /// One requirement; all must hold.
    public struct Requirement: Hashable, Sendable {
        /// An operator, spelled as in the selector text.
        public enum Operator: String, Hashable, Sendable {
            /// `key=value`.
            case equals = "="
            /// `key==value` (the same as `=`).
            case doubleEquals = "=="
            /// `key!=value`: also true when the label is absent.
            case notEquals = "!="
            /// `key in (a,b)`.
            case `in` = "in"
            /// `key notin (a,b)`: also true when the label is absent.
            case notIn = "notin"
            /// `key`: the label is present.
            case exists = "exists"
            /// `!key`: the label is absent.
            case doesNotExist = "!"
            /// `key>N`: the value is an integer greater than N.
            case greaterThan = "gt"
            /// `key<N`: the value is an integer less than N.
            case lessThan = "lt"
        }
        /// The label key.
        public var key: String
        /// How the label is compared.
        public var op: Operator
        /// The values (one for `=`, `!=`, `gt`, `lt`; none for `exists` and `!`).
        public var values: [String]

        /// Whether `labels` satisfy this requirement.
        public func matches(_ labels: LabelSet) -> Bool {
            switch op {
            case .equals, .doubleEquals, .in:
                guard let v = labels[key] else { return false }
                return values.contains(v)
            case .notEquals, .notIn:
                guard let v = labels[key] else { return true }
                return !values.contains(v)
            case .exists: return labels[key] != nil
            case .doesNotExist: return labels[key] == nil
            case .greaterThan, .lessThan:
                guard let v = labels[key], let have = Int64(v), let want = values.first.flatMap({ Int64($0) }) else { return false }
                return op == .greaterThan ? have > want : have < want
            }
        }
    }

    /// The requirements, in the order written.
    public let requirements: [Requirement]

    /// The selector that matches everything.
    public static let everything = LabelSelector(requirements: [])

    init(requirements: [Requirement]) { self.requirements = requirements }

    /// The ``LabelSet/signature`` bits every matching label set has: those of its requirements
    /// that name a single value (`k=v`, `k==v`, `k in (v)`).
    var requiredSignature: UInt64 {
        var bits: UInt64 = 0
        for r in requirements where r.values.count == 1 {
            switch r.op {
            case .equals, .doubleEquals, .in: bits |= LabelSet.bits(key: r.key, value: r.values[0])
            default: break
            }
        }
        return bits
    }

    /// For the selector's most selective `in` requirement with several values (`k in (a,b)`), the
    /// signature bits of each value: a matching label set has all the bits of at least one of
    /// them. Empty when there is no such requirement.
    var alternativeSignatures: [UInt64] {
        let choices = requirements.filter { $0.op == .in && $0.values.count > 1 }
        guard let narrowest = choices.min(by: { $0.values.count < $1.values.count }) else { return [] }
        return narrowest.values.map { LabelSet.bits(key: narrowest.key, value: $0) }
    }

    /// Whether this selector matches every label set.
    public var isEverything: Bool { requirements.isEmpty }

    /// Whether `labels` satisfy every requirement.
    public func matches(_ labels: LabelSet) -> Bool {
        for r in requirements where !r.matches(labels) { return false }
        return true
    }

    /// Whether the labels in `dictionary` satisfy every requirement.
    public func matches(_ dictionary: [String: String]) -> Bool { matches(LabelSet(dictionary)) }

    public var description: String {
        requirements.map { r in
            switch r.op {
            case .exists: r.key
            case .doesNotExist: "!\(r.key)"
            case .in, .notIn: "\(r.key) \(r.op.rawValue) (\(r.values.joined(separator: ",")))"
            case .greaterThan: "\(r.key)>\(r.values[0])"
            case .lessThan: "\(r.key)<\(r.values[0])"
            default: "\(r.key)\(r.op.rawValue)\(r.values[0])"
            }
        }.joined(separator: ",")
    }

    /// Parses selector text; bad syntax or an invalid key or value is a 400 BadRequest `Status`
    /// whose message names the problem.
    public init(parsing text: String) throws(Status) {
        var parser = LabelSelectorParser(text)
        do {
            self.requirements = try parser.parse()
        } catch {
            throw Status.badRequest("unable to parse requirement: \(error.message)")
        }
    }
}

struct LabelSelectorParseError: Error {
    var message: String
}

/// The lexer and recursive-descent parser behind ``LabelSelector/init(parsing:)``.
struct LabelSelectorParser {
    enum Token: Equatable {
        case identifier(String)
        case not, notEquals, equals, doubleEquals, greaterThan, lessThan
        case `in`, notIn, open, close, comma, end

        var literal: String {
            switch self {
            case .identifier(let s): s
            case .not: "!"
            case .notEquals: "!="
            case .equals: "="
            case .doubleEquals: "=="
            case .greaterThan: ">"
            case .lessThan: "<"
            case .in: "in"
            case .notIn: "notin"
            case .open: "("
            case .close: ")"
            case .comma: ","
            case .end: ""
            }
        }
    }

    private var tokens: [Token] = []
    private var position = 0

    init(_ text: String) {
        let scalars = Array(text.unicodeScalars)
        var i = 0
        func isSpecial(_ c: Unicode.Scalar) -> Bool { "=!(),<> \t\n\r".unicodeScalars.contains(c) }
        while i < scalars.count {
            let c = scalars[i]
            switch c {
            case " ", "\t", "\n", "\r": i += 1
            case "(": tokens.append(.open); i += 1
            case ")": tokens.append(.close); i += 1
            case ",": tokens.append(.comma); i += 1
            case ">": tokens.append(.greaterThan); i += 1
            case "<": tokens.append(.lessThan); i += 1
            case "!":
                if i + 1 < scalars.count, scalars[i + 1] == "=" { tokens.append(.notEquals); i += 2 } else { tokens.append(.not); i += 1 }
            case "=":
                if i + 1 < scalars.count, scalars[i + 1] == "=" { tokens.append(.doubleEquals); i += 2 } else { tokens.append(.equals); i += 1 }
            default:
                var word = String.UnicodeScalarView()
                while i < scalars.count, !isSpecial(scalars[i]) { word.append(scalars[i]); i += 1 }
                let s = String(word)
                tokens.append(s == "in" ? .in : s == "notin" ? .notIn : .identifier(s))
            }
        }
        tokens.append(.end)
    }

    private var current: Token { tokens[position] }
    private mutating func consume() -> Token {
        let t = tokens[position]
        if position < tokens.count - 1 { position += 1 }
        return t
    }

    mutating func parse() throws(LabelSelectorParseError) -> [LabelSelector.Requirement] {
        var requirements: [LabelSelector.Requirement] = []
        if current == .end { return [] }
        while true {
            requirements.append(try parseRequirement())
            switch consume() {
            case .comma:
                if current == .end { throw LabelSelectorParseError(message: "found '', expected: identifier after ','") }
            case .end:
                return requirements
            case let other:
                throw LabelSelectorParseError(message: "found '\(other.literal)', expected: ',' or 'end of string'")
            }
        }
    }

    private mutating func parseRequirement() throws(LabelSelectorParseError) -> LabelSelector.Requirement {
        if current == .not {
            _ = consume()
            guard case .identifier(let key) = consume() else {
                throw LabelSelectorParseError(message: "found '\(tokens[position - 1].literal)', expected: identifier")
            }
            try Self.validateKey(key)
            return .init(key: key, op: .doesNotExist, values: [])
        }
        let keyToken = consume()
        guard case .identifier(let key) = keyToken else {
            throw LabelSelectorParseError(message: "found '\(keyToken.literal)', expected: identifier")
        }
        try Self.validateKey(key)
        if current == .comma || current == .end {
            return .init(key: key, op: .exists, values: [])
        }
        let opToken = consume()
        let op: LabelSelector.Requirement.Operator
        switch opToken {
        case .equals: op = .equals
        case .doubleEquals: op = .doubleEquals
        case .notEquals: op = .notEquals
        case .in: op = .in
        case .notIn: op = .notIn
        case .greaterThan: op = .greaterThan
        case .lessThan: op = .lessThan
        default:
            throw LabelSelectorParseError(message: "found '\(opToken.literal)', expected: in, notin, =, ==, !=, gt, lt")
        }
        var values: [String]
        if op == .in || op == .notIn {
            let open = consume()
            guard open == .open else { throw LabelSelectorParseError(message: "found '\(open.literal)' expected: '('") }
            values = []
            var expectValue = true
            loop: while true {
                let t = consume()
                switch t {
                case .identifier(let v) where expectValue: values.append(v); expectValue = false
                case .comma:
                    if expectValue { values.append("") }
                    expectValue = true
                case .close:
                    if expectValue, !values.isEmpty { values.append("") }
                    break loop
                default:
                    throw LabelSelectorParseError(message: "found '\(t.literal)', expected: ',', ')' or identifier")
                }
            }
            if values.isEmpty {
                throw LabelSelectorParseError(message: "values: Invalid value: \"\": for 'in', 'notin' operators, values set can't be empty")
            }
        } else {
            switch current {
            case .identifier(let v): _ = consume(); values = [v]
            case .comma, .end: values = [""]
            default: throw LabelSelectorParseError(message: "found '\(current.literal)', expected: identifier")
            }
            if op == .greaterThan || op == .lessThan, Int64(values[0]) == nil {
                throw LabelSelectorParseError(message: "values[0]: Invalid value: \"\(values[0])\": for 'Gt', 'Lt' operators, the value must be an integer")
            }
        }
        if op != .greaterThan, op != .lessThan {
            for (i, v) in values.enumerated() { try Self.validateValue(v, index: i) }
        }
        return .init(key: key, op: op, values: values)
    }

    static let nameMessage = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
    static let valueMessage = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
    static let prefixMessage = "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"

    /// A label key is a qualified name: an optional DNS-subdomain prefix and `/`, then a name of 1–63
    /// alphanumerics, `-`, `_`, `.` starting and ending alphanumeric.
    static func validateKey(_ key: String) throws(LabelSelectorParseError) {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        func invalid(_ detail: String) -> LabelSelectorParseError {
            LabelSelectorParseError(message: "key: Invalid value: \"\(key)\": \(detail)")
        }
        let name: Substring
        switch parts.count {
        case 1: name = parts[0]
        case 2:
            let prefix = parts[0]
            name = parts[1]
            if prefix.isEmpty { throw invalid("prefix part must be non-empty") }
            if prefix.utf8.count > 253 { throw invalid("prefix part must be no more than 253 characters") }
            if !isDNSSubdomain(prefix) { throw invalid(prefixMessage) }
        default:
            throw invalid("a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")
        }
        if name.isEmpty { throw invalid("name part must be non-empty") }
        if name.utf8.count > 63 { throw invalid("name part must be no more than 63 characters") }
        if !isLabelToken(name) { throw invalid(nameMessage) }
    }

    static func validateValue(_ value: String, index: Int) throws(LabelSelectorParseError) {
        if value.isEmpty { return }
        if value.utf8.count > 63 {
            throw LabelSelectorParseError(message: "values[\(index)][\(value)]: Invalid value: \"\(value)\": must be no more than 63 characters")
        }
        if !isLabelToken(value[...]) {
            throw LabelSelectorParseError(message: "values[\(index)]: Invalid value: \"\(value)\": \(valueMessage)")
        }
    }

    /// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
    static func isLabelToken(_ s: Substring) -> Bool {
        let bytes = Array(s.utf8)
        guard let first = bytes.first, let last = bytes.last, isAlphanumeric(first), isAlphanumeric(last) else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
    }

    static func isDNSSubdomain(_ s: Substring) -> Bool {
        s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            let bytes = Array(label.utf8)
            guard let first = bytes.first, let last = bytes.last else { return false }
            func lowerAlnum(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) }
            return lowerAlnum(first) && lowerAlnum(last) && bytes.allSatisfy { lowerAlnum($0) || $0 == UInt8(ascii: "-") }
        }
    }

    static func isAlphanumeric(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
    }
}
