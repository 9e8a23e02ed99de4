import Logging
import Synchronization
import NIOCore
import NIOPosix
import NIOSSL
import WatchCache

/// The WatchCache API server: a ``Registry`` served over HTTP/2 (libnghttp2) and HTTP/1.1 on one
/// cleartext port, with the caches' time-driven work (bookmarks, deadlines) running alongside.
public final class Server: Sendable {
    public let configuration: ServerConfiguration
    public let registry: Registry
    public let api: APIServer
    private let group: MultiThreadedEventLoopGroup
    private let logger: Logger
    private let channels = Mutex<[any Channel]>([])
    /// Open client connections, so shutdown can tell each to drain.
    private let connections = Mutex<[ObjectIdentifier: any Channel]>([:])
    /// The caches' time-driven work, on an event loop: it must not wait for the Swift concurrency
    /// pool, which an embedding program (or a test runner) may keep busy.
    private let ticker = Mutex<RepeatedTask?>(nil)
    /// Runs the lifecycle controllers (namespace termination, ends of grace periods).
    private let controllers = Mutex<RepeatedTask?>(nil)

    public init(configuration: ServerConfiguration, registry: Registry, logger: Logger = Logger(label: "watchcache")) throws(Status) {
        self.configuration = configuration
        self.registry = registry
        self.logger = logger
        self.api = try APIServer(registry: registry, resources: configuration.resources, minRequestTimeout: configuration.minRequestTimeout,
                                 serverAddress: "\(configuration.bindAddress):\(configuration.securePort ?? configuration.port ?? 0)",
                                 authenticator: configuration.authenticator, acceptsClientCertificates: configuration.clientAuthority != nil,
                                 logger: logger, logRequests: configuration.logRequests,
                                 maxRequestsInFlight: configuration.maxRequestsInFlight,
                                 maxMutatingRequestsInFlight: configuration.maxMutatingRequestsInFlight,
                                 namespaceLifecycle: configuration.namespaceLifecycle)
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.threads)
    }

    private static func authenticationSummary(_ configuration: ServerConfiguration) -> String {
        var ways: [String] = []
        if configuration.authenticator != nil { ways.append("bearer tokens") }
        if configuration.clientAuthority != nil { ways.append("client certificates") }
        return ways.isEmpty ? "none: the server is open" : ways.joined(separator: " or ")
    }

    /// The ports a started server listens on.
    public struct BoundPorts: Sendable {
        public var cleartext: Int?
        public var secure: Int?
    }

    /// Whether ``start()`` has bound the ports (and ``shutdown(drain:)`` has not closed them).
    public var isListening: Bool { channels.withLock { !$0.isEmpty } }

    /// Binds the configured ports and starts serving.
    @discardableResult
    public func start() async throws -> BoundPorts {
        var ports = BoundPorts()
        if let port = configuration.port {
            ports.cleartext = try await listen(port: port, tls: nil)
        }
        if let securePort = configuration.securePort {
            guard let identity = configuration.tls else { throw TLSIdentityError("a secure port needs a certificate (--tls-cert-file and --tls-private-key-file, or --tls-self-signed)") }
            ports.secure = try await listen(port: securePort, tls: try identity.makeContext(clientAuthority: configuration.clientAuthority))
        }
        let registry = self.registry
        let interval = configuration.tickInterval
        let nanoseconds = Int64(interval.seconds * 1e9)
        let tickTask = group.next().scheduleRepeatedTask(initialDelay: .nanoseconds(nanoseconds), delay: .nanoseconds(nanoseconds)) { _ in
            registry.tick()
        }
        ticker.withLock { $0 = tickTask }
        let api = self.api
        let controllerTask = group.next().scheduleRepeatedTask(initialDelay: .milliseconds(200), delay: .milliseconds(500)) { _ in
            api.runLifecycleControllers()
        }
        controllers.withLock { $0 = controllerTask }
        logger.info("watchcache serving", metadata: [
            "address": "\(configuration.bindAddress)",
            "port": "\(ports.cleartext.map { "\($0) (h2c prior knowledge, http/1.1)" } ?? "off")",
            "secure-port": "\(ports.secure.map { "\($0) (TLS, ALPN h2 and http/1.1)" } ?? "off")",
            "resources": "\(configuration.resources.count)",
            "authentication": "\(Self.authenticationSummary(configuration))",
        ])
        return ports
    }

    private func listen(port: Int, tls: NIOSSLContext?) async throws -> Int {
        let api = self.api
        let limits = configuration.limits
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { [self] channel in
                let id = ObjectIdentifier(channel)
                connections.withLock { $0[id] = channel }
                channel.closeFuture.whenComplete { _ in _ = self.connections.withLock { $0.removeValue(forKey: id) } }
                return channel.eventLoop.makeCompletedFuture {
                    // Behind TLS the decrypted first bytes decide, as on the cleartext port: a client
                    // that negotiated h2 by ALPN sends the HTTP/2 preface.
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try Self.configureConnection(channel, api: api, limits: limits)
                }
            }
        let bound = try await bootstrap.bind(host: configuration.bindAddress, port: port).get()
        channels.withLock { $0.append(bound) }
        return bound.localAddress?.port ?? port
    }

    /// Stops accepting, sends GOAWAY on every HTTP/2 connection (and stops HTTP/1.1 keep-alive),
    /// ends every watch cleanly (the caches close), waits up to `drain` for connections to finish,
    /// then closes what is left and stops the event loops.
    /// Serves the API on a connection accepted elsewhere — another listener, an in-memory channel
    /// — as on the cleartext port: its first bytes decide between HTTP/2 and HTTP/1.1. Call on the
    /// channel's event loop, before it reads.
    public func configureConnection(_ channel: any Channel) throws {
        try Self.configureConnection(channel, api: api, limits: configuration.limits)
    }

    /// ``configureConnection(_:)`` for an `api` without a server around it.
    public static func configureConnection(_ channel: any Channel, api: APIServer, limits: ServerLimits = ServerLimits()) throws {
        try channel.pipeline.syncOperations.addHandler(ProtocolDetector(api: api, limits: limits))
    }

    public func shutdown(drain: Duration = .seconds(2)) async throws {
        let listening = channels.withLock { c in defer { c = [] }; return c }
        for channel in listening { try? await channel.close() }
        for connection in connections.withLock({ Array($0.values) }) {
            connection.pipeline.fireUserInboundEventTriggered(ServerQuiesce())
        }
        registry.close()
        ticker.withLock { t in t?.cancel(promise: nil); t = nil }
        controllers.withLock { t in t?.cancel(promise: nil); t = nil }
        let deadline = ContinuousClock.now + drain
        while ContinuousClock.now < deadline, !connections.withLock({ $0.isEmpty }) {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for connection in connections.withLock({ Array($0.values) }) { try? await connection.close() }
        try await group.shutdownGracefully()
        logger.info("watchcache stopped")
    }
}
