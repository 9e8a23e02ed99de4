import WatchCache
import WatchCacheSchema

/// A PATCH request's body, parsed once (before the write takes the registry's lock), and applied to
/// an object by its content type: JSON patch, JSON merge patch, or — for objects whose message type
/// the schema describes — strategic merge patch. Server-side apply is not served.
struct RequestPatch: Sendable {
    enum Kind: Sendable { case merge, strategic, json }

    let kind: Kind
    let patch: JSONValue
    /// The members the patch's JSON objects repeat, by path.
    let duplicates: [String]

    /// Parses the request's patch; `strategic` says whether the resource accepts a strategic
    /// merge patch (415 otherwise, as kube-apiserver answers for custom resources).
    init(_ request: APIRequest, strategic: Bool) throws(Status) {
        switch RequestBody.mediaType(request, default: "") {
        case "application/merge-patch+json": kind = .merge
        case "application/strategic-merge-patch+json" where strategic: kind = .strategic
        case "application/json-patch+json": kind = .json
        default: throw RequestBody.unsupported(accepting: Self.accepted(strategic: strategic))
        }
        var duplicates: [String] = []
        do {
            patch = try JSONParser.parse(request.body, duplicateMembers: &duplicates)
        } catch {
            throw Status.badRequest("the body of the request was in an unknown format: \(error)")
        }
        self.duplicates = duplicates
    }

    /// `object` with the patch applied; `type` is the object's message type (strategic merge patch
    /// needs it).
    func apply(to object: JSONObject, type: MessageSchema?) throws(Status) -> JSONObject {
        let result: JSONValue
        switch kind {
        case .merge:
            result = MergePatch.apply(patch, to: .object(object))
        case .strategic:
            guard let type else { throw RequestBody.unsupported(accepting: Self.accepted(strategic: false)) }
            do {
                result = .object(try StrategicMergePatch.apply(patch, to: object, type: type, in: .builtIn))
            } catch {
                switch error.kind {
                case .badRequest: throw Status.badRequest(error.message)
                case .unprocessable: throw Status(code: 422, reason: .invalid, message: error.message)
                }
            }
        case .json:
            result = try JSONPatch.apply(patch, to: .object(object))
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
