import WatchCache

/// How a ``Server`` listens and what it serves.
public struct ServerConfiguration: Sendable {
    /// The address to listen on (`--bind-address`).
    public var bindAddress = "127.0.0.1"
    /// The cleartext port for HTTP/2 with prior knowledge and HTTP/1.1 (`--port`); 0 picks a free one.
    public var port = 8080
    public var limits = ServerLimits()
    /// The resources served.
    public var resources: [ResourceDescriptor] = ResourceDescriptor.builtIn
    /// Watches without `timeoutSeconds` end after a random time in [T, 2T) (`--min-request-timeout`).
    public var minRequestTimeout = 1800
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
