/// The errors kube-apiserver returns, with its exact codes, reasons and messages.
extension Status {
    /// 400 BadRequest.
    public static func badRequest(_ message: String) -> Status {
        Status(code: 400, reason: .badRequest, message: message)
    }

    /// 500 InternalError, as kube-apiserver wraps unexpected errors.
    public static func internalError(_ message: String) -> Status {
        Status(code: 500, reason: .internalError, message: "Internal error occurred: \(message)",
               details: Details(causes: [Cause(reason: "", message: message)]))
    }

    /// 410 Expired for a watch that starts before the window: `too old resource version: R (O)`.
    public static func tooOldResourceVersion(_ requested: ResourceVersion, oldest: ResourceVersion) -> Status {
        Status(code: 410, reason: .expired, message: "too old resource version: \(requested) (\(oldest))")
    }

    /// 410 Expired for a LIST continue token whose version left the window.
    public static let continueExpired = Status(
        code: 410, reason: .expired,
        message: "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter."
    )

    /// 504 Timeout for a read at a version the cache did not reach within the wait.
    public static func tooLargeResourceVersion(_ requested: ResourceVersion, current: ResourceVersion) -> Status {
        Status(code: 504, reason: .timeout,
               message: "Timeout: Too large resource version: \(requested), current: \(current)",
               details: Details(causes: [Cause(reason: "ResourceVersionTooLarge", message: "Too large resource version")],
                                retryAfterSeconds: 1))
    }

    /// 404 NotFound: `pods "foo" not found`.
    public static func notFound(_ resource: ResourceDescriptor, name: String) -> Status {
        Status(code: 404, reason: .notFound, message: "\(resource.qualifiedPlural) \"\(name)\" not found",
               details: Details(name: name, group: resource.group, kind: resource.plural))
    }

    /// 409 AlreadyExists: `pods "foo" already exists`.
    public static func alreadyExists(_ resource: ResourceDescriptor, name: String) -> Status {
        Status(code: 409, reason: .alreadyExists, message: "\(resource.qualifiedPlural) \"\(name)\" already exists",
               details: Details(name: name, group: resource.group, kind: resource.plural))
    }

    /// 409 Conflict for an update from a stale `metadata.resourceVersion`.
    public static func conflict(_ resource: ResourceDescriptor, name: String) -> Status {
        Status(code: 409, reason: .conflict,
               message: "Operation cannot be fulfilled on \(resource.qualifiedPlural) \"\(name)\": the object has been modified; please apply your changes to the latest version and try again",
               details: Details(name: name, group: resource.group, kind: resource.plural))
    }

    /// 409 Conflict for a delete whose `preconditions.resourceVersion` does not match.
    public static func preconditionFailed(_ resource: ResourceDescriptor, name: String, expected: String, actual: ResourceVersion) -> Status {
        Status(code: 409, reason: .conflict,
               message: "Operation cannot be fulfilled on \(resource.qualifiedPlural) \"\(name)\": Precondition failed: ResourceVersion in precondition: \(expected), ResourceVersion in object meta: \(actual)",
               details: Details(name: name, group: resource.group, kind: resource.plural))
    }

    /// 422 Invalid with field errors: `<Kind>[.group] "<name>" is invalid: <errors>`.
    public static func invalid(kind: String, group: String, name: String, errors: [FieldError]) -> Status {
        let qualified = group.isEmpty ? kind : "\(kind).\(group)"
        let list = errors.count == 1 ? errors[0].description : "[" + errors.map(\.description).joined(separator: ", ") + "]"
        return Status(code: 422, reason: .invalid, message: "\(qualified) \"\(name)\" is invalid: \(list)",
                      details: Details(name: name, group: group, kind: kind,
                                       causes: errors.map { Cause(reason: $0.type.reason, message: $0.body, field: $0.field) }))
    }
}

/// One field validation error, as Kubernetes' `field.Error`.
public struct FieldError: Hashable, Sendable, CustomStringConvertible {
    /// The kind of problem (`field.ErrorType`).
    public enum ErrorType: Hashable, Sendable {
        case invalid(value: String)
        case forbidden
        case required
        case notSupported(value: String, supported: [String])

        var reason: String {
            switch self {
            case .invalid: "FieldValueInvalid"
            case .forbidden: "FieldValueForbidden"
            case .required: "FieldValueRequired"
            case .notSupported: "FieldValueNotSupported"
            }
        }
    }

    public var field: String
    public var type: ErrorType
    public var detail: String

    public init(field: String, type: ErrorType, detail: String) {
        self.field = field
        self.type = type
        self.detail = detail
    }

    /// The part after the field path, as `field.Error.ErrorBody()`.
    public var body: String {
        switch type {
        case .invalid(let value): return "Invalid value: \(Self.quoted(value)): \(detail)"
        case .forbidden: return "Forbidden: \(detail)"
        case .required: return detail.isEmpty ? "Required value" : "Required value: \(detail)"
        case .notSupported(let value, let supported):
            return "Unsupported value: \(Self.quoted(value)): supported values: " + supported.map(Self.quoted).joined(separator: ", ")
        }
    }

    /// A string value as Go's `%q` writes it: in quotes, with quotes, backslashes and control
    /// characters escaped.
    static func quoted(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\x" + (hex.count < 2 ? "0" + hex : hex)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    public var description: String { "\(field): \(body)" }
}
