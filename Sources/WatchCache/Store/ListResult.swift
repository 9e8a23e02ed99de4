/// The answer to a LIST: items at one resource version, maybe a continue token for the next page.
public struct ListResult: Sendable {
    /// The version the items reflect (the `metadata.resourceVersion` a follow-up watch starts from).
    public var resourceVersion: ResourceVersion
    /// Matching objects in key order.
    public var items: [KubeObject]
    /// Present when more items remain.
    public var continueToken: String?
    /// How many items remain, when no selector was used.
    public var remainingItemCount: Int?

    /// The `<Kind>List` JSON, with the items' stored bytes copied in as they are.
    public func encoded(for resource: ResourceDescriptor) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128 + items.reduce(0) { $0 + $1.encoded.count + 1 })
        out.append(contentsOf: "{\"kind\":".utf8)
        JSONWriter.writeString(resource.kind + "List", into: &out)
        out.append(contentsOf: ",\"apiVersion\":".utf8)
        JSONWriter.writeString(resource.apiVersion, into: &out)
        out.append(contentsOf: ",\"metadata\":{\"resourceVersion\":".utf8)
        JSONWriter.writeString(resourceVersion.description, into: &out)
        if let continueToken {
            out.append(contentsOf: ",\"continue\":".utf8)
            JSONWriter.writeString(continueToken, into: &out)
        }
        if let remainingItemCount {
            out.append(contentsOf: ",\"remainingItemCount\":\(remainingItemCount)".utf8)
        }
        out.append(contentsOf: "},\"items\":[".utf8)
        for (i, item) in items.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: item.encoded)
        }
        out.append(contentsOf: "]}".utf8)
        return out
    }
}
