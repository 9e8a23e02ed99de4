import WatchCache

/// A strategic merge patch that cannot be applied, with kube-apiserver's message for it.
public struct PatchError: Error, Equatable, CustomStringConvertible {
    /// How kube-apiserver answers the error.
    public enum Kind: Sendable, Equatable {
        /// A malformed patch: `400 BadRequest`.
        case badRequest
        /// A patch kube-apiserver cannot process (lists of lists): `422 Unprocessable Entity`.
        case unprocessable
    }

    public let kind: Kind
    public let message: String
    public var description: String { message }

    init(_ kind: Kind = .badRequest, _ message: String) {
        self.kind = kind
        self.message = message
    }

    static let badJSONDocument = PatchError(.badRequest, "invalid JSON document")
    static let listOfLists = PatchError(.unprocessable, "lists of lists are not supported")
    static let badPrimitiveListFormat = PatchError(.badRequest, "invalid patch format of primitive list")
    static let badRetainKeysFormat = PatchError(.badRequest, "invalid patch format of retainKeys")
    static let badSetElementOrderFormat = PatchError(.badRequest, "invalid patch format of setElementOrder list")

    static func noMergeKey(_ element: JSONValue, _ key: String) -> PatchError {
        PatchError(.badRequest, "map: \(JSONWriter.text(element)) does not contain declared merge key: \(key)")
    }

    static func unknownPatchType(_ directive: JSONValue, _ object: JSONObject) -> PatchError {
        PatchError(.badRequest, "unknown patch type: \(JSONWriter.text(directive)) in map: \(JSONWriter.text(.object(object)))")
    }

    /// Go's name for the type a JSON value decodes to, as its messages say it.
    private static func kindName(_ value: JSONValue) -> String {
        switch value {
        case .null: return "nil"
        case .bool: return "bool"
        case .number: return "number"
        case .string: return "string"
        case .array: return "list"
        case .object: return "map"
        }
    }

    static func badArgument(expected: String, _ value: JSONValue) -> PatchError {
        PatchError(.badRequest, "expected a \(expected), but received a \(kindName(value))")
    }
}
