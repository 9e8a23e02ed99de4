/// Who a request comes from, once authenticated: by a bearer token (``TokenAuthenticator``) or a
/// client certificate (``ClientCertificateAuthority``).
public struct AuthenticatedUser: Sendable, Hashable {
    public var name: String
    public var uid: String
    public var groups: [String]

    public init(name: String, uid: String = "", groups: [String] = []) {
        self.name = name
        self.uid = uid
        self.groups = groups
    }
}
