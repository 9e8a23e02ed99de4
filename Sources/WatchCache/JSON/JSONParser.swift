/// Parses JSON text (RFC 8259) into a ``JSONValue``.
///
/// Strict: no comments, no trailing commas, no leading zeros, no lone surrogates, and nesting
/// deeper than ``maximumDepth`` is refused so that hostile input cannot exhaust the stack.
public struct JSONParser {
    /// The deepest nesting of arrays and objects accepted.
    public static let maximumDepth = 256

    /// Parses a whole document; anything but whitespace after the value is an error.
    public static func parse(_ bytes: some Collection<UInt8>) throws(JSONError) -> JSONValue {
        let array = Array(bytes)
        do {
            return try array.withUnsafeBufferPointer { buffer in
                var parser = Cursor(buffer: buffer)
                parser.skipWhitespace()
                let value = try parser.parseValue(depth: 0)
                parser.skipWhitespace()
                guard parser.index == buffer.count else { throw parser.error("unexpected data after the document") }
                return value
            }
        } catch let error as JSONError {
            throw error
        } catch {
            throw JSONError(offset: 0, reason: "\(error)")
        }
    }

    /// Parses a whole document and reports the members an object repeats (the last value wins,
    /// as in ``parse(_:)-(Collection<UInt8>)``), by path: `metadata.name`, `spec.containers[0].image`. kube-apiserver's
    /// field validation reports them.
    public static func parse(_ bytes: some Collection<UInt8>, duplicateMembers: inout [String]) throws(JSONError) -> JSONValue {
        let array = Array(bytes)
        var found: [String] = []
        let value: JSONValue
        do {
            value = try array.withUnsafeBufferPointer { buffer in
                var parser = Cursor(buffer: buffer)
                parser.tracksPaths = true
                parser.skipWhitespace()
                let value = try parser.parseValue(depth: 0)
                parser.skipWhitespace()
                guard parser.index == buffer.count else { throw parser.error("unexpected data after the document") }
                found = parser.duplicates
                return value
            }
        } catch let error as JSONError {
            throw error
        } catch {
            throw JSONError(offset: 0, reason: "\(error)")
        }
        duplicateMembers += found
        return value
    }

    /// Parses a whole document, keeping only the members `selection` names: every other value
    /// is checked for well-formedness and skipped without being built (no strings, no arrays, no
    /// objects). For reading what a handful of members say out of large documents, such as the
    /// metadata and selectable fields of stored objects at start-up.
    static func parse(_ bytes: [UInt8], keeping selection: JSONMemberSelection) throws(JSONError) -> JSONValue {
        do {
            return try bytes.withUnsafeBufferPointer { buffer in
                var parser = Cursor(buffer: buffer)
                parser.skipWhitespace()
                let value: JSONValue
                if parser.index < buffer.count, buffer[parser.index] == UInt8(ascii: "{") {
                    value = try parser.parseObject(depth: 1, keeping: selection)
                } else {
                    value = try parser.parseValue(depth: 0)
                }
                parser.skipWhitespace()
                guard parser.index == buffer.count else { throw parser.error("unexpected data after the document") }
                return value
            }
        } catch let error as JSONError {
            throw error
        } catch {
            throw JSONError(offset: 0, reason: "\(error)")
        }
    }

