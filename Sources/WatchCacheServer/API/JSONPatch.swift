import WatchCache

/// JSON Patch (RFC 6902): `add`, `remove`, `replace`, `move`, `copy`, `test`, with JSON Pointer
/// paths (RFC 6901). A failed operation or test is a 422 Invalid, as kube-apiserver answers.
enum JSONPatch {
    static func apply(_ patch: JSONValue, to target: JSONValue) throws(Status) -> JSONValue {
        guard case .array(let operations) = patch else { throw Status.badRequest("a JSON patch must be an array of operations") }
        var document = target
        for op in operations {
            guard case .object(let o) = op, let name = o["op"]?.stringValue, let path = o["path"]?.stringValue else {
                throw Status.badRequest("invalid JSON patch operation: \(JSONWriter.text(op))")
            }
            let pointer = try parsePointer(path)
            switch name {
            case "add": document = try add(o["value"] ?? .null, at: pointer, in: document)
            case "remove": document = try remove(at: pointer, in: document).document
            case "replace":
                document = try remove(at: pointer, in: document).document
                document = try add(o["value"] ?? .null, at: pointer, in: document)
            case "move", "copy":
                guard let from = o["from"]?.stringValue else { throw Status.badRequest("\(name) needs \"from\"") }
                let fromPointer = try parsePointer(from)
                let value = try get(fromPointer, in: document)
                if name == "move" { document = try remove(at: fromPointer, in: document).document }
                document = try add(value, at: pointer, in: document)
            case "test":
                guard try get(pointer, in: document) == (o["value"] ?? .null) else { throw invalid("testing value \(path) failed") }
            default:
                throw Status.badRequest("unknown JSON patch operation \"\(name)\"")
            }
        }
        return document
    }


    private static func invalid(_ message: String) -> Status {
        Status(code: 422, reason: .invalid, message: "the server rejected our request due to an error in our request: \(message)")
    }

    private static func parsePointer(_ path: String) throws(Status) -> [String] {
        if path.isEmpty { return [] }
        guard path.hasPrefix("/") else { throw Status.badRequest("invalid JSON pointer \"\(path)\"") }
        return path.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            String($0).replacing("~1", with: "/").replacing("~0", with: "~")
        }
    }

    private static func get(_ pointer: [String], in document: JSONValue) throws(Status) -> JSONValue {
        var current = document
        for token in pointer {
            switch current {
            case .object(let o):
                guard let next = o[token] else { throw invalid("path /\(pointer.joined(separator: "/")) does not exist") }
                current = next
            case .array(let a):
                guard let i = Int(token), a.indices.contains(i) else { throw invalid("path /\(pointer.joined(separator: "/")) does not exist") }
                current = a[i]
            default:
                throw invalid("path /\(pointer.joined(separator: "/")) does not exist")
            }
        }
        return current
    }

    private static func add(_ value: JSONValue, at pointer: [String], in document: JSONValue) throws(Status) -> JSONValue {
        guard let token = pointer.first else { return value }
        let rest = Array(pointer.dropFirst())
        switch document {
        case .object(var o):
            if rest.isEmpty { o[token] = value } else {
                guard let child = o[token] else { throw invalid("path /\(pointer.joined(separator: "/")) does not exist") }
                o[token] = try add(value, at: rest, in: child)
            }
            return .object(o)
        case .array(var a):
            if rest.isEmpty {
                if token == "-" { a.append(value) } else {
                    guard let i = Int(token), i >= 0, i <= a.count else { throw invalid("index \(token) out of range") }
                    a.insert(value, at: i)
                }
            } else {
                guard let i = Int(token), a.indices.contains(i) else { throw invalid("index \(token) out of range") }
                a[i] = try add(value, at: rest, in: a[i])
            }
            return .array(a)
        default:
            throw invalid("path /\(pointer.joined(separator: "/")) does not exist")
        }
    }

    private static func remove(at pointer: [String], in document: JSONValue) throws(Status) -> (document: JSONValue, removed: JSONValue) {
        guard let token = pointer.first else { throw invalid("cannot remove the whole document") }
        let rest = Array(pointer.dropFirst())
        switch document {
        case .object(var o):
            guard let child = o[token] else { throw invalid("path /\(pointer.joined(separator: "/")) does not exist") }
            if rest.isEmpty {
                o[token] = nil
                return (.object(o), child)
            }
            let (updated, removed) = try remove(at: rest, in: child)
            o[token] = updated
            return (.object(o), removed)
        case .array(var a):
            guard let i = Int(token), a.indices.contains(i) else { throw invalid("index \(token) out of range") }
            if rest.isEmpty { return (.array(a), a.remove(at: i)) }
            let (updated, removed) = try remove(at: rest, in: a[i])
            a[i] = updated
            return (.array(a), removed)
        default:
            throw invalid("path /\(pointer.joined(separator: "/")) does not exist")
        }
    }
}
