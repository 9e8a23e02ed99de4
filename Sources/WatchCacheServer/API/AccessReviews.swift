import WatchCache
import WatchCacheSchema

/// The reviews a client posts to learn who it is and what it may do — `kubectl auth whoami`
/// (`SelfSubjectReview`), `kubectl auth can-i` (`SelfSubjectAccessReview`) and `can-i --list`
/// (`SelfSubjectRulesReview`) — answered as kube-apiserver answers them with
/// `--authorization-mode=AlwaysAllow`, which is this server's authorization: whoever authenticates
/// (or anyone, on an open server) may do everything.
///
/// Create-only and stored nowhere: the answer is the posted review with its `status` filled in.
/// Bodies come as JSON or as protobuf (kubectl's typed clients send protobuf); answers are JSON,
/// which those clients accept.
enum AccessReviews {
    static let authentication = "authentication.k8s.io"
    static let authorization = "authorization.k8s.io"

    /// The review kinds by group and plural.
    static let kinds: [String: String] = [
        "\(authentication)/selfsubjectreviews": "SelfSubjectReview",
        "\(authorization)/selfsubjectaccessreviews": "SelfSubjectAccessReview",
        "\(authorization)/selfsubjectrulesreviews": "SelfSubjectRulesReview",
    ]

    /// Whether `group/version/plural` (with no namespace, name or subresource) is a review.
    static func serves(group: String, version: String, plural: String) -> Bool {
        version == "v1" && kinds["\(group)/\(plural)"] != nil
    }

    /// The answer to `request` for the review at `group/plural`: 201 with the review and its
    /// status; 405 for anything but POST; 400 for a body that is not the review.
    static func answer(_ request: APIRequest, group: String, plural: String, user: AuthenticatedUser?) throws(Status) -> APIResponse {
        let kind = kinds["\(group)/\(plural)"]!
        guard request.method == "POST" else {
            throw Status(code: 405, reason: .methodNotAllowed, message: "the server does not allow this method on the requested resource")
        }
        let spec = try Self.spec(of: request, kind: kind)
        var review = JSONObject([
            ("kind", .string(kind)), ("apiVersion", .string("\(group)/v1")),
            ("metadata", .object(JSONObject([("creationTimestamp", .null)]))),
        ])
        switch kind {
        case "SelfSubjectReview":
            var info = JSONObject([("username", .string(user?.name ?? "system:anonymous"))])
            if let uid = user?.uid, !uid.isEmpty { info["uid"] = .string(uid) }
            let groups = user.map { $0.groups + ($0.groups.contains("system:authenticated") ? [] : ["system:authenticated"]) }
                ?? ["system:unauthenticated"]
            info["groups"] = .array(groups.map { .string($0) })
            review["status"] = .object(JSONObject([("userInfo", .object(info))]))
        case "SelfSubjectAccessReview":
            review["spec"] = .object(spec)
            review["status"] = .object(JSONObject([("allowed", .bool(true))]))
        default:
            review["spec"] = .object(spec)
            review["status"] = .object(JSONObject([
                ("resourceRules", .array([.object(JSONObject([
                    ("verbs", .array([.string("*")])), ("apiGroups", .array([.string("*")])), ("resources", .array([.string("*")])),
                ]))])),
                ("nonResourceRules", .array([.object(JSONObject([
                    ("verbs", .array([.string("*")])), ("nonResourceURLs", .array([.string("*")])),
                ]))])),
                ("incomplete", .bool(false)),
            ]))
        }
        return .json(.object(review), status: 201)
    }

    /// The posted review's `spec`, from JSON or protobuf.
    private static func spec(of request: APIRequest, kind: String) throws(Status) -> JSONObject {
        if request.body.starts(with: ProtobufDecoder.magic) {
            do {
                let envelope = try ProtobufDecoder.envelope(request.body)
                guard envelope.kind.isEmpty || envelope.kind == kind else {
                    throw Status.badRequest("the body is a \(envelope.kind), not a \(kind)")
                }
                return try protobufSpec(envelope.raw, kind: kind)
            } catch let error as ProtobufError {
                throw Status.badRequest("the body of the \(kind) is not valid protobuf: \(error)")
            } catch let status as Status {
                throw status
            } catch {
                throw Status.badRequest("\(error)")
            }
        }
        guard !request.body.isEmpty else { throw Status.badRequest("a \(kind) needs a body") }
        let body: JSONObject
        do {
            body = try JSONObject(parsing: String(decoding: request.body, as: UTF8.self))
        } catch {
            throw Status.badRequest("the body of the \(kind) is not valid JSON: \(error)")
        }
        if let given = body["kind"]?.stringValue, !given.isEmpty, given != kind {
            throw Status.badRequest("the body is a \(given), not a \(kind)")
        }
        return body["spec"]?.objectValue ?? JSONObject()
    }

    /// The `spec` of a review's protobuf message (`authorization/v1`'s field numbers).
    private static func protobufSpec(_ raw: ArraySlice<UInt8>, kind: String) throws(ProtobufError) -> JSONObject {
        guard kind != "SelfSubjectReview" else { return JSONObject() }
        guard let spec = try field(2, in: raw) else { return JSONObject() }
        if kind == "SelfSubjectRulesReview" {
            return try strings(spec, [(1, "namespace")])
        }
        var result = JSONObject()
        if let attributes = try field(1, in: spec) {
            var resource = try strings(attributes, [(1, "namespace"), (2, "verb"), (3, "group"), (4, "version"), (5, "resource"),
                                                    (6, "subresource"), (7, "name")])
            // Field and label selectors: their text (`rawSelector`).
            for (number, name) in [(8, "fieldSelector"), (9, "labelSelector")] {
                if let selector = try field(number, in: attributes) {
                    resource[name] = .object(try strings(selector, [(1, "rawSelector")]))
                }
            }
            result["resourceAttributes"] = .object(resource)
        }
        if let attributes = try field(2, in: spec) {
            result["nonResourceAttributes"] = .object(try strings(attributes, [(1, "path"), (2, "verb")]))
        }
        return result
    }

    /// The last length-delimited field `number` of `message`.
    private static func field(_ number: Int, in message: ArraySlice<UInt8>) throws(ProtobufError) -> ArraySlice<UInt8>? {
        var reader = ProtobufReader(message)
        var found: ArraySlice<UInt8>?
        while !reader.isAtEnd {
            let tag = try reader.readTag()
            if tag.number == number, tag.wireType == .lengthDelimited {
                found = try reader.readLengthDelimited()
            } else {
                try reader.skip(tag.wireType, number: tag.number)
            }
        }
        return found
    }

    /// The string fields `names` of `message`, under their JSON names; empty ones left out, as Go omits them.
    private static func strings(_ message: ArraySlice<UInt8>, _ names: [(Int, String)]) throws(ProtobufError) -> JSONObject {
        var result = JSONObject()
        for (number, name) in names {
            if let value = try field(number, in: message), !value.isEmpty {
                result[name] = .string(String(decoding: value, as: UTF8.self))
            }
        }
        return result
    }
}
