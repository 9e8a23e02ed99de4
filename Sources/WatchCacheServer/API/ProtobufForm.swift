import WatchCache
import WatchCacheSchema

/// Responses in Kubernetes protobuf for a built-in kind, for clients that ask for it first
/// (client-go's typed clients: controllers, kubelets, kube-scheduler).
///
/// Each object is encoded once, on first use, and kept with it (``KubeObject/alternateEncoding(_:)``):
/// every GET, LIST page and watcher of the same version shares those bytes, as they share the JSON.
struct ProtobufForm: Sendable {
    let strategy: WriteStrategy

    static let statusType = "io.k8s.apimachinery.pkg.apis.meta.v1.Status"

    /// The object's envelope (`k8s\0`, type meta, message); empty if the stored JSON does not fit
    /// the schema (validation refuses such values on every write, so only objects stored by an
    /// older version of the server, or by a library user directly, can be like that).
    func envelope(_ object: KubeObject) -> [UInt8] {
        let kind = strategy.kind
        let type = strategy.type
        return object.alternateEncoding { object in
            (try? ProtobufEncoder.encodeObject(object.json, as: type, apiVersion: kind.apiVersion, kind: kind.kind, in: .builtIn)) ?? []
        }
    }

    func object(_ object: KubeObject) throws(Status) -> APIResponse {
        let bytes = envelope(object)
        guard !bytes.isEmpty else { throw Self.unencodable(object) }
        return .complete(status: 200, contentType: ProtobufResponse.contentType, body: bytes)
    }

    func list(_ list: ListResult) throws(Status) -> APIResponse {
        var items: [ArraySlice<UInt8>] = []
        items.reserveCapacity(list.items.count)
        for item in list.items {
            let bytes = envelope(item)
            guard !bytes.isEmpty else { throw Self.unencodable(item) }
            items.append(ProtobufResponse.message(inEnvelope: bytes))
        }
        let body = ProtobufResponse.list(apiVersion: strategy.kind.apiVersion, listKind: strategy.kind.kind + "List",
                                         resourceVersion: list.resourceVersion.description, continueToken: list.continueToken,
                                         remainingItemCount: list.remainingItemCount, items: items)
        return .complete(status: 200, contentType: ProtobufResponse.contentType, body: body)
    }

    /// Re-frames each watch event as a protobuf frame around the object's shared envelope; the
    /// per-watcher work is the few bytes of the frame's prefix. Bookmarks and errors (small, made
    /// per watch) are encoded here.
    func watchTransform() -> WatchEventTransform {
        let form = self
        return { event in
            let envelope: [UInt8]
            if let object = event.object {
                envelope = form.envelope(object)
                if envelope.isEmpty {
                    let status = Self.encodeStatus(Self.unencodable(object))
                    return event.replacingFrame(prefix: ProtobufResponse.watchFramePrefix(type: "ERROR", envelopeLength: status.count),
                                                body: status)
                }
            } else if event.type == .error, let status = event.status {
                envelope = Self.encodeStatus(status)
            } else {
                envelope = form.encodeJSON(event.body)
            }
            return event.replacingFrame(prefix: ProtobufResponse.watchFramePrefix(type: event.type.rawValue, envelopeLength: envelope.count),
                                        body: envelope)
        }
    }

    /// A small object of the kind (a bookmark) from its JSON.
    private func encodeJSON(_ body: [UInt8]) -> [UInt8] {
        guard case .object(let object)? = try? JSONParser.parse(body) else { return [] }
        return (try? ProtobufEncoder.encodeObject(object, as: strategy.type, apiVersion: strategy.kind.apiVersion,
                                                  kind: strategy.kind.kind, in: .builtIn)) ?? []
    }

    static func encodeStatus(_ status: Status) -> [UInt8] {
        guard case .object(let object)? = try? JSONParser.parse(status.encoded), let type = APISchema.builtIn[statusType] else { return [] }
        return (try? ProtobufEncoder.encodeObject(object, as: type, apiVersion: "v1", kind: "Status", in: .builtIn)) ?? []
    }

    private static func unencodable(_ object: KubeObject) -> Status {
        Status(code: 500, reason: .internalError,
               message: "\(object.resource.kind) \(object.key) cannot be encoded as protobuf: its stored fields do not fit the \(object.resource.kind) schema")
    }
}
