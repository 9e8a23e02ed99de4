import ArgumentParser
import Dispatch
import Foundation
import Logging
import ServiceLifecycle
import WatchCache
import WatchCacheServer
import WatchCacheSQLite
import WatchCacheEtcd

#if canImport(Glibc)
import Glibc
#endif

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the Kubernetes API (LIST, GET, WATCH, create, update, patch, delete) over HTTP/2 and HTTP/1.1.",
        discussion: """
            One cleartext port serves HTTP/2 with prior knowledge (libnghttp2) and HTTP/1.1; the first \
            bytes of a connection decide. Objects and the recent history of changes are kept in SQLite in \
            --data-dir: every acknowledged write is on disk, and after a restart watches resume from any \
            version inside the kept history without 410 or relist. While it loads, /readyz and API \
            requests answer 503 with Retry-After. --in-memory keeps nothing. SIGTERM or SIGINT stops it \
            cleanly: watches end, the process exits 0.
            """
    )

    @Option(name: .customLong("bind-address"), help: "The address to listen on.")
    var bindAddress = "127.0.0.1"

    @Option(help: "The cleartext port (HTTP/2 prior knowledge and HTTP/1.1); 0 disables it.")
    var port = 8080

    @Option(name: .customLong("secure-port"), help: "The TLS port (ALPN h2 and http/1.1); 0 disables it.")
    var securePort = 0

    @Option(name: .customLong("tls-cert-file"), help: "PEM certificate (chain) for the secure port.")
    var tlsCertFile: String?

    @Option(name: .customLong("tls-private-key-file"), help: "PEM private key for the secure port.")
    var tlsPrivateKeyFile: String?

    @Flag(name: .customLong("tls-self-signed"), help: "Make a certificate for localhost/127.0.0.1 at start-up (development and tests).")
    var tlsSelfSigned = false

    @Option(name: .customLong("client-ca-file"), help: "PEM authorities whose client certificates authenticate on the secure port, as kube-apiserver's: CN the user, O the groups. Requests without a verified certificate or a valid token then get 401.")
    var clientCAFile: String?

    @Option(name: .customLong("write-kubeconfig"), help: "Write a kubeconfig here once serving (mode 0600): the secure port's address, the authority its certificate chains to (the --tls-self-signed one included) and a token — the first of --token-auth-file, or a new one for user watchcache-admin (group system:masters) that then protects the server. `KUBECONFIG=FILE kubectl get pods` verifies TLS.")
    var writeKubeconfig: String?

    @Option(name: .customLong("token-auth-file"), help: "Static tokens (CSV: token,user,uid[,\"groups\"]); when set, requests need 'Authorization: Bearer <token>' except /healthz, /livez, /readyz, /version.")
    var tokenAuthFile: String?

    @Option(name: .customLong("window-min-events"), help: "The fewest events the history window keeps.")
    var windowMinEvents = 100

    @Option(name: .customLong("window-max-events"), help: "The most events the history window keeps.")
    var windowMaxEvents = 102_400

    @Option(name: .customLong("window-seconds"), help: "How much history (seconds) the window aims to keep.")
    var windowSeconds = 75

    @Option(name: .customLong("bookmark-interval"), help: "Seconds between bookmarks for watchers that allow them.")
    var bookmarkInterval = 60

    @Option(name: .customLong("slow-watchers"), help: "What becomes of a watcher that does not keep up: park (it reads the history window at its own pace and goes live again when caught up; ended only when the window has lost its next event) or terminate (ended after its share of a time budget, as kube-apiserver).")
    var slowWatchers = SlowWatcherPolicy.park

    @Option(name: .customLong("watch-replay"), help: "How a resuming watch finds the events it missed: indexed (only those of the node, object or namespace it is pinned to) or scan (every event since its version, as kube-apiserver).")
    var watchReplay = WatchReplay.indexed

    @Option(name: .customLong("min-request-timeout"), help: "Watches without timeoutSeconds end after a random time in [T, 2T) seconds.")
    var minRequestTimeout = 1800

    @Option(name: .customLong("resource"), help: "Serve another resource: [group/]version/plural=Kind, with :cluster for cluster-scoped (repeatable), e.g. batch/v1/jobs=Job.")
    var extraResources: [String] = []

    @Flag(name: .customLong("in-memory"), help: "Keep everything in memory: a restart starts empty (tests, benchmarks).")
    var inMemory = false

    @Option(name: .customLong("data-dir"), help: "Where the durable storage lives (created if missing; one server per directory).")
    var dataDir = "./watchcache-data"

    @Option(help: "When writes reach the disk: always (one synced commit per write) or batch (concurrent writes share a commit). Never acknowledged before the commit.")
    var sync: SyncMode = .batch

    @Option(help: "History kept for watches to resume from, across restarts: events (500000), a duration (15m), or both (500000,15m).")
    var history = HistoryRetention.default.description

    @Option(name: .customLong("etcd-servers"), help: "Keep objects in etcd instead (comma-separated http[s]://host:port of its members), as kube-apiserver does; replicas over one etcd serve the same versions.")
    var etcdServers: String?

    @Option(name: .customLong("etcd-prefix"), help: "The prefix of every key in etcd.")
    var etcdPrefix = "/registry"

    @Option(name: .customLong("etcd-cafile"), help: "PEM CA certificate that signed etcd's serving certificates.")
    var etcdCAFile: String?

    @Option(name: .customLong("etcd-certfile"), help: "PEM client certificate for etcd (mutual TLS).")
    var etcdCertFile: String?

    @Option(name: .customLong("etcd-keyfile"), help: "PEM private key of --etcd-certfile.")
    var etcdKeyFile: String?

    @Option(name: .customLong("etcd-compaction-interval"), help: "How often etcd's history is compacted (one replica per interval), e.g. 5m, 30s; 0 disables it.")
    var etcdCompactionInterval = "5m"

    @Flag(name: .customLong("log-requests"), help: "Log one line per request (failures are always logged).")
    var logRequests = false

    @Option(name: .customLong("max-requests-inflight"), help: "Read-only requests answered at once (watches excluded); more get 429. 0: no limit.")
    var maxRequestsInFlight = 400

    @Option(name: .customLong("max-mutating-requests-inflight"), help: "Writes answered at once; more get 429. 0: no limit.")
    var maxMutatingRequestsInFlight = 200

    @Flag(inversion: .prefixedNo,
          help: "kube-apiserver's NamespaceLifecycle: create default, kube-system, kube-public and kube-node-lease, and refuse objects in a namespace that does not exist or is being deleted.")
    var namespaceLifecycle = true

    @Option(name: .customLong("time-compression"), help: "For benchmarks: divide the server's time constants (bookmark interval and lead, window freshness, timer slots, tick) by this factor.")
    var timeCompression: Double = 1

    @Option(help: "Event loop threads (default: one per core).")
    var threads: Int?

    func validate() throws {
        guard (0...65535).contains(port), (0...65535).contains(securePort) else {
            throw ValidationError("--port and --secure-port must be between 0 and 65535")
        }
        guard port != 0 || securePort != 0 else { throw ValidationError("--port and --secure-port are both 0: nothing to serve") }
        if securePort != 0, !tlsSelfSigned, tlsCertFile == nil || tlsPrivateKeyFile == nil {
            throw ValidationError("--secure-port needs --tls-cert-file and --tls-private-key-file, or --tls-self-signed")
        }
        if tlsSelfSigned, tlsCertFile != nil || tlsPrivateKeyFile != nil {
            throw ValidationError("--tls-self-signed cannot be combined with --tls-cert-file or --tls-private-key-file")
        }
        if securePort == 0, writeKubeconfig != nil || clientCAFile != nil {
            throw ValidationError("--write-kubeconfig and --client-ca-file need --secure-port (with --tls-self-signed or --tls-cert-file)")
        }
        try CommandFailure.checkWritable(writeKubeconfig, flag: "--write-kubeconfig")
        guard windowMinEvents >= 1, windowMaxEvents >= windowMinEvents else {
            throw ValidationError("--window-min-events must be at least 1 and at most --window-max-events")
        }
        guard windowSeconds > 0, bookmarkInterval > 0, minRequestTimeout >= 0 else {
            throw ValidationError("--window-seconds and --bookmark-interval must be positive, --min-request-timeout not negative")
        }
        guard maxRequestsInFlight >= 0, maxMutatingRequestsInFlight >= 0 else {
            throw ValidationError("--max-requests-inflight and --max-mutating-requests-inflight must not be negative")
        }
        guard timeCompression >= 1, timeCompression <= 1000 else { throw ValidationError("--time-compression must be between 1 and 1000") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        do { _ = try HistoryRetention(parsing: history) } catch { throw ValidationError("--history: \(error)") }
        for value in extraResources {
            do { _ = try ResourceFlag.parse(value) } catch { throw ValidationError("\(error)") }
        }
    }

    func run() async throws {
        let logger = Logger(label: "watchcache")
        var configuration = ServerConfiguration()
        configuration.bindAddress = bindAddress
        configuration.port = port == 0 ? nil : port
        // The authority clients verify the secure port against, for the kubeconfig.
        var authorityPEM = ""
        if securePort != 0 {
            configuration.securePort = securePort
            if tlsSelfSigned {
                let authority = try SelfSignedAuthority(hosts: [bindAddress])
                configuration.tls = .pem(certificate: authority.certificatePEM, privateKey: authority.privateKeyPEM)
                authorityPEM = authority.authorityPEM
            } else {
                configuration.tls = .files(certificate: tlsCertFile!, privateKey: tlsPrivateKeyFile!)
                if writeKubeconfig != nil {
                    // The chain in the certificate file: clients trust what it ends with.
                    guard let pem = FileManager.default.contents(atPath: tlsCertFile!) else {
                        throw CommandFailure.usage("cannot read --tls-cert-file \(tlsCertFile!): \(String(cString: strerror(errno)))")
                    }
                    authorityPEM = String(decoding: pem, as: UTF8.self)
                }
            }
        }
        if let clientCAFile {
            do {
                configuration.clientAuthority = try ClientCertificateAuthority(pemFile: clientCAFile)
            } catch {
                throw CommandFailure.usage("\(error)")
            }
        }
        if let tokenAuthFile {
            let contents: String
            do {
                contents = try String(contentsOfFile: tokenAuthFile, encoding: .utf8)
            } catch {
                throw CommandFailure.usage("cannot read --token-auth-file \(tokenAuthFile): \(CommandFailure.reason(error))")
            }
            do {
                configuration.authenticator = try TokenAuthenticator(csv: contents)
            } catch {
                throw CommandFailure.usage("--token-auth-file \(tokenAuthFile): \(error)")
            }
        }
        // A kubeconfig carries a token: the file's first, or a new one that then protects the server.
        var kubeconfigToken: String?
        if writeKubeconfig != nil {
            if let authenticator = configuration.authenticator {
                kubeconfigToken = authenticator.firstToken
            } else {
                var generator = SystemRandomNumberGenerator()
                let token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
                configuration.authenticator = try TokenAuthenticator(csv: "\(token),watchcache-admin,watchcache-admin,\"system:masters\"")
                kubeconfigToken = token
            }
        }
        let kubeconfig = writeKubeconfig.map { path in
            (path: path, authority: authorityPEM, token: kubeconfigToken)
        }
        configuration.minRequestTimeout = minRequestTimeout
        configuration.logRequests = logRequests
        configuration.maxRequestsInFlight = maxRequestsInFlight
        configuration.maxMutatingRequestsInFlight = maxMutatingRequestsInFlight
        configuration.namespaceLifecycle = namespaceLifecycle
        if let threads { configuration.threads = threads }
        for value in extraResources {
            let resource = try ResourceFlag.parse(value)
            if configuration.resources.contains(resource) {
                throw ValidationError("--resource \(value): \(resource) is already served")
            }
            configuration.resources.append(resource)
        }
        let f = timeCompression
        let cache = CacheConfiguration(
            history: HistoryWindow(minimumEvents: windowMinEvents, maximumEvents: windowMaxEvents, freshness: .seconds(Double(windowSeconds) / f)),
            bookmarkInterval: .seconds(Double(bookmarkInterval) / f), bookmarkLead: .seconds(2 / f), timerResolution: .seconds(1 / f),
            watchReplay: watchReplay, slowWatchers: slowWatchers)
        configuration.tickInterval = .seconds(max(0.005, 0.1 / f))
        if let etcdServers {
            return try await serveOnEtcd(etcdServers, configuration: configuration, cache: cache, kubeconfig: kubeconfig, logger: logger)
        }
        let storage: any Storage
        let durable: SQLiteStorage?
        if inMemory {
            storage = InMemoryStorage()
            durable = nil
        } else {
            do {
                durable = try SQLiteStorage(directory: dataDir, sync: sync, retention: try HistoryRetention(parsing: history), logger: logger)
            } catch {
                throw CommandFailure.usage("cannot open --data-dir \(dataDir): \(CommandFailure.reason(error))")
            }
            storage = durable!
        }
        // Listen first, load second: until loaded, /readyz and API requests answer 503 + Retry-After.
        // The caches report their metrics to the Prometheus registry the server's /metrics renders.
        let registry = try Registry(storage: storage, configuration: cache, logger: logger, recover: false,
                                    metricsFactory: APIServer.makeMetricsFactory())
        let server = try Server(configuration: configuration, registry: registry, logger: logger)
        let ports: Server.BoundPorts
        do {
            ports = try await server.start()
        } catch {
            try? await server.shutdown()
            throw CommandFailure.runtime("cannot start serving on \(bindAddress): \(CommandFailure.reason(error))")
        }
        try await writeKubeconfigFile(kubeconfig, ports: ports, server: server, logger: logger)
        // The server and the load as swift-service-lifecycle services: SIGTERM or SIGINT shuts the
        // group down gracefully (after the load, which is not interrupted); a failed load too.
        let dataDir = self.dataDir, inMemory = self.inMemory
        let loader = OneShotService {
            let started = ContinuousClock.now
            do {
                try registry.recover()
            } catch {
                throw CommandFailure.runtime("cannot load the storage in \(dataDir): \(CommandFailure.reason(error))")
            }
            let seconds = (ContinuousClock.now - started).seconds
            let objects = registry.caches.reduce(0) { $0 + $1.statistics().objects }
            let events = registry.caches.reduce(0) { $0 + $1.statistics().windowEvents }
            let timings = registry.loadTimings ?? LoadTimings()
            logger.info("storage loaded", metadata: ["seconds": "\(String(format: "%.3f", seconds))", "objects": "\(objects)",
                                                     "read_seconds": "\(String(format: "%.3f", timings.readSeconds))",
                                                     "parse_seconds": "\(String(format: "%.3f", timings.parseSeconds))",
                                                     "fill_seconds": "\(String(format: "%.3f", timings.fillSeconds))",
                                                     "window_events": "\(events)", "resource_version": "\(registry.currentVersion)",
                                                     "storage": "\(inMemory ? "memory" : dataDir)"])
        }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [
                .init(service: server),
                .init(service: loader, successTerminationBehavior: .ignore, failureTerminationBehavior: .gracefullyShutdownGroup),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            try? durable?.close()
            throw error
        }
        try durable?.close()
    }
}

