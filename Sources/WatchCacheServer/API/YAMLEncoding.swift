import WatchCache

/// JSON documents written as YAML, for clients that ask for `application/yaml` — what
/// kube-apiserver writes through `sigs.k8s.io/yaml`: block style, two-space indentation, list
/// items at their key's indentation, mapping keys in sorted order.
///
/// Strings are written plain only when no YAML 1.1 or 1.2 reader could take them for anything else
/// (a number, a boolean, null, a date, an indicator); every other string is double-quoted with
/// escapes, so a reader gets back exactly the JSON's values.
enum YAMLEncoding {
    /// `value` as a YAML document.
    static func encode(_ value: JSONValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(4096)
        switch value {
        case .object(let o) where o.count > 0:
            writeMapping(o, indent: 0, into: &out)
        case .array(let a) where !a.isEmpty:
            writeSequence(a, indent: 0, into: &out)
        default:
            writeScalar(value, into: &out)
            out.append(newline)
        }
        return out
    }

    /// The JSON `body` as YAML; nil when it is not JSON.
    static func convert(_ body: [UInt8]) -> [UInt8]? {
        guard let value = try? JSONParser.parse(body) else { return nil }
        return encode(value)
    }

    private static let newline = UInt8(ascii: "\n")
    private static let space = UInt8(ascii: " ")

    /// Members from the current line on, each on its own line at `indent`; the first one's
    /// indentation is already written when `continuing` (after a `- `).
    private static func writeMapping(_ object: JSONObject, indent: Int, continuing: Bool = false, into out: inout [UInt8]) {
        let order = object.keys.indices.sorted { object.keys[$0].utf8.lexicographicallyPrecedes(object.keys[$1].utf8) }
        for (n, i) in order.enumerated() {
            if n > 0 || !continuing { out.append(contentsOf: repeatElement(space, count: indent)) }
            writeString(object.keys[i], into: &out)
            out.append(UInt8(ascii: ":"))
            let value = object.values[i]
            switch value {
            case .object(let o) where o.count > 0:
                out.append(newline)
                writeMapping(o, indent: indent + 2, into: &out)
            case .array(let a) where !a.isEmpty:
                // As go-yaml writes it: a mapping's list at the mapping's indentation.
                out.append(newline)
                writeSequence(a, indent: indent, into: &out)
            default:
                out.append(space)
                writeScalar(value, into: &out)
                out.append(newline)
            }
        }
    }

    private static func writeSequence(_ items: [JSONValue], indent: Int, continuing: Bool = false, into out: inout [UInt8]) {
        for (n, item) in items.enumerated() {
            if n > 0 || !continuing { out.append(contentsOf: repeatElement(space, count: indent)) }
            out.append(UInt8(ascii: "-"))
            out.append(space)
            switch item {
            case .object(let o) where o.count > 0:
                writeMapping(o, indent: indent + 2, continuing: true, into: &out)
            case .array(let a) where !a.isEmpty:
                writeSequence(a, indent: indent + 2, continuing: true, into: &out)
            default:
                writeScalar(item, into: &out)
                out.append(newline)
            }
        }
    }

    private static func writeScalar(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n): out.append(contentsOf: n.utf8)
        case .string(let s): writeString(s, into: &out)
        case .object: out.append(contentsOf: "{}".utf8)
        case .array: out.append(contentsOf: "[]".utf8)
        }
    }

    static func writeString(_ s: String, into out: inout [UInt8]) {
        if isPlainSafe(s) {
            out.append(contentsOf: s.utf8)
            return
        }
        out.append(UInt8(ascii: "\""))
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out.append(contentsOf: #"\""#.utf8)
            case "\\": out.append(contentsOf: #"\\"#.utf8)
            case "\n": out.append(contentsOf: #"\n"#.utf8)
            case "\t": out.append(contentsOf: #"\t"#.utf8)
            case "\r": out.append(contentsOf: #"\r"#.utf8)
            case _ where scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value)
                || scalar.value == 0x2028 || scalar.value == 0x2029 || scalar.value == 0xFEFF:
                // C0/C1 controls, YAML's line and paragraph separators and the byte-order mark.
                out.append(contentsOf: "\\u".utf8)
                out.append(contentsOf: hex4(scalar.value).utf8)
            default:
                out.append(contentsOf: String(scalar).utf8)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func hex4(_ v: UInt32) -> String {
        let digits = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// Words YAML 1.1 (go-yaml v2, PyYAML) reads as booleans, null, or special floats.
    private static let reserved: Set<String> = [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", "=", "<<",
        ".inf", "-.inf", "+.inf", ".nan",
    ]

    /// Whether `s` reads back as this string when written plain in block context.
    static func isPlainSafe(_ s: String) -> Bool {
        let bytes = Array(s.utf8)
        guard let first = bytes.first, let last = bytes.last else { return false }
        if reserved.contains(s.lowercased()) { return false }
        if first == space || last == space || last == UInt8(ascii: ":") { return false }
        // Anything that may be a number, a date or a sexagesimal: starts with a digit, or a sign
        // or dot before a digit or dot.
        func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
        if isDigit(first) { return false }
        if first == UInt8(ascii: "+") || first == UInt8(ascii: "-") || first == UInt8(ascii: ".") {
            guard bytes.count > 1 else { return false }
            if isDigit(bytes[1]) || bytes[1] == UInt8(ascii: ".") { return false }
        }
        // Indicators that cannot start a plain scalar; `-`, `?` and `:` may, before a non-space.
        switch first {
        case UInt8(ascii: ","), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "{"), UInt8(ascii: "}"),
             UInt8(ascii: "#"), UInt8(ascii: "&"), UInt8(ascii: "*"), UInt8(ascii: "!"), UInt8(ascii: "|"),
             UInt8(ascii: ">"), UInt8(ascii: "'"), UInt8(ascii: "\""), UInt8(ascii: "%"), UInt8(ascii: "@"),
             UInt8(ascii: "`"):
            return false
        case UInt8(ascii: "-"), UInt8(ascii: "?"), UInt8(ascii: ":"):
            if bytes.count == 1 || bytes[1] == space { return false }
        default:
            break
        }
        var previous: UInt8 = 0
        for b in bytes {
            // Controls and tabs; non-ASCII is quoted too (line separators, BOM, look-alikes).
            if b < 0x20 || b >= 0x7F { return false }
            if b == UInt8(ascii: "#") && previous == space { return false }
            if previous == UInt8(ascii: ":") && b == space { return false }
            previous = b
        }
        return true
    }
}
