import Synchronization

/// One stored object: its compact encoding, and the metadata and field values that selectors,
/// indexes and the store need, parsed once.
///
/// Immutable and shared: the store, the event log and every watcher hold the same instance. Only
/// the bytes are kept, not the parsed tree (which would be several times their size):
/// ``json`` parses them again on demand, which writes do once per change.
public final class KubeObject: Sendable {
    /// The resource this object belongs to.
    public let resource: ResourceDescriptor
    /// The object encoded compactly, once.
    public let encoded: [UInt8]
    /// `metadata.name`.
    public let name: String
    /// Empty for cluster-scoped objects.
    public let namespace: String
    /// `metadata.uid`, set by the registry on create.
    public let uid: String?
    /// The version of the write that made this state (`metadata.resourceVersion`).
    public let resourceVersion: ResourceVersion
    /// `metadata.labels`, parsed once for selectors.
    public let labels: LabelSet
    /// `metadata.generation`: bumped by writes that change more than metadata and status.
    public let generation: Int64?
    /// `metadata.deletionTimestamp`: set while finalizers or a grace period hold the deletion.
    public let deletionTimestamp: String?
    /// The store key: `namespace/name`, or `name` when cluster-scoped. Lists are sorted by it.
    public let key: String
    /// Values of ``ResourceDescriptor/allSelectableFields``, in that order; "" when absent.
    let fieldValues: [String]
    /// A 64-bit Bloom filter of the selectable fields' values (``FieldSelector/bits(position:value:)``).
    let fieldSignature: UInt64
    /// A second encoding (the server's protobuf), made on first use and kept.
    private let alternate = Mutex<[UInt8]?>(nil)

    /// Parses `json` as an object of `resource`. The object must have `metadata.name`; its
    /// `metadata.resourceVersion`, if any, must be a valid version.
    public convenience init(json: JSONObject, resource: ResourceDescriptor) throws(Status) {
        try self.init(json: json, resource: resource, encoded: nil)
    }

    /// Parses `json`; its bytes are `encoded` when given (they must be ``JSONWriter``'s encoding
    /// of `json`), else they are written.
    init(json: JSONObject, resource: ResourceDescriptor, encoded: [UInt8]?) throws(Status) {
        guard case .object(let metadata)? = json["metadata"] else {
            throw Status.badRequest("Object '\(resource.kind)' is missing 'metadata'")
        }
        guard case .string(let name)? = metadata["name"], !name.isEmpty else {
            throw Status.invalid(kind: resource.kind, group: resource.group, name: "",
                                 errors: [FieldError(field: "metadata.name", type: .required, detail: "name or generateName is required")])
        }
        let namespace = metadata["namespace"]?.stringValue ?? ""
        var labels: [String: String] = [:]
        if let labelValue = metadata["labels"], labelValue != .null {
            guard case .object(let labelObject) = labelValue else {
                throw Status.badRequest("metadata.labels must be a map of strings in \(resource.kind) \"\(name)\"")
            }
            for (k, v) in labelObject.members {
                guard case .string(let s) = v else {
                    throw Status.badRequest("metadata.labels must be a map of strings in \(resource.kind) \"\(name)\"")
                }
                labels[k] = s
            }
        }
        var rv = ResourceVersion.zero
        if let rvValue = metadata["resourceVersion"]?.stringValue, !rvValue.isEmpty {
            guard let parsed = ResourceVersion(wire: rvValue) else {
                throw Status.badRequest("invalid resourceVersion \"\(rvValue)\" in \(resource.kind) \"\(name)\"")
            }
            rv = parsed
        }
        self.resource = resource
        self.encoded = encoded ?? JSONWriter.encode(.object(json))
        self.name = name
        self.namespace = namespace
        self.uid = metadata["uid"]?.stringValue
        self.resourceVersion = rv
        self.labels = LabelSet(labels)
        if case .number(let g)? = metadata["generation"] { self.generation = Int64(g) } else { self.generation = nil }
        self.deletionTimestamp = metadata["deletionTimestamp"]?.stringValue
        self.key = namespace.isEmpty ? name : "\(namespace)/\(name)"
        let root = JSONValue.object(json)
        let fieldValues = resource.selectableFieldPaths.map { root.value(atComponents: $0)?.fieldText ?? "" }
        self.fieldValues = fieldValues
        var signature: UInt64 = 0
        for (position, value) in fieldValues.enumerated() { signature |= FieldSelector.bits(position: position, value: value) }
        self.fieldSignature = signature
    }

    /// Parses JSON bytes as an object of `resource`.
    public convenience init(bytes: some Collection<UInt8>, resource: ResourceDescriptor) throws(Status) {
        try self.init(json: try Self.parseObject(bytes), resource: resource, encoded: nil)
    }