extension ServeCommand {
    /// Serves with etcd as the source of truth: listens at once, answers 503 until every cache has
    /// its first list (and waits for etcd as long as it takes), compacts etcd's history.
    func serveOnEtcd(_ servers: String, configuration: ServerConfiguration, cache: CacheConfiguration,
                     kubeconfig: (path: String, authority: String, token: String?)?, logger: Logger) async throws {
        let endpoints: EtcdEndpoints
        do {
            endpoints = try EtcdEndpoints(parsing: servers, caFile: etcdCAFile, certFile: etcdCertFile, keyFile: etcdKeyFile)
        } catch {
            throw ValidationError(error.description)
        }
        guard let compaction = Self.duration(etcdCompactionInterval) else {
            throw ValidationError("--etcd-compaction-interval \(etcdCompactionInterval): give seconds (300), or a duration (30s, 5m, 1h)")
        }
        guard inMemory == false else { throw ValidationError("--in-memory and --etcd-servers exclude each other") }
        for (flag, path) in [("--etcd-cafile", etcdCAFile), ("--etcd-certfile", etcdCertFile), ("--etcd-keyfile", etcdKeyFile)] {
            if let path, !FileManager.default.isReadableFile(atPath: path) {
                throw ValidationError("\(flag) \(path): no such readable file")
            }
        }
        let etcd = try EtcdStorage(endpoints: endpoints, prefix: etcdPrefix, logger: logger)
        let registry = Registry(source: etcd, configuration: cache, logger: logger, metricsFactory: APIServer.makeMetricsFactory())
        let server = try Server(configuration: configuration, registry: registry, logger: logger)
        let ports: Server.BoundPorts
        do {
            ports = try await server.start()
        } catch {
            try? await server.shutdown()
            throw CommandFailure.runtime("cannot start serving on \(bindAddress): \(CommandFailure.reason(error))")
        }
        try await writeKubeconfigFile(kubeconfig, ports: ports, server: server, logger: logger)
        // Filling the caches waits for etcd as long as it takes; a graceful shutdown cancels it.
        let etcdPrefix = self.etcdPrefix
        let loader = OneShotService {
            let started = ContinuousClock.now
            try? await cancelWhenGracefulShutdown { try await registry.recoverWithoutBlocking() }
            guard registry.isReady else { return }
            let objects = registry.caches.reduce(0) { $0 + $1.statistics().objects }
            logger.info("caches filled from etcd", metadata: [
                "seconds": "\(String(format: "%.3f", (ContinuousClock.now - started).seconds))", "objects": "\(objects)",
                "resource_version": "\(registry.currentVersion)", "etcd": "\(servers)", "prefix": "\(etcdPrefix)"])
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: server),
            .init(service: loader, successTerminationBehavior: .ignore),
        ]
        if compaction > .zero {
            let compactor = EtcdCompactor.start(etcd, every: compaction)
            services.append(.init(service: OneShotService {
                try? await gracefulShutdown()
                compactor.stop()
            }, successTerminationBehavior: .ignore))
        }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                                                                           logger: logger))
        defer { etcd.close() }
        try await group.run()
    }

    /// `300`, `30s`, `5m`, `1h` (kube-apiserver's duration flags); `0` is zero.
    static func duration(_ text: String) -> Duration? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let value = Double(text.dropLast(suffix.count)), value >= 0 else { return nil }
            return .milliseconds(Int64(value * scale * 1000))
        }
        guard let seconds = Double(text), seconds >= 0 else { return nil }
        return .milliseconds(Int64(seconds * 1000))
    }
}

