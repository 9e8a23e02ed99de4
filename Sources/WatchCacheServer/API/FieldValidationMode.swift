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

/// Warnings gathered while a write runs (inside the registry's transform), for its response.
///
/// As kube-apiserver's warning recorder: a message with control characters is dropped (it could
/// not be a header), repeats are dropped, each message is cut at 256 characters and the whole at
/// 4,096 (later ones are left out).
final class WriteWarnings: Sendable {
    private let messages = Mutex<[String]>([])
    static let messageLimit = 256
    static let totalLimit = 4096

    func add(_ new: [String]) {
        guard !new.isEmpty else { return }
        messages.withLock { messages in
            var total = messages.reduce(0) { $0 + $1.count }
            for message in new {
                guard !message.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { continue }
                let text = message.count > Self.messageLimit ? String(message.prefix(Self.messageLimit)) : message
                guard !messages.contains(text), total + text.count <= Self.totalLimit else { continue }
                messages.append(text)
                total += text.count
            }
        }
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
