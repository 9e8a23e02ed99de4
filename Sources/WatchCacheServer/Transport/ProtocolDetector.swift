import NIOCore
import NIOHTTP1

/// The first handler of a cleartext connection: the HTTP/2 client preface means HTTP/2 with prior
/// knowledge (libnghttp2); anything else is HTTP/1.1. It installs the right handlers after itself,
/// hands them the bytes read so far, and removes itself.
final class ProtocolDetector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    private let api: APIServer
    private let limits: ServerLimits
    private var buffered: ByteBuffer?
    /// Whether the protocol is known (counted as undecided until then, not until this handler is
    /// freed: the first request is handled before it is).
    private var decided = false
    /// Closes a connection that has not shown its protocol within the header timeout.
    private var timeout: Scheduled<Void>?

    init(api: APIServer, limits: ServerLimits) {
        self.api = api
        self.limits = limits
        api.connections.undecided.add(1, ordering: .relaxed)
    }

    deinit {
        if !decided { api.connections.undecided.subtract(1, ordering: .relaxed) }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        timeout = context.eventLoop.scheduleTask(in: TimeAmount(limits.requestHeaderTimeout)) { bound.value.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timeout?.cancel()
        timeout = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        timeout?.cancel()
        timeout = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if buffered == nil { buffered = bytes } else { buffered!.writeBuffer(&bytes) }
        let view = buffered!.readableBytesView
        let n = min(view.count, Self.preface.count)
        let isPrefaceSoFar = view.prefix(n).elementsEqual(Self.preface.prefix(n))
        if isPrefaceSoFar, n < Self.preface.count { return }  // undecided: wait for more
        do {
            if isPrefaceSoFar {
                try context.pipeline.syncOperations.addHandler(HTTP2ConnectionHandler(api: api, limits: limits), position: .after(self))
            } else {
                try context.pipeline.syncOperations.addHandlers(
                    [HTTPResponseEncoder(),
                     ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes)),
                     HTTPServerPipelineHandler(),
                     HTTP1Handler(api: api, limits: limits)],
                    position: .after(self))
            }
        } catch {
            context.close(promise: nil)
            return
        }
        timeout?.cancel()
        timeout = nil
        decided = true
        api.connections.undecided.subtract(1, ordering: .relaxed)
        let bytesSoFar = buffered!
        buffered = nil
        context.fireChannelRead(wrapInboundOut(bytesSoFar))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // Shutting down before the protocol is known: nothing is in flight.
        if event is ServerQuiesce { context.close(promise: nil) } else { context.fireUserInboundEventTriggered(event) }
    }
}

extension ProtocolDetector {
    typealias InboundOut = ByteBuffer
}
