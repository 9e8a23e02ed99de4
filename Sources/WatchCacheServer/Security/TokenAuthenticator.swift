import WatchCache

/// kube-apiserver's static token file (`--token-auth-file`): CSV lines `token,user,uid[,"group1,group2"]`.
/// A request must carry `Authorization: Bearer <token>` with one of them.
public struct TokenAuthenticator: Sendable {
    /// Who a token belongs to.
    public typealias User = AuthenticatedUser

    private let users: [String: User]
    /// The file's first token (a kubeconfig written at start-up carries it).
    public let firstToken: String

    /// Parses the file's contents; a malformed line is an error naming its number.
    public init(csv: String) throws {
        var users: [String: User] = [:]
        var first: String?
        for (index, rawLine) in csv.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimming( " \t\r")
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = Self.csvFields(line)
            guard fields.count >= 3, !fields[0].isEmpty else {
                throw TokenFileError("token file line \(index + 1): expected token,user,uid[,\"groups\"]")
            }
            let groups = fields.count > 3 ? fields[3].split(separator: ",").map { $0.trimming( " ") } : []
            users[fields[0]] = User(name: fields[1], uid: fields[2], groups: groups)
            if first == nil { first = fields[0] }
        }
        guard !users.isEmpty, let first else { throw TokenFileError("token file has no tokens") }
        self.users = users
        self.firstToken = first
    }

    /// The user of the `Authorization` header's bearer token, if valid.
    public func authenticate(authorization: String?) -> User? {
        guard let authorization, authorization.hasPrefix("Bearer ") else { return nil }
        return users[String(authorization.dropFirst("Bearer ".count)).trimming( " ")]
    }

    /// The body kube-apiserver answers an unauthenticated request with.
    static let unauthorized = Status(code: 401, reason: .unauthorized, message: "Unauthorized")

    /// Paths kube-apiserver serves without authentication.
    static func isPublic(_ path: String) -> Bool {
        ["/healthz", "/livez", "/readyz", "/version"].contains { path == $0 || path.hasPrefix($0 + "/") }
    }

    private static func csvFields(_ line: String) -> [String] {
        var fields: [String] = []
        var current = ""
        var quoted = false
        for c in line {
            if c == "\"" { quoted.toggle() } else if c == ",", !quoted {
                fields.append(current.trimming( " "))
                current = ""
            } else { current.append(c) }
        }
        fields.append(current.trimming( " "))
        return fields
    }
}

/// A token file that cannot be used.
public struct TokenFileError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
