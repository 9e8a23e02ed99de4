import WatchCache
import WatchCacheSchema

/// A PATCH request's body applied to an object, by its content type: JSON patch, JSON merge patch,
/// or — for objects whose message type the schema describes — strategic merge patch. Server-side
/// apply is not served.
enum RequestPatch {
    /// `object` with the request's patch applied; `type` is the object's message type when known.
    /// Members the patch's JSON objects repeat are added to `duplicates`.
    static func apply(_ request: APIRequest, to object: JSONObject, type: MessageSchema?) throws(Status) -> JSONObject {
        var duplicates: [String] = []
        return try apply(request, to: object, type: type, duplicates: &duplicates)
    }

    static func apply(_ request: APIRequest, to object: JSONObject, type: MessageSchema?,
                      duplicates: inout [String]) throws(Status) -> JSONObject {
        let mediaType = RequestBody.mediaType(request, default: "")
        let patch: JSONValue
        do {
            patch = try JSONParser.parse(request.body, duplicateMembers: &duplicates)
        } catch {
            throw Status.badRequest("the body of the request was in an unknown format: \(error)")
        }
        let result: JSONValue
        switch mediaType {
        case "application/merge-patch+json":
            result = MergePatch.apply(patch, to: .object(object))
        case "application/strategic-merge-patch+json" where type != nil:
            do {
                result = .object(try StrategicMergePatch.apply(patch, to: object, type: type!, in: .builtIn))
            } catch {
                switch error.kind {
                case .badRequest: throw Status.badRequest(error.message)
                case .unprocessable: throw Status(code: 422, reason: .invalid, message: error.message)
                }
            }
        case "application/json-patch+json":
            result = try JSONPatch.apply(patch, to: .object(object))
        default:
            throw RequestBody.unsupported(accepting: accepted(strategic: type != nil))
        }
        guard case .object(let patched) = result else { throw Status.badRequest("the patched object is not a JSON object") }
        return patched
    }

    /// The patch types a resource accepts: strategic merge patch only where the schema gives the
    /// merge keys (kube-apiserver answers it with 415 for custom resources, and kubectl then falls
    /// back to a JSON merge patch).
    static func accepted(strategic: Bool) -> [String] {
        strategic
            ? ["application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json"]
            : ["application/json-patch+json", "application/merge-patch+json"]
    }
}
