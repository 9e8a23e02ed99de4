import NIOCore
import NIOHTTP1
import WatchCache

/// HTTP/1.1: one request at a time per connection (the pipeline handler queues the rest), complete
/// responses with a content length, and watches as chunked responses of newline-terminated events.
final class HTTP1Handler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let api: APIServer
    private let limits: ServerLimits
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var tooLarge = false
    private var watcher: Watcher?
    /// Re-encodes the watch's events (the Table form); `nil` sends them as they are.
    private var transform: WatchEventTransform?
    private var events: [WatchEvent] = []
    private var context: ChannelHandlerContext?
    /// The verified client certificate's user, if the connection presented one.
    private var peer = PeerCertificateUser()
    /// The server is shutting down: close after the current response.
    private var quiescing = false
    /// Closes the connection when no request has come for the idle timeout.
    private var idleTimer: Scheduled<Void>?
    /// A gzipped response being written as the connection takes it, and whether the connection
    /// stays open after it.
    private var gzip: (body: GzipBody, keepAlive: Bool)?

    init(api: APIServer, limits: ServerLimits) {
        self.api = api
        self.limits = limits
        api.connections.http1.add(1, ordering: .relaxed)
    }

    deinit {
        api.connections.http1.subtract(1, ordering: .relaxed)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        armIdleTimer()
    }

    /// (Re)starts the idle countdown; called when the connection has nothing in flight.
    private func armIdleTimer() {
        idleTimer?.cancel()
        guard let context else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        idleTimer = context.eventLoop.scheduleTask(in: TimeAmount(limits.idleConnectionTimeout)) {
            let handler = bound.value
            if handler.watcher == nil, handler.head == nil, handler.gzip == nil { handler.context?.close(promise: nil) }
        }
    }

    static let headersTooLarge = "431 Request Header Fields Too Large"

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            idleTimer?.cancel()
            idleTimer = nil
            let headerBytes = h.uri.utf8.count + h.headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 }
            if headerBytes > limits.maxHeaderBytes {
                writeHeadersTooLarge(context: context)
                return
            }
            head = h
            body = []
            tooLarge = Int(h.headers.first(name: "content-length") ?? "0").map { $0 > limits.maxRequestBody } ?? false
        case .body(var bytes):
            if body.count + bytes.readableBytes > limits.maxRequestBody { tooLarge = true }
            if !tooLarge { body += bytes.readBytes(length: bytes.readableBytes) ?? [] }
        case .end:
            guard let head else { return }
            self.head = nil
            if tooLarge {
                respond(.error(Status(code: 413, reason: .requestEntityTooLarge, message: "the server has received a request body that is too large")),
                        head: head, context: context)
                return
            }
            var request = APIRequest(method: head.method.rawValue, target: head.uri,
                                     headers: head.headers.map { ($0.name, $0.value) }, body: body)
            request.certificateUser = peer.user(on: context.channel)
            body = []
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            let loopContext = NIOLoopBound(context, eventLoop: context.eventLoop)
            let eventLoop = context.eventLoop
            api.handle(request) { response in
                eventLoop.execute { bound.value.respond(response, head: head, context: loopContext.value) }
            }
        }
    }

    private func respond(_ response: APIResponse, head: HTTPRequestHead, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        switch response {
        case .complete(let status, let contentType, let bytes, let extra):
            let keepAlive = head.isKeepAlive && !quiescing
            if head.method != .HEAD, head.version == .http1_1,
               ResponseCompression.gzips(acceptEncoding: head.headers.first(name: "accept-encoding"), bodyBytes: bytes.count),
               let body = GzipBody(bytes) {
                // Chunked: the compressed length is known only at the end.
                var headers = HTTPHeaders([("content-type", contentType), ("transfer-encoding", "chunked")] + ResponseCompression.headers)
                for (k, v) in extra { headers.add(name: k, value: v) }
                if !keepAlive { headers.add(name: "connection", value: "close") }
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .init(statusCode: status), headers: headers))), promise: nil)
                gzip = (body, keepAlive)
                pumpGzip()
                return
            }
            var headers = HTTPHeaders([("content-type", contentType), ("content-length", String(bytes.count))])
            for (k, v) in extra { headers.add(name: k, value: v) }
            if !keepAlive { headers.add(name: "connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .init(statusCode: status), headers: headers))), promise: nil)
            if head.method != .HEAD { context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: bytes)))), promise: nil) }
            let loopContext = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                if !keepAlive { loopContext.value.close(promise: nil) }
            }
            if keepAlive { armIdleTimer() }
        case .watch(let cache, let options, let transform, let contentType):
            self.transform = transform
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            let eventLoop = context.eventLoop
            do {
                watcher = try cache.watch(options) { eventLoop.execute { bound.value.pump() } }
            } catch {
                respond(.error(error), head: head, context: context)
                return
            }
            let headers = HTTPHeaders([("content-type", contentType), ("transfer-encoding", "chunked")])
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))), promise: nil)
            pump()
        }
    }

    /// Moves what the watcher has into the connection while it is writable; ends the response when
    /// the watch ends.
    private func pump() {
        guard let context, let watcher else { return }
        var wrote = false
        while context.channel.isWritable {
            events.removeAll(keepingCapacity: true)
            let end = watcher.next(into: &events, maxEvents: 64)
            if !events.isEmpty {
                if let transform { events = events.map(transform) }
                var buffer = context.channel.allocator.buffer(capacity: events.reduce(0) { $0 + $1.body.count + 40 })
                WatchLines.write(events, into: &buffer)
                context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
                wrote = true
            }
            if end != nil {
                self.watcher = nil
                let loopContext = NIOLoopBound(context, eventLoop: context.eventLoop)
                let close = quiescing
                context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
                    if close { loopContext.value.close(promise: nil) }
                }
                if !close { armIdleTimer() }
                return
            }
            if events.isEmpty { break }  // pending: onReady will call again
        }
        if wrote { context.flush() }
    }

    /// Compresses the next part of a gzipped response while the connection is writable; ends the
    /// response when the body is done. A slow reader holds the body and the compressor, never the
    /// whole compressed body.
    private func pumpGzip() {
        guard let context, let (body, keepAlive) = gzip else { return }
        var wrote = false
        while context.channel.isWritable, !body.finished {
            var buffer = context.channel.allocator.buffer(capacity: 64 * 1024)
            let n = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 64 * 1024) { raw in
                body.read(into: raw.bindMemory(to: UInt8.self).baseAddress!, capacity: raw.count)
            }
            if n == 0 && !body.finished {
                context.close(promise: nil)  // zlib failed: the response cannot be completed
                gzip = nil
                return
            }
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            wrote = true
        }
        guard body.finished else {
            if wrote { context.flush() }
            return
        }
        gzip = nil
        let loopContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { loopContext.value.close(promise: nil) }
        }
        if keepAlive { armIdleTimer() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            pump()
            pumpGzip()
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = nil
        watcher?.cancel()
        watcher = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        watcher?.cancel()
        watcher = nil
        self.context = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let parserError = error as? HTTPParserError, parserError == .headerOverflow {
            writeHeadersTooLarge(context: context)  // the parser's own limit
            return
        }
        context.close(promise: nil)
    }

    /// Answers 431 and closes: the rest of an oversized request cannot be read reliably.
    private func writeHeadersTooLarge(context: ChannelHandlerContext) {
        let body = Array(Self.headersTooLarge.utf8)
        let headers = HTTPHeaders([("content-type", "text/plain; charset=utf-8"), ("content-length", String(body.count)), ("connection", "close")])
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .requestHeaderFieldsTooLarge, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        let loopContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in loopContext.value.close(promise: nil) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ServerQuiesce {
            quiescing = true
            if watcher == nil, head == nil, gzip == nil { context.close(promise: nil) }  // idle keep-alive connection
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
