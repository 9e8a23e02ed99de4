import WatchCache
import WatchCacheSchema

/// Request bodies in the formats kube-apiserver accepts: JSON for every resource, Kubernetes
/// protobuf for the built-in kinds (what client-go's typed clients, and so kubectl's `create`
/// commands, kubelets and controllers, send).
enum RequestBody {
    static let protobufType = "application/vnd.kubernetes.protobuf"

    /// The media type of the request's `Content-Type`, without parameters (`application/json`).
    static func mediaType(_ request: APIRequest, default fallback: String = "application/json") -> String {
        (request.header("content-type") ?? fallback).split(separator: ";").first?.trimming(" ").lowercased() ?? fallback
    }

    /// The object in a create or update body. `strategy` is the resource's when the schema
    /// describes it; protobuf needs it. Members a JSON object repeats are added to `duplicates`.
    static func object(_ request: APIRequest, strategy: WriteStrategy?, duplicates: inout [String]) throws(Status) -> JSONObject {
        switch mediaType(request) {
        case "application/json", "*/*":
            let object = try parseJSONObject(request.body, duplicates: &duplicates)
            if let strategy {
                if case .string(let apiVersion)? = object["apiVersion"], apiVersion != strategy.kind.apiVersion {
                    throw Status.badRequest("the API version in the data (\(apiVersion)) does not match the expected API version (\(strategy.kind.apiVersion))")
                }
                if case .string(let kind)? = object["kind"], kind != strategy.kind.kind {
                    throw Status.badRequest("the kind in the data (\(kind)) does not match the expected kind (\(strategy.kind.kind))")
                }
            }
            return object
        case protobufType where strategy != nil:
            let strategy = strategy!
            let envelope: ProtobufDecoder.Envelope
            do {
                envelope = try ProtobufDecoder.envelope(request.body)
            } catch {
                throw Status.badRequest("the body of the request was in an unknown format: \(error)")
            }
            guard envelope.kind == strategy.kind.kind, envelope.apiVersion == strategy.kind.apiVersion else {
                throw Status.badRequest("the object provided is unrecognized (must be of type \(strategy.kind.kind)): "
                                        + "\(envelope.apiVersion) \(envelope.kind) was sent")
            }
            do {
                return try ProtobufDecoder.decodeObject(envelope, as: strategy.type, in: .builtIn)
            } catch {
                throw Status.badRequest("\(strategy.kind.kind) in version \"\(strategy.kind.version)\" cannot be handled as a \(strategy.kind.kind): \(error)")
            }
        default:
            throw unsupported(accepting: strategy == nil ? ["application/json"] : ["application/json", protobufType])
        }
    }

    /// A body of message type `typeName` outside any kind's resource (an `autoscaling/v1` Scale,
    /// `DeleteOptions`), in JSON or protobuf.
    static func message(_ request: APIRequest, typeName: String) throws(Status) -> JSONObject {
        switch mediaType(request) {
        case "application/json", "*/*":
            return try parseJSONObject(request.body)
        case protobufType:
            guard let type = APISchema.builtIn[typeName] else { throw unsupported(accepting: ["application/json"]) }
            do {
                return try ProtobufDecoder.decodeObject(try ProtobufDecoder.envelope(request.body), as: type, in: .builtIn)
            } catch {
                throw Status.badRequest("the body of the request was in an unknown format: \(error)")
            }
        default:
            throw unsupported(accepting: ["application/json", protobufType])
        }
    }

    static func parseJSONObject(_ body: [UInt8]) throws(Status) -> JSONObject {
        var duplicates: [String] = []
        return try parseJSONObject(body, duplicates: &duplicates)
    }

    static func parseJSONObject(_ body: [UInt8], duplicates: inout [String]) throws(Status) -> JSONObject {
        let value: JSONValue
        do {
            value = try JSONParser.parse(body, duplicateMembers: &duplicates)
        } catch {
            throw Status.badRequest("the body of the request was in an unknown format: \(error)")
        }
        guard case .object(let object) = value else { throw Status.badRequest("the body of the request must be a JSON object") }
        return object
    }

    static func unsupported(accepting types: [String]) -> Status {
        Status(code: 415, reason: .unsupportedMediaType,
               message: "the body of the request was in an unknown format - accepted media types include: \(types.joined(separator: ", "))")
    }
}
