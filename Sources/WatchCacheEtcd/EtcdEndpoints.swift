/// `--etcd-servers` and the TLS files that go with it.
public struct EtcdEndpoints: Sendable, Equatable {
    public struct Member: Sendable, Equatable {
        public var host: String
        public var port: Int
    }

    public var members: [Member]
    /// Whether the URLs say `https`.
    public var secure: Bool
    /// `--etcd-cafile`: the CA that signed the members' certificates (system roots without it).
    public var caFile: String?
    /// `--etcd-certfile` and `--etcd-keyfile`: this client's certificate and key, for mutual TLS.
    public var certFile: String?
    public var keyFile: String?

    /// Parses a comma-separated list of `http://host:port` or `https://host:port` URLs, as
    /// kube-apiserver's `--etcd-servers` takes them. Every URL has the same scheme.
    public init(parsing list: String, caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil) throws(EtcdError) {
        var members: [Member] = []
        var schemes: Set<String> = []
        for raw in list.split(separator: ",") {
            let url = raw.trimmingCharacters(in: " ")
            guard let schemeEnd = url.range(of: "://") else {
                throw EtcdError.configuration("--etcd-servers: \(url) is not a URL (http://host:port)")
            }
            let scheme = String(url[..<schemeEnd.lowerBound])
            guard scheme == "http" || scheme == "https" else {
                throw EtcdError.configuration("--etcd-servers: \(url): the scheme must be http or https")
            }
            schemes.insert(scheme)
            var authority = url[schemeEnd.upperBound...]
            if let slash = authority.firstIndex(of: "/") { authority = authority[..<slash] }
            guard let colon = authority.lastIndex(of: ":"), let port = Int(authority[authority.index(after: colon)...]),
                  (1...65535).contains(port), colon > authority.startIndex else {
                throw EtcdError.configuration("--etcd-servers: \(url) needs a host and a port (http://127.0.0.1:2379)")
            }
            var host = String(authority[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            members.append(Member(host: host, port: port))
        }
        guard !members.isEmpty else { throw EtcdError.configuration("--etcd-servers is empty") }
        guard schemes.count == 1 else { throw EtcdError.configuration("--etcd-servers: mixes http and https URLs") }
        if (certFile == nil) != (keyFile == nil) {
            throw EtcdError.configuration("--etcd-certfile and --etcd-keyfile go together")
        }
        self.members = members
        self.secure = schemes.first == "https"
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
        if !secure && (caFile != nil || certFile != nil) {
            throw EtcdError.configuration("--etcd-cafile, --etcd-certfile and --etcd-keyfile need https:// URLs in --etcd-servers")
        }
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return String(s)
    }
}
