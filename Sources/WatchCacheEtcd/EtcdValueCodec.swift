import WatchCache

/// Objects as etcd values: JSON without `metadata.resourceVersion` (the key's `mod_revision` is the
/// version, as kube-apiserver stores objects), read back with that revision set.
enum EtcdValueCodec {
    /// kube-apiserver's protobuf envelope (`--storage-media-type` default), which this storage does
    /// not read.
    static let protobufMagic: [UInt8] = [0x6B, 0x38, 0x73, 0x00]

    static func encode(_ object: KubeObject) -> [UInt8] {
        var json = object.json
        if var metadata = json["metadata"]?.objectValue {
            metadata["resourceVersion"] = nil
            json["metadata"] = .object(metadata)
        }
        return JSONWriter.encode(.object(json))
    }

    /// The object stored at `key` with `value`, at `revision`.
    static func decode(_ value: [UInt8], key: [UInt8], revision: Int64, resource: ResourceDescriptor) throws(EtcdError) -> KubeObject {
        let keyText = String(decoding: key, as: UTF8.self)
        if value.starts(with: protobufMagic) {
            throw EtcdError.undecodable(key: keyText, reason: "stored as protobuf; start kube-apiserver with --storage-media-type=application/json to share an etcd")
        }
        guard case .object(var json)? = try? JSONParser.parse(value) else {
            throw EtcdError.undecodable(key: keyText, reason: "not a JSON object")
        }
        var metadata = json["metadata"]?.objectValue ?? JSONObject()
        metadata["resourceVersion"] = .string(String(revision))
        json["metadata"] = .object(metadata)
        do {
            return try KubeObject(json: json, resource: resource)
        } catch {
            throw EtcdError.undecodable(key: keyText, reason: error.message)
        }
    }
}
