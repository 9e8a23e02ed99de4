/// Writes the protobuf wire format: tags, varints, fixed-width and length-delimited values.
///
/// A nested message is written in place: ``beginMessage(_:)`` writes its tag and reserves one byte
/// for its length, ``endMessage(_:)`` fills the length in, widening it when the message turned out
/// to be 128 bytes or longer (the bytes written since move up by the extra length bytes).
package struct ProtobufWriter {
    package private(set) var bytes: [UInt8]

    package init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Appends bytes as they are (the `k8s\0` magic).
    mutating func writeRaw(_ raw: some Collection<UInt8>) {
        bytes.append(contentsOf: raw)
    }

    mutating func writeVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// A field's key: its number and wire type.
    mutating func writeTag(_ number: Int, _ wireType: ProtobufReader.WireType) {
        writeVarint(UInt64(number) << 3 | UInt64(wireType.rawValue))
    }

    /// A signed integer as Go's generated code writes `int32` and `int64` fields: the two's
    /// complement as a 64-bit varint, so a negative value takes ten bytes.
    mutating func writeSignedVarint(_ value: Int64) {
        writeVarint(UInt64(bitPattern: value))
    }

    mutating func writeFixed32(_ value: UInt32) {
        for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt32(i)))) }
    }

    mutating func writeFixed64(_ value: UInt64) {
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
    }

    // MARK: Fields

    package mutating func writeVarintField(_ number: Int, _ value: UInt64) {
        writeTag(number, .varint)
        writeVarint(value)
    }

    package mutating func writeBytesField(_ number: Int, _ value: some Collection<UInt8>) {
        writeTag(number, .lengthDelimited)
        writeVarint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    package mutating func writeStringField(_ number: Int, _ value: String) {
        writeTag(number, .lengthDelimited)
        writeVarint(UInt64(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }

    /// Starts a length-delimited field whose contents are written next; returns the marker to
    /// hand to ``endMessage(_:)``.
    package mutating func beginMessage(_ number: Int) -> Int {
        writeTag(number, .lengthDelimited)
        bytes.append(0)
        return bytes.count
    }

    /// Completes the field started by ``beginMessage(_:)``: everything written since is its contents.
    package mutating func endMessage(_ marker: Int) {
        let length = bytes.count - marker
        if length < 0x80 {
            bytes[marker - 1] = UInt8(length)
            return
        }
        var prefix: [UInt8] = []
        var v = UInt64(length)
        while v >= 0x80 {
            prefix.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        prefix.append(UInt8(v))
        bytes.replaceSubrange(marker - 1..<marker, with: prefix)
    }
}
