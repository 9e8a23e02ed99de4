/// Finds where a member's value lies in compact JSON bytes without parsing them into a tree: the
/// bytes of everything else are only skipped. For the objects' own encoding (``JSONWriter``'s
/// output, or any valid JSON), to replace one value in place.
enum JSONMemberScan {
    /// The byte range of the value at `path` (member names from the root object), or `nil` when
    /// a member is missing, a value on the way is not an object, or the bytes are not valid JSON
    /// where they are read. Member names are compared as written: names with escapes never match.
    static func valueRange(at path: [String], in bytes: [UInt8]) -> Range<Int>? {
        var i = 0
        var range: Range<Int>?
        for name in path {
            if let found = range { i = found.lowerBound }
            guard let member = memberValue(named: Array(name.utf8), inObjectAt: i, in: bytes) else { return nil }
            range = member
        }
        return range
    }

    /// The value of member `name` of the object starting at `start`.
    private static func memberValue(named name: [UInt8], inObjectAt start: Int, in bytes: [UInt8]) -> Range<Int>? {
        var i = skipSpace(start, bytes)
        guard i < bytes.count, bytes[i] == UInt8(ascii: "{") else { return nil }
        i = skipSpace(i + 1, bytes)
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") { return nil }
        while i < bytes.count {
            guard bytes[i] == UInt8(ascii: "\""), let keyEnd = endOfString(at: i, bytes) else { return nil }
            let matches = keyEnd - i - 2 == name.count && bytes[(i + 1)..<(keyEnd - 1)].elementsEqual(name)
            i = skipSpace(keyEnd, bytes)
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return nil }
            let valueStart = skipSpace(i + 1, bytes)
            guard let valueEnd = endOfValue(at: valueStart, bytes) else { return nil }
            if matches { return valueStart..<valueEnd }
            i = skipSpace(valueEnd, bytes)
            guard i < bytes.count, bytes[i] == UInt8(ascii: ",") else { return nil }
            i = skipSpace(i + 1, bytes)
        }
        return nil
    }

    /// Just past the string that starts (with its quote) at `start`.
    private static func endOfString(at start: Int, _ bytes: [UInt8]) -> Int? {
        var i = start + 1
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "\\"): i += 2
            case UInt8(ascii: "\""): return i + 1
            default: i += 1
            }
        }
        return nil
    }

    /// Just past the value that starts at `start`.
    private static func endOfValue(at start: Int, _ bytes: [UInt8]) -> Int? {
        guard start < bytes.count else { return nil }
        switch bytes[start] {
        case UInt8(ascii: "\""):
            return endOfString(at: start, bytes)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            var i = start
            while i < bytes.count {
                switch bytes[i] {
                case UInt8(ascii: "\""):
                    guard let end = endOfString(at: i, bytes) else { return nil }
                    i = end
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return i + 1 }
                default:
                    break
                }
                i += 1
            }
            return nil
        default:
            // A number or a literal: up to the next delimiter.
            var i = start
            while i < bytes.count, ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x0A, 0x0D, 0x09].contains(bytes[i]) { i += 1 }
            return i > start ? i : nil
        }
    }

    private static func skipSpace(_ start: Int, _ bytes: [UInt8]) -> Int {
        var i = start
        while i < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[i]) { i += 1 }
        return i
    }
}
