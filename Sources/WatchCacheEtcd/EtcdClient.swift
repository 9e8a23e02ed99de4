import GRPCCore
import GRPCNIOTransportHTTP2
import WatchCache

/// One gRPC channel to an etcd cluster — a connection to every member of `--etcd-servers`, calls
/// spread over the members that answer (round robin: a member that stops answering is dropped
/// from the rotation when its keepalive fails, while the others carry on) — and etcd's KV, Watch
/// and Maintenance services over it.
final class EtcdClient: Sendable {
    typealias Transport = HTTP2ClientTransport.Posix

    let grpc: GRPCClient<Transport>
    let kv: Etcdserverpb_KV.Client<Transport>
    let watch: Etcdserverpb_Watch.Client<Transport>
    let maintenance: Etcdserverpb_Maintenance.Client<Transport>
    private let connections: Task<Void, Never>

    /// Connects to `endpoints`; the connections' task runs on `executor` (``EtcdExecutor`` for
    /// the storage; the global pool, `nil`, for the benchmark's raw etcd clients).
    init(endpoints: EtcdEndpoints, executor: (any TaskExecutor)? = EtcdExecutor.shared) throws {
        let target: any ResolvableTarget
        let pairs = endpoints.members.map { (host: $0.host, port: $0.port) }
        if pairs.allSatisfy({ Self.isIPv4($0.host) }) {
            target = .ipv4(pairs: pairs)
        } else if pairs.allSatisfy({ $0.host.contains(":") }) {
            target = .ipv6(pairs: pairs)
        } else if pairs.count == 1 {
            target = .dns(host: pairs[0].host, port: pairs[0].port)
        } else {
            throw EtcdError.configuration("--etcd-servers: several members must be given by IP address (one may be a host name)")
        }
        let security: Transport.TransportSecurity
        if endpoints.secure {
            var tls = Transport.TransportSecurity.TLS.defaults
            if let ca = endpoints.caFile { tls.trustRoots = .certificates([.file(path: ca, format: .pem)]) }
            if let cert = endpoints.certFile, let key = endpoints.keyFile {
                tls.certificateChain = [.file(path: cert, format: .pem)]
                tls.privateKey = .file(path: key, format: .pem)
            }
            security = .tls(tls)
        } else {
            security = .plaintext
        }
        var config = Transport.Config.defaults
        // A member that stops answering is noticed within 9 s and left for the others. Pings every
        // 6 s: etcd's policy (--grpc-keepalive-min-time 5 s) closes connections that ping more
        // often. They go on without calls too, as grpc-swift's keepalive never restarts once a
        // connection that requires calls has been idle; etcd answers three idle pings with a
        // GOAWAY, which costs an idle connection a reconnect and nothing else.
        config.connection.keepalive = .init(time: .seconds(6), timeout: .seconds(3), allowWithoutCalls: true)
        config.backoff = .init(initial: .milliseconds(100), max: .seconds(2), multiplier: 1.6, jitter: 0.2)
        // etcd PINGs with nearly every request; the HTTP/2 layer would take that for a flood.
        config.channelDebuggingCallbacks.onCreateTCPConnection = { PingResponder.install(on: $0) }
        let transport = try Transport(target: target, transportSecurity: security, config: config,
                                      serviceConfig: ServiceConfig(loadBalancingConfig: [.roundRobin]))
        let grpc = GRPCClient(transport: transport)
        self.grpc = grpc
        kv = Etcdserverpb_KV.Client(wrapping: grpc)
        watch = Etcdserverpb_Watch.Client(wrapping: grpc)
        maintenance = Etcdserverpb_Maintenance.Client(wrapping: grpc)
        connections = Task(executorPreference: executor) { try? await grpc.runConnections() }
    }

    /// Stops the channel once the calls in flight have finished.
    func close() {
        grpc.beginGracefulShutdown()
    }

    /// Options for a unary call: it fails after `timeout` rather than wait for etcd forever.
    static func unary(timeout: Duration = .seconds(10)) -> CallOptions {
        var options = streaming
        options.timeout = timeout
        return options
    }

    /// Options for every call: messages of any size etcd sends (a page of large objects, a watcher's
    /// backlog in one response — past grpc-swift's 4 MiB default the call failed, and a feed that
    /// resumed would fail on the same backlog again), as kube-apiserver lifts its etcd client's limit.
    static var streaming: CallOptions {
        var options = CallOptions.defaults
        options.waitForReady = true
        options.maxRequestMessageBytes = Int(Int32.max)
        options.maxResponseMessageBytes = Int(Int32.max)
        return options
    }

    private static func isIPv4(_ host: String) -> Bool {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { UInt8($0) != nil }
    }
}

extension RPCError {
    /// etcd's `ErrCompacted` (`OutOfRange`, "required revision has been compacted").
    var isCompacted: Bool {
        code == .outOfRange && message.contains("compacted")
    }

    /// The failure as the API's clients see it: etcd unreachable or slow is 503 / 504 (retry),
    /// anything else 500.
    var status: WatchCache.Status {
        switch code {
        case .deadlineExceeded:
            WatchCache.Status(code: 504, reason: .timeout, message: "etcd did not answer in time: \(message)", details: .init(retryAfterSeconds: 1))
        case .unavailable, .cancelled:
            WatchCache.Status(code: 503, reason: .serviceUnavailable, message: "etcd is unavailable: \(message)", details: .init(retryAfterSeconds: 1))
        default:
            .internalError("etcd: \(code): \(message)")
        }
    }
}
