/// A Kubernetes `Status` error: what a client sees as the body of an error response, or as the
/// object of a watch `ERROR` event.
public struct Status: Error, Sendable, Hashable, CustomStringConvertible {
    /// The machine-readable reason (`metav1.StatusReason`).
    public struct Reason: RawRepresentable, Hashable, Sendable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        public static let badRequest = Reason(rawValue: "BadRequest")
        public static let unauthorized = Reason(rawValue: "Unauthorized")
        public static let forbidden = Reason(rawValue: "Forbidden")
        public static let notFound = Reason(rawValue: "NotFound")
        public static let methodNotAllowed = Reason(rawValue: "MethodNotAllowed")
        public static let alreadyExists = Reason(rawValue: "AlreadyExists")
        public static let conflict = Reason(rawValue: "Conflict")
        public static let gone = Reason(rawValue: "Gone")
        public static let expired = Reason(rawValue: "Expired")
        public static let requestEntityTooLarge = Reason(rawValue: "RequestEntityTooLarge")
        public static let unsupportedMediaType = Reason(rawValue: "UnsupportedMediaType")
        public static let invalid = Reason(rawValue: "Invalid")
        public static let tooManyRequests = Reason(rawValue: "TooManyRequests")
        public static let internalError = Reason(rawValue: "InternalError")
        public static let timeout = Reason(rawValue: "Timeout")
        public static let serviceUnavailable = Reason(rawValue: "ServiceUnavailable")
        public static let notAcceptable = Reason(rawValue: "NotAcceptable")
    }

    /// One cause in `details.causes`.
    public struct Cause: Hashable, Sendable {
        public var reason: String
        public var message: String
        public var field: String?
        public init(reason: String, message: String, field: String? = nil) {
            self.reason = reason
            self.message = message
            self.field = field
        }
    }

    /// `details` of a Status.
    public struct Details: Hashable, Sendable {
        public var name: String?
        public var group: String?
        public var kind: String?
        public var causes: [Cause] = []
        public var retryAfterSeconds: Int?
        public init(name: String? = nil, group: String? = nil, kind: String? = nil, causes: [Cause] = [], retryAfterSeconds: Int? = nil) {
            self.name = name
            self.group = group
            self.kind = kind
            self.causes = causes
            self.retryAfterSeconds = retryAfterSeconds
        }
    }

    /// The HTTP status code.
    public var code: Int
    public var reason: Reason
    public var message: String
    public var details: Details?

    public init(code: Int, reason: Reason, message: String, details: Details? = nil) {
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
    }

    public var description: String { "\(code) \(reason.rawValue): \(message)" }

    /// The `Status` object as JSON, in kube-apiserver's member order.
    public var json: JSONValue {
        var object = JSONObject()
        object["kind"] = .string("Status")
        object["apiVersion"] = .string("v1")
        object["metadata"] = .object(JSONObject())
        object["status"] = .string("Failure")
        object["message"] = .string(message)
        object["reason"] = .string(reason.rawValue)
        if let details {
            var d = JSONObject()
            if let name = details.name { d["name"] = .string(name) }
            if let group = details.group, !group.isEmpty { d["group"] = .string(group) }
            if let kind = details.kind { d["kind"] = .string(kind) }
            if !details.causes.isEmpty {
                d["causes"] = .array(details.causes.map { cause in
                    var c = JSONObject()
                    c["reason"] = .string(cause.reason)
                    c["message"] = .string(cause.message)
                    if let field = cause.field { c["field"] = .string(field) }
                    return .object(c)
                })
            }
            if let retry = details.retryAfterSeconds { d["retryAfterSeconds"] = .number(String(retry)) }
            object["details"] = .object(d)
        }
        object["code"] = .number(String(code))
        return .object(object)
    }

    /// The compact JSON encoding of ``json``.
    public var encoded: [UInt8] { JSONWriter.encode(json) }
}
