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
        var raw = ProtobufWriter(capacity: 8)
        raw.writeTag(1, .lengthDelimited)
        raw.writeVarint(UInt64(envelopeLength))
        var event = ProtobufWriter(capacity: 32)
        event.writeStringField(1, type)
        event.writeTag(2, .lengthDelimited)
        event.writeVarint(UInt64(raw.bytes.count + envelopeLength))
        event.writeRaw(raw.bytes)
        let length = UInt32(event.bytes.count + envelopeLength)
        return [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)] + event.bytes
    }
}
