import WatchCache

/// How a ``Server`` listens and what it serves.
public struct ServerConfiguration: Sendable {
    /// The address to listen on (`--bind-address`).
    public var bindAddress = "127.0.0.1"
    /// The cleartext port for HTTP/2 with prior knowledge and HTTP/1.1 (`--port`); `nil` serves none,
    /// 0 picks a free one.
    public var port: Int? = 8080
    /// The TLS port, with ALPN `h2` and `http/1.1` (`--secure-port`); `nil` serves none, 0 picks a free one.
    public var securePort: Int?
    /// The certificate the secure port presents; required with ``securePort``.
    public var tls: TLSIdentity?
    /// Bearer tokens required on every request but health and version (`--token-auth-file`); `nil`: open.
    public var authenticator: TokenAuthenticator?
    /// Client certificates signed by these authorities authenticate their subject on the secure
    /// port (`--client-ca-file`: CN the user, O the groups); with it, requests without a verified
    /// certificate or a valid token get 401.
    public var clientAuthority: ClientCertificateAuthority?
    public var limits = ServerLimits()
    /// The resources served.
    public var resources: [ResourceDescriptor] = ResourceDescriptor.builtIn
    /// Watches without `timeoutSeconds` end after a random time in [T, 2T) (`--min-request-timeout`).
    public var minRequestTimeout = 1800
    /// Log every request, not only failures (`--log-requests`).
    public var logRequests = false
    /// Read-only requests answered at once (`--max-requests-inflight`); more get 429. Watches are
    /// not counted. 0: no limit.
    public var maxRequestsInFlight = 400
    /// Writes answered at once (`--max-mutating-requests-inflight`); more get 429. 0: no limit.
    public var maxMutatingRequestsInFlight = 200
    /// kube-apiserver's NamespaceLifecycle: the system namespaces exist, and objects cannot be
    /// created in a namespace that does not exist (404) or is being deleted (403).
    public var namespaceLifecycle = true
    /// How often the caches' time-driven work (bookmarks, deadlines) runs.
    public var tickInterval: Duration = .milliseconds(100)
    /// Event loop threads; by default one per core.
    public var threads = System.coreCount

    public init() {}
}

#if canImport(Glibc)
import Glibc
#endif

enum System {
    static var coreCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }
}
