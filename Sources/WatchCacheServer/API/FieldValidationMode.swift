import Synchronization
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
    /// Values of the wrong type fail the write in every mode, as they fail Go's decoder.
    func apply(_ object: inout JSONObject, strategy: WriteStrategy, duplicates: [String] = []) throws(Status) -> [String] {
        let kind = strategy.kind
        let unknown: [String]
        do {
            unknown = try FieldValidation.prune(&object, as: strategy.type, in: .builtIn)
        } catch {
            throw Status.badRequest("\(kind.kind) in version \"\(kind.version)\" cannot be handled as a \(kind.kind): \(error)")
        }
        let problems = duplicates.map { "duplicate field \"\($0)\"" } + unknown.map { "unknown field \"\($0)\"" }
        guard !problems.isEmpty else { return [] }
        switch self {
        case .strict:
            throw Status.badRequest("\(kind.kind) in version \"\(kind.version)\" cannot be handled as a \(kind.kind): "
                                    + "strict decoding error: \(problems.joined(separator: ", "))")
        case .warn:
            return problems
        case .ignore:
            return []
        }
    }
}

/// Warnings gathered while a write runs (inside the registry's transform), for its response.
final class WriteWarnings: Sendable {
    private let messages = Mutex<[String]>([])

    func add(_ new: [String]) {
        if !new.isEmpty { messages.withLock { $0 += new } }
    }

    /// `Warning` headers (RFC 7234 code 299) for the response.
    var headers: [(String, String)] {
        messages.withLock { $0 }.map { message in
            var escaped = ""
            for c in message {
                if c == "\\" || c == "\"" { escaped.append("\\") }
                escaped.append(c)
            }
            return ("warning", "299 - \"\(escaped)\"")
        }
    }
}
