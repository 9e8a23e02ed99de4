import NIOCore
import NIOHTTP1
import NIOPosix

/// How a fan-out connection carries its watch streams: HTTP/2 streams on one connection, or one
/// HTTP/1.1 connection per stream. Confined to one event loop.
protocol WatchTransport: AnyObject {
    /// Starts `GET path`; returns an id for ``cancel(_:)`` (≤ 0 if it could not start).
    @discardableResult
    func request(_ method: String, _ path: String, body: [UInt8]?, contentType: String,
                 handler: HTTP2ClientConnection.StreamHandler) -> Int32
    func cancel(_ stream: Int32)
    /// Stops reading the socket(s): the server's writes back up.
    func stopReading()
}

extension HTTP2ClientConnection: WatchTransport {}

/// Watch streams over HTTP/1.1: each its own keep-alive-less TCP connection (HTTP/1.1 cannot
/// multiplex), decoded with NIOHTTP1 (chunked bodies), all on one event loop.
final class HTTP1WatchClient: WatchTransport, @unchecked Sendable {  // confined to `loop`
    let loop: any EventLoop
    let host: String
    let port: Int
    private var channels: [Int32: any Channel] = [:]
    private var nextID: Int32 = 1
    private var reading = true

    init(loop: any EventLoop, host: String, port: Int) {
        self.loop = loop
        self.host = host
        self.port = port
    }

    @discardableResult
    func request(_ method: String, _ path: String, body: [UInt8]? = nil, contentType: String = "application/json",
                 handler: HTTP2ClientConnection.StreamHandler) -> Int32 {
        let id = nextID
        nextID += 1
        // Everything below runs on `loop` (the bootstrap's only loop): the bounds only say so.
        let response = NIOLoopBound(ResponseHandler(handler: handler), eventLoop: loop)
        let onFailure = NIOLoopBound(handler, eventLoop: loop)
        var headers = HTTPHeaders()
        headers.add(name: "host", value: "\(host):\(port)")
        headers.add(name: "accept", value: "application/json")
        headers.add(name: "connection", value: "close")
        let head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: path, headers: headers)
        let connect = ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.autoRead, value: reading)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(response.value)
                }
            }
            .connect(host: host, port: port)
        let bound = NIOLoopBound(self, eventLoop: loop)
        connect.whenSuccess { channel in
            let client = bound.value
            client.channels[id] = channel
            channel.write(HTTPClientRequestPart.head(head), promise: nil)
            channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            channel.closeFuture.whenComplete { _ in bound.value.channels[id] = nil }
        }
        connect.whenFailure { _ in onFailure.value.onClose(1) }
        return id
    }

    func cancel(_ stream: Int32) {
        channels[stream]?.close(promise: nil)
    }

    func stopReading() {
        reading = false
        for channel in channels.values { channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in } }
    }

    /// Hands the response's status, body bytes and end to the stream handler.
    private final class ResponseHandler: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPClientResponsePart
        let handler: HTTP2ClientConnection.StreamHandler
        private var closed = false
        init(handler: HTTP2ClientConnection.StreamHandler) { self.handler = handler }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                handler.onStatus(Int(head.status.code))
            case .body(let buffer):
                buffer.withUnsafeReadableBytes { handler.onData($0) }
            case .end:
                finish()
                context.close(promise: nil)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            finish()
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }

        private func finish() {
            guard !closed else { return }
            closed = true
            handler.onClose(0)
        }
    }
}
