import WatchCache
import WatchCacheSchema

/// The `fieldValidation` query parameter of writes: what to do with fields the kind does not have.
/// `Strict` rejects the write, `Warn` (the default, as in kube-apiserver) drops them and says so in
/// `Warning` headers, `Ignore` drops them silently.
enum FieldValidationMode: Sendable {
    case strict, warn, ignore

    init(_ request: APIRequest) throws(Status) {
        switch request.query.last(where: { $0.0 == "fieldValidation" })?.1 {
        case nil, "", "Warn"?: self = .warn
        case "Strict"?: self = .strict
        case "Ignore"?: self = .ignore
        case let other?:
            throw Status.badRequest("fieldValidation parameter unsupported: \(other)")
        }
    }

    /// Drops the fields of `object` that `strategy`'s kind does not have; returns the warnings to
    /// send. `duplicates` are the members the request's JSON repeated (the last one was kept).
    /// Values of the wrong type fail the write in every mode, as they fail Go's decoder. For a
    /// patch (`patch`: the object's name and the patch as sent) failures are `422 Invalid` on the
    /// field `patch`, as kube-apiserver reports them; for a body, `400 BadRequest`.
    func apply(_ object: inout JSONObject, strategy: WriteStrategy, duplicates: [String] = [],
               patch: (name: String, body: [UInt8])? = nil) throws(Status) -> [String] {
        let kind = strategy.kind
        func failure(_ detail: String) -> Status {
            if let patch {
                return Status.invalid(kind: kind.kind, group: kind.group, name: patch.name,
                                      errors: [FieldError(field: "patch", type: .invalid(value: String(decoding: patch.body.prefix(1024), as: UTF8.self)),
                                                          detail: detail)])
            }
            return Status.badRequest("\(kind.kind) in version \"\(kind.version)\" cannot be handled as a \(kind.kind): \(detail)")
        }
        let unknown: [String]
        do {
            unknown = try FieldValidation.prune(&object, as: strategy.type, in: .builtIn)
        } catch {
            throw failure(error.description)
        }
        let problems = duplicates.map { "duplicate field \"\($0)\"" } + unknown.map { "unknown field \"\($0)\"" }
        guard !problems.isEmpty else { return [] }
        switch self {
        case .strict:
            throw failure("strict decoding error: \(problems.joined(separator: ", "))")
        case .warn:
            return problems
        case .ignore:
            return []
        }
    }
}
