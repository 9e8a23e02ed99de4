/// The opaque `continue` token of a paginated LIST: the version all pages reflect and the last key
/// returned, base64url-encoded.
struct ContinueToken: Equatable {
    var resourceVersion: ResourceVersion
    var lastKey: String

    var encoded: String {
        Base64.encode(Array("\(resourceVersion.rawValue)\u{0}\(lastKey)".utf8), url: true)
    }

    init(resourceVersion: ResourceVersion, lastKey: String) {
        self.resourceVersion = resourceVersion
        self.lastKey = lastKey
    }

    /// Decodes a token, or throws 400 BadRequest as kube-apiserver does for one it cannot read.
    init(decoding token: String) throws(Status) {
        guard let bytes = Base64.decode(token, url: true), let text = String(validating: bytes, as: UTF8.self),
              let separator = text.firstIndex(of: "\u{0}"),
              let rv = ResourceVersion(wire: text[..<separator]) else {
            throw Status.badRequest("continue key is not valid: the continue token could not be decoded")
        }
        self.resourceVersion = rv
        self.lastKey = String(text[text.index(after: separator)...])
    }
}
