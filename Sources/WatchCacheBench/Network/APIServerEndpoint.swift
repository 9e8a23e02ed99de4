import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import WatchCache

/// Where a network benchmark sends its requests and how it proves who it is: a `watchcache serve`
/// the benchmark started (cleartext HTTP/2 on loopback), or any Kubernetes API server given by a
/// URL and credentials or by a kubeconfig (``Kubeconfig``): TLS with ALPN `h2`, a bearer token,
/// a client certificate.
public struct APIServerEndpoint: Sendable {
    public let host: String
    public let port: Int
    /// `nil`: cleartext HTTP/2 with prior knowledge.
    public let tls: TLS?
    /// Sent as `Authorization: Bearer …` on every request.
    public let bearerToken: String?
    /// The context's name when the endpoint came from a kubeconfig.
    public var context: String?

    /// What a TLS connection trusts and presents.
    public struct TLS: Sendable {
        /// PEM certificates of the authorities the server's certificate must chain to; `nil`: the
        /// system's.
        public var certificateAuthority: [UInt8]?
        /// Accept any server certificate (kubectl's `--insecure-skip-tls-verify`).
        public var insecureSkipVerify = false
        /// A client certificate chain and its key (PEM), as kubeadm's and kind's admin kubeconfigs use.
        public var clientCertificate: [UInt8]?
        public var clientKey: [UInt8]?
        /// The name the server's certificate must carry, when not the URL's host.
        public var serverName: String?

        public init() {}
    }

    private let sslContext: NIOSSLContext?

    /// `http://host:port` (cleartext) or `https://host:port`, with what to trust and present.
    public init(host: String, port: Int, tls: TLS?, bearerToken: String?) throws {
        self.host = host
        self.port = port
        self.tls = tls
        self.bearerToken = bearerToken
        if let tls {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.applicationProtocols = ["h2"]
            if tls.insecureSkipVerify {
                configuration.certificateVerification = .none
            } else if let ca = tls.certificateAuthority {
                let roots: [NIOSSLCertificate]
                do { roots = try NIOSSLCertificate.fromPEMBytes(ca) } catch {
                    throw BenchError("the certificate authority is not PEM certificates: \(error)")
                }
                guard !roots.isEmpty else { throw BenchError("the certificate authority holds no PEM certificate") }
                configuration.trustRoots = .certificates(roots)
            }
            switch (tls.clientCertificate, tls.clientKey) {
            case let (certificate?, key?):
                do {
                    configuration.certificateChain = try NIOSSLCertificate.fromPEMBytes(certificate).map { .certificate($0) }
                    configuration.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: key, format: .pem))
                } catch {
                    throw BenchError("the client certificate or its key is not PEM: \(error)")
                }
            case (nil, nil):
                break
            default:
                throw BenchError("a client certificate needs its key, and a key its certificate")
            }
            do { sslContext = try NIOSSLContext(configuration: configuration) } catch {
                throw BenchError("cannot set up TLS: \(error)")
            }
        } else {
            sslContext = nil
        }
    }

    /// A `watchcache serve` on loopback, cleartext.
    public static func loopback(port: Int) -> APIServerEndpoint {
        // Cannot throw: no TLS to set up.
        try! APIServerEndpoint(host: "127.0.0.1", port: port, tls: nil, bearerToken: nil)
    }

    /// The endpoint at `url` (`http://` or `https://`, port defaulting to 80 / 443).
    public init(url: String, tls: TLS?, bearerToken: String?) throws {
        guard let components = URLComponents(string: url), let scheme = components.scheme, scheme == "http" || scheme == "https",
              let host = components.host, !host.isEmpty else {
            throw BenchError("\(url) is not an http:// or https:// URL of a server")
        }
        if components.path.count > 1 {
            throw BenchError("\(url): a server URL with a path is not supported (the benchmark sends /api/v1/... from the root)")
        }
        if scheme == "http", tls != nil {
            throw BenchError("\(url) is cleartext: certificate options need an https:// server")
        }
        try self.init(host: host, port: components.port ?? (scheme == "https" ? 443 : 80),
                      tls: scheme == "https" ? (tls ?? TLS()) : nil, bearerToken: bearerToken)
    }

    /// `https://host:port` or `http://host:port`.
    public var url: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "\(tls == nil ? "http" : "https")://\(shownHost):\(port)"
    }

    /// A new HTTP/2 connection on `loop`, and its channel (for closing). Over TLS it returns once
    /// the handshake is done and the server agreed to `h2`.
    func connect(on loop: any EventLoop, initialWindow: UInt32 = 4 << 20) async throws -> (HTTP2ClientConnection, any Channel) {
        let authority = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        let connection = HTTP2ClientConnection(authority: authority, initialWindow: initialWindow,
                                               scheme: tls == nil ? "http" : "https",
                                               authorization: bearerToken.map { "Bearer \($0)" })
        let handshake = loop.makePromise(of: String?.self)
        let sslContext = self.sslContext
        let serverName = tls?.serverName ?? (Self.isIPAddress(host) ? nil : host)
        let url = self.url
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: loop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connectTimeout(.seconds(10))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let sslContext {
                            let tls = try NIOSSLClientHandler(context: sslContext, serverHostname: serverName)
                            try channel.pipeline.syncOperations.addHandler(tls)
                            try channel.pipeline.syncOperations.addHandler(HandshakeWaiter(promise: handshake))
                        } else {
                            handshake.succeed("h2")
                        }
                        try channel.pipeline.syncOperations.addHandler(connection)
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            handshake.succeed(nil)  // nothing waits on it now
            throw BenchError("cannot connect to \(url): \(Self.reason(error))")
        }
        let negotiated: String?
        do { negotiated = try await handshake.futureResult.get() } catch {
            try? await channel.close()
            if "\(error)".contains("CERTIFICATE_VERIFY_FAILED") {
                throw BenchError("the certificate of \(url) is not signed by an authority this run trusts: give the cluster's CA "
                                 + "(--certificate-authority, or a kubeconfig with certificate-authority-data), or --insecure-skip-tls-verify")
            }
            throw BenchError("the TLS handshake with \(url) failed: \(error)")
        }
        guard negotiated == "h2" else {
            try? await channel.close()
            throw BenchError("\(url) did not agree to HTTP/2 (ALPN offered h2, the server chose \(negotiated.map { "\"\($0)\"" } ?? "none")): the benchmark speaks HTTP/2 only")
        }
        return (connection, channel)
    }

    /// Why a connection failed, in the system's words where there are some (`Connection refused`).
    static func reason(_ error: any Error) -> String {
        if let failure = error as? NIOConnectionError {
            if let io = failure.connectionErrors.lazy.compactMap({ $0.error as? IOError }).first { return String(cString: strerror(io.errnoCode)) }
            if failure.dnsAAAAError != nil || failure.dnsAError != nil, failure.connectionErrors.isEmpty { return "the host name did not resolve" }
        }
        if let io = error as? IOError { return String(cString: strerror(io.errnoCode)) }
        if error is ChannelError, case .connectTimeout = error as! ChannelError { return "no answer within 10 s" }
        return "\(error)"
    }

    private static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}

