import Foundation

/// A kubeconfig for one server, as k3s and kind write theirs: the server's address, the
/// authority its certificate chains to, and credentials — a bearer token or a client
/// certificate. `KUBECONFIG=FILE kubectl get pods` then verifies TLS.
public struct Kubeconfig: Sendable, Hashable {
    /// `https://127.0.0.1:6443`.
    public var server: String
    /// PEM of the authority (or self-signed certificate) clients verify the server against.
    public var authorityPEM: String
    public var token: String?
    public var clientCertificatePEM: String?
    public var clientKeyPEM: String?
    /// The name of its cluster, user and context.
    public var name = "watchcache"

    public init(server: String, authorityPEM: String, token: String? = nil) {
        self.server = server
        self.authorityPEM = authorityPEM
        self.token = token
    }

    /// The address clients reach a server bound to `bindAddress` at (the loopback address for a
    /// wildcard bind), as an `https` URL.
    public static func serverURL(bindAddress: String, port: Int) -> String {
        let host: String
        switch bindAddress {
        case "0.0.0.0", "": host = "127.0.0.1"
        case "::": host = "[::1]"
        default: host = bindAddress.contains(":") ? "[\(bindAddress)]" : bindAddress
        }
        return "https://\(host):\(port)"
    }

    /// The kubeconfig as YAML (every value quoted or base64).
    public func yaml() -> String {
        func data(_ pem: String) -> String { Data(pem.utf8).base64EncodedString() }
        var user = ""
        if let token { user += "    token: \(quoted(token))\n" }
        if let clientCertificatePEM { user += "    client-certificate-data: \(data(clientCertificatePEM))\n" }
        if let clientKeyPEM { user += "    client-key-data: \(data(clientKeyPEM))\n" }
        if user.isEmpty { user = "    {}\n" }
        return """
            apiVersion: v1
            kind: Config
            clusters:
            - name: \(quoted(name))
              cluster:
                server: \(quoted(server))
                certificate-authority-data: \(data(authorityPEM))
            users:
            - name: \(quoted(name))
              user:
            \(user)contexts:
            - name: \(quoted(name))
              context:
                cluster: \(quoted(name))
                user: \(quoted(name))
            current-context: \(quoted(name))

            """
    }

    /// Writes it to `path`, readable by its owner only (it holds credentials), replacing any file
    /// there atomically.
    public func write(to path: String) throws {
        let temporary = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(yaml().utf8), attributes: [.posixPermissions: 0o600]) else {
            throw KubeconfigError("cannot write \(temporary): \(String(cString: strerror(errno)))")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw KubeconfigError("cannot write \(path): \(reason)")
        }
    }

    private func quoted(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}

/// A kubeconfig that could not be written.
public struct KubeconfigError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
