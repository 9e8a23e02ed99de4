/// Why a byte sequence is not an acceptable JSON document.
public struct JSONError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Byte offset where the problem was found.
    public let offset: Int
    /// What is wrong, in words.
    public let reason: String

    public var description: String { "invalid JSON at byte \(offset): \(reason)" }
}
