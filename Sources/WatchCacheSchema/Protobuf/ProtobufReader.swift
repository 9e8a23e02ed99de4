/// Reads the protobuf wire format: tags, varints, fixed-width and length-delimited values.
package struct ProtobufReader {
    package enum WireType: UInt8 {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
        case startGroup = 3
        case endGroup = 4
        case fixed32 = 5
    }

    private let bytes: ArraySlice<UInt8>
    private var index: Int

    package init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.index = bytes.startIndex
    }

    package var isAtEnd: Bool { index >= bytes.endIndex }

    /// The next field's number and wire type.
    package mutating func readTag() throws(ProtobufError) -> (number: Int, wireType: WireType) {
        let key = try readVarint()
        guard let wireType = WireType(rawValue: UInt8(key & 7)) else {
            throw ProtobufError("invalid wire type \(key & 7)")
        }
        let number = key >> 3
        guard number > 0, number <= 536_870_911 else { throw ProtobufError("invalid field number \(number)") }
        return (Int(number), wireType)
    }

    package mutating func readVarint() throws(ProtobufError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard index < bytes.endIndex else { throw ProtobufError("truncated varint") }
            let byte = bytes[index]
            index += 1
            if shift == 63 && byte > 1 { throw ProtobufError("varint overflows 64 bits") }
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            guard shift < 64 else { throw ProtobufError("varint overflows 64 bits") }
        }
    }

    mutating func readFixed32() throws(ProtobufError) -> UInt32 {
        guard bytes.endIndex - index >= 4 else { throw ProtobufError("truncated fixed32") }
        var value: UInt32 = 0
        for i in 0..<4 { value |= UInt32(bytes[index + i]) << (8 * UInt32(i)) }
        index += 4
        return value
    }

    mutating func readFixed64() throws(ProtobufError) -> UInt64 {
        guard bytes.endIndex - index >= 8 else { throw ProtobufError("truncated fixed64") }
        var value: UInt64 = 0
        for i in 0..<8 { value |= UInt64(bytes[index + i]) << (8 * UInt64(i)) }
        index += 8
        return value
    }

    package mutating func readLengthDelimited() throws(ProtobufError) -> ArraySlice<UInt8> {
        let length = try readVarint()
        guard length <= UInt64(bytes.endIndex - index) else { throw ProtobufError("truncated length-delimited field") }
        let end = index + Int(length)
        defer { index = end }
        return bytes[index..<end]
    }

    /// Skips a value of `wireType` (a field the schema does not know).
    package mutating func skip(_ wireType: WireType, number: Int) throws(ProtobufError) {
        switch wireType {
        case .varint: _ = try readVarint()
        case .fixed64: _ = try readFixed64()
        case .fixed32: _ = try readFixed32()
        case .lengthDelimited: _ = try readLengthDelimited()
        case .startGroup, .endGroup:
            // Groups are deprecated and no Kubernetes message has one; refusing them also keeps
            // hostile nesting from recursing.
            throw ProtobufError("field \(number) is a group, which Kubernetes messages do not use")
        }
    }
}

/// A protobuf body that cannot be decoded.
public struct ProtobufError: Error, Equatable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
