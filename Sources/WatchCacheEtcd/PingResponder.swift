import NIOCore
import NIOHTTP2

/// Answers the server's HTTP/2 PINGs itself, in front of the client's HTTP/2 handler.
///
/// etcd's gRPC server (grpc-go) sends a PING with nearly every request it receives, to estimate
/// the connection's bandwidth-delay product; swift-nio-http2 (under grpc-swift 2) counts PINGs
/// from its peer and closes the connection past 200 in 30 s, as a flood — so a client making more
/// than about 7 calls a second lost its connection every 200 calls ("Stream unexpectedly
/// closed"), and its calls in flight with it. This handler sits between the socket (or TLS) and
/// the HTTP/2 handler, takes the server's PINGs out of the inbound bytes and acknowledges them at
/// once, as the HTTP/2 handler would have; every other frame passes through unchanged, and the
/// client's own keepalive PINGs (and their acknowledgements) too.
final class PingResponder: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let headerLength = 9
    static let pingType: UInt8 = 0x6
    static let ackFlag: UInt8 = 0x1

    /// Bytes of a frame not complete yet.
    private var partial: ByteBuffer?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        if var earlier = partial {
            earlier.writeBuffer(&input)
            input = earlier
            partial = nil
        }
        var passed: ByteBuffer?
        var answered = false
        while input.readableBytes >= Self.headerLength {
            let start = input.readerIndex
            guard let length = input.getInteger(at: start, as: UInt32.self).map({ Int($0 >> 8) }),
                  let type = input.getInteger(at: start + 3, as: UInt8.self),
                  let flags = input.getInteger(at: start + 4, as: UInt8.self) else { break }
            let total = Self.headerLength + length
            guard input.readableBytes >= total else { break }
            let frame = input.readSlice(length: total)!
            if type == Self.pingType, flags & Self.ackFlag == 0, length == 8 {
                var ack = context.channel.allocator.buffer(capacity: total)
                ack.writeInteger(UInt32(8) << 8 | UInt32(Self.pingType), as: UInt32.self)
                ack.writeInteger(Self.ackFlag)
                ack.writeInteger(UInt32(0))
                ack.writeBytes(frame.getBytes(at: frame.readerIndex + Self.headerLength, length: 8)!)
                context.write(wrapOutboundOut(ack), promise: nil)
                answered = true
            } else if passed == nil {
                passed = frame
            } else {
                var more = frame
                passed!.writeBuffer(&more)
            }
        }
        if input.readableBytes > 0 { partial = input }
        if answered { context.flush() }
        if let passed { context.fireChannelRead(wrapInboundOut(passed)) }
    }

    /// Puts a responder in front of the HTTP/2 handler of `channel` (after TLS, if any).
    static func install(on channel: any Channel) -> EventLoopFuture<Void> {
        channel.eventLoop.makeCompletedFuture {
            let http2 = try channel.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self)
            try channel.pipeline.syncOperations.addHandler(PingResponder(), position: .before(http2))
        }
    }
}