    /// Parses bytes this library wrote (``encoded`` of an object, kept by a storage) and keeps
    /// them as they are: they are already ``JSONWriter``'s encoding, so a restart does not write
    /// every object again.
    ///
    /// Only the members the object is described by are built (``ResourceDescriptor/describingMembers``):
    /// the rest of the bytes is checked and skipped, which makes a start-up's parse several times
    /// cheaper than building whole trees that ``json`` would build again on demand anyway.
    convenience init(storedBytes bytes: [UInt8], resource: ResourceDescriptor) throws(Status) {
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes, keeping: resource.describingMembers)
        } catch {
            throw Status.badRequest("the body of the request was in an unknown format: \(error)")
        }
        guard case .object(let object) = value else {
            throw Status.badRequest("the body of the request must be a JSON object")
        }
        try self.init(json: object, resource: resource, encoded: bytes)
    }

    /// The `metadata` members ``init(json:resource:encoded:)`` reads.
    static let describingMetadata = ["name", "namespace", "uid", "resourceVersion", "labels", "generation", "deletionTimestamp"]

    private static func parseObject(_ bytes: some Collection<UInt8>) throws(Status) -> JSONObject {
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes)
        } catch {
            throw Status.badRequest("the body of the request was in an unknown format: \(error)")
        }
        guard case .object(let object) = value else {
            throw Status.badRequest("the body of the request must be a JSON object")
        }
        return object
    }

    /// A second encoding of the object, such as the server's protobuf: `encode` runs on first use
    /// (callers racing for the first use may each run it; one result is kept), and every later
    /// caller (every watcher of the event, every LIST) gets the same bytes. The caller decides the
    /// format; an object has one alternate encoding.
    public func alternateEncoding(_ encode: (KubeObject) -> [UInt8]) -> [UInt8] {
        if let bytes = alternate.withLock({ $0 }) { return bytes }
        let bytes = encode(self)
        return alternate.withLock { stored in
            if let stored { return stored }
            stored = bytes
            return bytes
        }
    }

    /// The whole object, parsed from ``encoded`` (a fresh tree on every call).
    public var json: JSONObject {
        // The bytes were written by JSONWriter from a valid object, so they parse.
        guard case .object(let object)? = try? JSONParser.parse(encoded) else { preconditionFailure("stored object does not parse") }
        return object
    }

    /// A copy with `metadata.resourceVersion` set to `rv`. The version's bytes are replaced in
    /// place when the encoding has them (every write's object: the write path sets a placeholder),
    /// the rest is shared; otherwise the object is re-encoded.
    public func withResourceVersion(_ rv: ResourceVersion) -> KubeObject {
        if !resource.allSelectableFields.contains("metadata.resourceVersion"), let range = JSONMemberScan.valueRange(at: Self.resourceVersionPath, in: encoded),
           encoded[range.lowerBound] == UInt8(ascii: "\"") {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(encoded.count + 20)
            bytes.append(contentsOf: encoded[..<range.lowerBound])
            bytes.append(UInt8(ascii: "\""))
            bytes.append(contentsOf: rv.description.utf8)
            bytes.append(UInt8(ascii: "\""))
            bytes.append(contentsOf: encoded[range.upperBound...])
            return KubeObject(copying: self, encoded: bytes, resourceVersion: rv)
        }
        var copy = json
        var metadata = copy["metadata"]?.objectValue ?? JSONObject()
        metadata["resourceVersion"] = .string(rv.description)
        copy["metadata"] = .object(metadata)
        // The metadata is already validated; only the version changed.
        return try! KubeObject(json: copy, resource: resource)
    }

    private static let resourceVersionPath = ["metadata", "resourceVersion"]

    /// `object` with other bytes that differ from its own only in `metadata.resourceVersion`.
    private init(copying object: KubeObject, encoded: [UInt8], resourceVersion: ResourceVersion) {
        self.resource = object.resource
        self.encoded = encoded
        self.name = object.name
        self.namespace = object.namespace
        self.uid = object.uid
        self.resourceVersion = resourceVersion
        self.labels = object.labels
        self.generation = object.generation
        self.deletionTimestamp = object.deletionTimestamp
        self.key = object.key
        self.fieldValues = object.fieldValues
        self.fieldSignature = object.fieldSignature
    }

    /// The value of a selectable field, or `nil` if the resource does not support selecting on it.
    public func fieldValue(_ path: String) -> String? {
        guard let i = resource.allSelectableFields.firstIndex(of: path) else { return nil }
        return fieldValues[i]
    }

    /// The value of the resource's indexed field, if it has one.
    var indexedValue: String? {
        resource.indexedFieldPosition.map { fieldValues[$0] }
    }
}