/// A service that runs `body` once: the start-up's load, the etcd compactor's lifetime.
struct OneShotService: Service {
    let body: @Sendable () async throws -> Void

    init(_ body: @escaping @Sendable () async throws -> Void) { self.body = body }

    func run() async throws { try await body() }
}

extension SyncMode: ExpressibleByArgument {}
extension WatchReplay: ExpressibleByArgument {}
extension SlowWatcherPolicy: ExpressibleByArgument {}

extension ServeCommand {
    /// Writes the kubeconfig asked for, now that the secure port is bound.
    func writeKubeconfigFile(_ kubeconfig: (path: String, authority: String, token: String?)?, ports: Server.BoundPorts,
                             server: Server, logger: Logger) async throws {
        guard let kubeconfig, let port = ports.secure else { return }
        let file = Kubeconfig(server: Kubeconfig.serverURL(bindAddress: bindAddress, port: port), authorityPEM: kubeconfig.authority,
                              token: kubeconfig.token)
        do {
            try file.write(to: kubeconfig.path)
        } catch {
            try? await server.shutdown()
            throw CommandFailure.runtime("--write-kubeconfig: \(error)")
        }
        logger.info("kubeconfig written", metadata: ["path": "\(kubeconfig.path)", "server": "\(file.server)"])
    }
}