    /// Parses a document given as a string.
    public static func parse(_ text: String) throws(JSONError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    private struct Cursor {
        let buffer: UnsafeBufferPointer<UInt8>
        var index = 0
        /// Whether to keep the path of the value being parsed and report repeated members.
        var tracksPaths = false
        var path: [String] = []
        var duplicates: [String] = []

        /// `path` as text: members joined by dots, indexes in brackets.
        func pathText(_ last: String) -> String {
            var text = ""
            for component in path + [last] {
                if component.hasPrefix("[") {
                    text += component
                } else {
                    text += text.isEmpty ? component : "." + component
                }
            }
            return text
        }

        func error(_ reason: String) -> JSONError { JSONError(offset: index, reason: reason) }

        mutating func skipWhitespace() {
            while index < buffer.count {
                switch buffer[index] {
                case 0x20, 0x0A, 0x0D, 0x09: index += 1
                default: return
                }
            }
        }

        mutating func parseValue(depth: Int) throws(JSONError) -> JSONValue {
            guard index < buffer.count else { throw error("unexpected end of input") }
            switch buffer[index] {
            case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
            case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try parseString())
            case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
            case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
            case UInt8(ascii: "n"): try expectLiteral("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
            default: throw error("unexpected character '\(Unicode.Scalar(buffer[index]))'")
            }
        }

        mutating func expectLiteral(_ literal: StaticString) throws(JSONError) {
            let count = literal.utf8CodeUnitCount
            guard index + count <= buffer.count else { throw error("unexpected end of input") }
            for i in 0..<count where buffer[index + i] != literal.utf8Start[i] {
                throw error("invalid literal")
            }
            index += count
        }

        /// An object; with a `selection`, only the members it names are built and the others are
        /// skipped (``skipValue(depth:)``).
        mutating func parseObject(depth: Int, keeping selection: JSONMemberSelection? = nil) throws(JSONError) -> JSONValue {
            guard depth <= JSONParser.maximumDepth else { throw error("nesting deeper than \(JSONParser.maximumDepth)") }
            index += 1
            var object = JSONObject()
            skipWhitespace()
            if index < buffer.count, buffer[index] == UInt8(ascii: "}") {
                index += 1
                return .object(object)
            }
            while true {
                skipWhitespace()
                guard index < buffer.count, buffer[index] == UInt8(ascii: "\"") else { throw error("expected a member name") }
                // The member's name, or nil when the selection skips the member.
                let key: String?
                var wanted: JSONMemberSelection?
                if let selection {
                    let nameStart = index + 1
                    try skipString()
                    let name = UnsafeBufferPointer(rebasing: buffer[nameStart..<(index - 1)])
                    wanted = selection.member(named: name)
                    // Names with escapes never match (selections name plain members), so the raw bytes are the name.
                    key = wanted == nil ? nil : String(decoding: name, as: UTF8.self)
                } else {
                    key = try parseString()
                }
                skipWhitespace()
                guard index < buffer.count, buffer[index] == UInt8(ascii: ":") else { throw error("expected ':'") }
                index += 1
                skipWhitespace()
                if let key {
                    if let wanted, !wanted.isWhole, index < buffer.count, buffer[index] == UInt8(ascii: "{") {
                        object[key] = try parseObject(depth: depth + 1, keeping: wanted)
                    } else if tracksPaths {
                        if object[key] != nil { duplicates.append(pathText(key)) }
                        path.append(key)
                        object[key] = try parseValue(depth: depth)
                        path.removeLast()
                    } else {
                        object[key] = try parseValue(depth: depth)
                    }
                } else {
                    try skipValue(depth: depth)
                }
                skipWhitespace()
                guard index < buffer.count else { throw error("unexpected end of input") }
                if buffer[index] == UInt8(ascii: ",") { index += 1; continue }
                if buffer[index] == UInt8(ascii: "}") { index += 1; return .object(object) }
                throw error("expected ',' or '}'")
            }
        }

        /// Moves past one value, checking its grammar as ``parseValue(depth:)`` does (except that
        /// strings' UTF-8 is not validated), without building it.
        mutating func skipValue(depth: Int) throws(JSONError) {
            guard index < buffer.count else { throw error("unexpected end of input") }
            switch buffer[index] {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let isObject = buffer[index] == UInt8(ascii: "{")
                let close = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
                guard depth + 1 <= JSONParser.maximumDepth else { throw error("nesting deeper than \(JSONParser.maximumDepth)") }
                index += 1
                skipWhitespace()
                if index < buffer.count, buffer[index] == close { index += 1; return }
                while true {
                    skipWhitespace()
                    if isObject {
                        guard index < buffer.count, buffer[index] == UInt8(ascii: "\"") else { throw error("expected a member name") }
                        try skipString()
                        skipWhitespace()
                        guard index < buffer.count, buffer[index] == UInt8(ascii: ":") else { throw error("expected ':'") }
                        index += 1
                        skipWhitespace()
                    }
                    try skipValue(depth: depth + 1)
                    skipWhitespace()
                    guard index < buffer.count else { throw error("unexpected end of input") }
                    if buffer[index] == UInt8(ascii: ",") { index += 1; continue }
                    if buffer[index] == close { index += 1; return }
                    throw error(isObject ? "expected ',' or '}'" : "expected ',' or ']'")
                }
            case UInt8(ascii: "\""): try skipString()
            case UInt8(ascii: "t"): try expectLiteral("true")
            case UInt8(ascii: "f"): try expectLiteral("false")
            case UInt8(ascii: "n"): try expectLiteral("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try scanNumber()
            default: throw error("unexpected character '\(Unicode.Scalar(buffer[index]))'")
            }
        }

        /// Moves past a string (opening quote at `index`), checking its escapes, its UTF-8 and that
        /// it has no control characters.
        mutating func skipString() throws(JSONError) {
            index += 1
            let start = index
            var ascii = true
            while index < buffer.count {
                switch buffer[index] {
                case UInt8(ascii: "\""):
                    if !ascii { _ = try validatedUTF8(UnsafeBufferPointer(rebasing: buffer[start..<index]), at: start) }
                    index += 1
                    return
                case UInt8(ascii: "\\"):
                    index += 1
                    guard index < buffer.count else { throw error("unexpected end of input") }
                    switch buffer[index] {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                         UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        index += 1
                    case UInt8(ascii: "u"):
                        index += 1
                        let scalar = try parseHex4()
                        if (0xD800..<0xDC00).contains(scalar) {
                            guard index + 1 < buffer.count, buffer[index] == UInt8(ascii: "\\"), buffer[index + 1] == UInt8(ascii: "u") else {
                                throw error("lone surrogate in string")
                            }
                            index += 2
                            guard (0xDC00..<0xE000).contains(try parseHex4()) else { throw error("invalid surrogate pair") }
                        } else if (0xDC00..<0xE000).contains(scalar) {
                            throw error("lone surrogate in string")
                        }
                    default:
                        throw error("invalid escape")
                    }
                case 0..<0x20:
                    throw error("control character in string")
                case 0x80...:
                    ascii = false
                    index += 1
                default:
                    index += 1
                }
            }
            throw error("unterminated string")
        }

        mutating func parseArray(depth: Int) throws(JSONError) -> JSONValue {
            guard depth <= JSONParser.maximumDepth else { throw error("nesting deeper than \(JSONParser.maximumDepth)") }
            index += 1
            var elements: [JSONValue] = []
            skipWhitespace()
            if index < buffer.count, buffer[index] == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            while true {
                skipWhitespace()
                if tracksPaths {
                    path.append("[\(elements.count)]")
                    elements.append(try parseValue(depth: depth))
                    path.removeLast()
                } else {
                    elements.append(try parseValue(depth: depth))
                }
                skipWhitespace()
                guard index < buffer.count else { throw error("unexpected end of input") }
                if buffer[index] == UInt8(ascii: ",") { index += 1; continue }
                if buffer[index] == UInt8(ascii: "]") { index += 1; return .array(elements) }
                throw error("expected ',' or ']'")
            }
        }

        mutating func parseNumber() throws(JSONError) -> String {
            let start = index
            try scanNumber()
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<index]), as: UTF8.self)
        }

