/// The protobuf forms of kube-apiserver's responses that hold more than one object: a `<Kind>List`
/// built from the items' already-encoded messages, and watch frames (a 4-byte big-endian length,
/// then a `meta.v1.WatchEvent` whose `object` holds the object's own `k8s\0` envelope).
///
/// Both reuse the bytes encoded once per object; only the few bytes around them are new.
public enum ProtobufResponse {
    /// `application/vnd.kubernetes.protobuf`.
    public static let contentType = "application/vnd.kubernetes.protobuf"
    /// The watch stream's content type.
    public static let watchContentType = "application/vnd.kubernetes.protobuf;stream=watch"

    /// The object's message inside an envelope `ProtobufEncoder.encodeObject` wrote.
    public static func message(inEnvelope envelope: [UInt8]) -> ArraySlice<UInt8> {
        (try? ProtobufDecoder.envelope(envelope).raw) ?? []
    }

    /// A `<Kind>List` body: the envelope (`apiVersion`, `listKind`), then the list's message —
    /// `metadata` (ListMeta: `resourceVersion` 2, `continue` 3, `remainingItemCount` 4) and one
    /// `items` field per item message.
    public static func list(apiVersion: String, listKind: String, resourceVersion: String, continueToken: String?,
                            remainingItemCount: Int?, items: [ArraySlice<UInt8>]) -> [UInt8] {
        // As the generated marshaller writes ListMeta: the strings always, the pointer when set.
        var listMeta = ProtobufWriter(capacity: 64)
        listMeta.writeStringField(1, "")
        listMeta.writeStringField(2, resourceVersion)
        listMeta.writeStringField(3, continueToken ?? "")
        if let remainingItemCount { listMeta.writeVarintField(4, UInt64(bitPattern: Int64(remainingItemCount))) }
        var message = ProtobufWriter(capacity: 64 + items.reduce(0) { $0 + $1.count + 6 })
        message.writeBytesField(1, listMeta.bytes)
        for item in items { message.writeBytesField(2, item) }

        var typeMeta = ProtobufWriter(capacity: 32)
        typeMeta.writeStringField(1, apiVersion)
        typeMeta.writeStringField(2, listKind)
        var out = ProtobufWriter(capacity: message.bytes.count + 48)
        out.writeRaw(ProtobufDecoder.magic)
        out.writeBytesField(1, typeMeta.bytes)
        out.writeBytesField(2, message.bytes)
        out.writeStringField(3, "")
        out.writeStringField(4, "")
        return out.bytes
    }

    /// The bytes of a watch frame before the object's envelope (`envelopeLength` bytes, which end
    /// the frame): the frame length, then WatchEvent `type` (1) and `object` (2, a RawExtension
    /// whose `raw` (1) is the envelope).
    public static func watchFramePrefix(type: String, envelopeLength: Int) -> [UInt8] {
        // Written by hand: this runs once per event per watcher, so it makes one small array.
        let typeLength = type.utf8.count
        let rawLength = 1 + varintSize(envelopeLength) + envelopeLength
        let eventLength = 1 + varintSize(typeLength) + typeLength + 1 + varintSize(rawLength) + rawLength
        var out: [UInt8] = []
        out.reserveCapacity(4 + eventLength - envelopeLength)
        out.append(UInt8(truncatingIfNeeded: eventLength >> 24))
        out.append(UInt8(truncatingIfNeeded: eventLength >> 16))
        out.append(UInt8(truncatingIfNeeded: eventLength >> 8))
        out.append(UInt8(truncatingIfNeeded: eventLength))
        out.append(0x0A)  // field 1 (type), length-delimited
        appendVarint(typeLength, to: &out)
        out.append(contentsOf: type.utf8)
        out.append(0x12)  // field 2 (object), length-delimited
        appendVarint(rawLength, to: &out)
        out.append(0x0A)  // RawExtension field 1 (raw), length-delimited
        appendVarint(envelopeLength, to: &out)
        return out
    }

    private static func varintSize(_ value: Int) -> Int {
        var v = UInt64(value)
        var size = 1
        while v >= 0x80 {
            v >>= 7
            size += 1
        }
        return size
    }

    private static func appendVarint(_ value: Int, to out: inout [UInt8]) {
        var v = UInt64(value)
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }
}
