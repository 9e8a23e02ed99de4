import Logging
import Synchronization
import NIOCore
import NIOPosix
import WatchCache

/// The WatchCache API server: a ``Registry`` served over HTTP/2 (libnghttp2) and HTTP/1.1 on one
/// cleartext port, with the caches' time-driven work (bookmarks, deadlines) running alongside.
public final class Server: Sendable {
    public let configuration: ServerConfiguration
    public let registry: Registry
    public let api: APIServer
    private let group: MultiThreadedEventLoopGroup
    private let logger: Logger
    private let channel = Mutex<(any Channel)?>(nil)
    private let ticker = Mutex<Task<Void, Never>?>(nil)

    public init(configuration: ServerConfiguration, registry: Registry, logger: Logger = Logger(label: "watchcache")) throws(Status) {
        self.configuration = configuration
        self.registry = registry
        self.logger = logger
        self.api = try APIServer(registry: registry, resources: configuration.resources, minRequestTimeout: configuration.minRequestTimeout,
                                 serverAddress: "\(configuration.bindAddress):\(configuration.port)")
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: configuration.threads)
    }

    /// Binds and starts serving; returns the port actually bound.
    @discardableResult
    public func start() async throws -> Int {
        let api = self.api
        let limits = configuration.limits
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ProtocolDetector(api: api, limits: limits))
                }
            }
        let bound = try await bootstrap.bind(host: configuration.bindAddress, port: configuration.port).get()
        channel.withLock { $0 = bound }
        let registry = self.registry
        ticker.withLock { $0 = Task { await registry.run() } }
        let port = bound.localAddress?.port ?? configuration.port
        logger.info("watchcache serving", metadata: [
            "address": "\(configuration.bindAddress):\(port)", "protocols": "h2c (prior knowledge), http/1.1",
            "resources": "\(configuration.resources.count)", "authentication": "none (open server)",
        ])
        return port
    }

    /// Stops accepting, ends every watch cleanly (the caches close), and stops the event loops.
    public func shutdown() async throws {
        let listening = channel.withLock { c in defer { c = nil }; return c }
        try? await listening?.close()
        registry.close()
        ticker.withLock { t in t?.cancel(); t = nil }
        // Let the connections write the ends of their watch streams before the loops stop.
        try? await Task.sleep(for: .milliseconds(100))
        try await group.shutdownGracefully()
        logger.info("watchcache stopped")
    }
}