        /// Moves past a number, checking its grammar.
        mutating func scanNumber() throws(JSONError) {
            if buffer[index] == UInt8(ascii: "-") { index += 1 }
            guard index < buffer.count, isDigit(buffer[index]) else { throw error("invalid number") }
            if buffer[index] == UInt8(ascii: "0") {
                index += 1
                if index < buffer.count, isDigit(buffer[index]) { throw error("leading zero in number") }
            } else {
                while index < buffer.count, isDigit(buffer[index]) { index += 1 }
            }
            if index < buffer.count, buffer[index] == UInt8(ascii: ".") {
                index += 1
                guard index < buffer.count, isDigit(buffer[index]) else { throw error("invalid fraction") }
                while index < buffer.count, isDigit(buffer[index]) { index += 1 }
            }
            if index < buffer.count, buffer[index] == UInt8(ascii: "e") || buffer[index] == UInt8(ascii: "E") {
                index += 1
                if index < buffer.count, buffer[index] == UInt8(ascii: "+") || buffer[index] == UInt8(ascii: "-") { index += 1 }
                guard index < buffer.count, isDigit(buffer[index]) else { throw error("invalid exponent") }
                while index < buffer.count, isDigit(buffer[index]) { index += 1 }
            }
        }

        func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

        mutating func parseString() throws(JSONError) -> String {
            index += 1  // opening quote
            let start = index
            // Fast path: no escapes.
            while index < buffer.count {
                let byte = buffer[index]
                if byte == UInt8(ascii: "\"") {
                    let slice = UnsafeBufferPointer(rebasing: buffer[start..<index])
                    index += 1
                    return try validatedUTF8(slice, at: start)
                }
                if byte == UInt8(ascii: "\\") { break }
                if byte < 0x20 { throw error("control character in string") }
                index += 1
            }
            var bytes = Array(UnsafeBufferPointer(rebasing: buffer[start..<index]))
            while index < buffer.count {
                let byte = buffer[index]
                switch byte {
                case UInt8(ascii: "\""):
                    index += 1
                    return try bytes.withUnsafeBufferPointer { b throws(JSONError) in try validatedUTF8(b, at: start) }
                case UInt8(ascii: "\\"):
                    index += 1
                    guard index < buffer.count else { throw error("unexpected end of input") }
                    let escaped = buffer[index]
                    index += 1
                    switch escaped {
                    case UInt8(ascii: "\""): bytes.append(0x22)
                    case UInt8(ascii: "\\"): bytes.append(0x5C)
                    case UInt8(ascii: "/"): bytes.append(0x2F)
                    case UInt8(ascii: "b"): bytes.append(0x08)
                    case UInt8(ascii: "f"): bytes.append(0x0C)
                    case UInt8(ascii: "n"): bytes.append(0x0A)
                    case UInt8(ascii: "r"): bytes.append(0x0D)
                    case UInt8(ascii: "t"): bytes.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try parseHex4()
                        if (0xD800..<0xDC00).contains(scalar) {
                            guard index + 1 < buffer.count, buffer[index] == UInt8(ascii: "\\"), buffer[index + 1] == UInt8(ascii: "u") else {
                                throw error("lone surrogate in string")
                            }
                            index += 2
                            let low = try parseHex4()
                            guard (0xDC00..<0xE000).contains(low) else { throw error("invalid surrogate pair") }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00..<0xE000).contains(scalar) {
                            throw error("lone surrogate in string")
                        }
                        guard let unicode = Unicode.Scalar(scalar) else { throw error("invalid unicode escape") }
                        bytes.append(contentsOf: String(Character(unicode)).utf8)
                    default:
                        throw error("invalid escape")
                    }
                default:
                    if byte < 0x20 { throw error("control character in string") }
                    bytes.append(byte)
                    index += 1
                }
            }
            throw error("unterminated string")
        }

        mutating func parseHex4() throws(JSONError) -> UInt32 {
            guard index + 4 <= buffer.count else { throw error("unexpected end of input") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let b = buffer[index]
                let digit: UInt32
                switch b {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(b - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(b - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(b - UInt8(ascii: "A") + 10)
                default: throw error("invalid unicode escape")
                }
                value = value << 4 | digit
                index += 1
            }
            return value
        }

        func validatedUTF8(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int) throws(JSONError) -> String {
            // ASCII needs no validation; String(validating:) is generic and costs a metadata lookup.
            if !bytes.contains(where: { $0 >= 0x80 }) { return String(decoding: bytes, as: UTF8.self) }
            guard let s = String(validating: bytes, as: UTF8.self) else {
                throw JSONError(offset: offset, reason: "string is not valid UTF-8")
            }
            return s
        }
    }
}

extension JSONObject {
    /// Parses text that must be a JSON object.
    public init(parsing text: String) throws(JSONError) {
        guard case .object(let object) = try JSONParser.parse(text) else {
            throw JSONError(offset: 0, reason: "expected a JSON object")
        }
        self = object
    }
}