/// Fulfils a promise with the protocol ALPN chose once the TLS handshake is over, or fails it
/// with why the handshake did not finish.
private final class HandshakeWaiter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    private let promise: EventLoopPromise<String?>
    private var done = false

    init(promise: EventLoopPromise<String?>) { self.promise = promise }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted(let negotiated) = event, !done {
            done = true
            promise.succeed(negotiated)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !done {
            done = true
            promise.fail(error)
        }
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !done {
            done = true
            promise.fail(BenchError("the connection closed during the TLS handshake"))
        }
        context.fireChannelInactive()
    }
}

extension APIServerEndpoint {
    /// The server's `/version` `gitVersion` (`v1.32.0`, `v1.31.4+k3s1`, `v1.32.0-watchcache+…`),
    /// over a connection of its own; a 401 says the credentials were refused.
    public func serverVersion() async throws -> String {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        do {
            let (connection, channel) = try await connect(on: loop)
            let (status, body) = try await connection.get("/version", on: loop)
            try? await channel.close()
            try? await group.shutdownGracefully()
            switch status {
            case 200:
                guard let version = (try? JSONParser.parse(body))?["gitVersion"]?.stringValue else {
                    throw BenchError("\(url)/version did not answer a Kubernetes version")
                }
                return version
            case 401:
                throw BenchError("\(url) did not accept the credentials (401 Unauthorized): give a token (--token) or a kubeconfig whose user has one or a client certificate")
            case 0:
                throw BenchError("\(url) closed the connection without an HTTP/2 answer (is it an https:// server, or one without cleartext HTTP/2?)")
            default:
                throw BenchError("GET \(url)/version answered \(status)")
            }
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }
}
