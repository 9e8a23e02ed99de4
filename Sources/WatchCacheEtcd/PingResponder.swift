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

    /// Bytes of the frame being passed through that are still to come.
    private var remaining = 0
    /// The start of a frame whose header (or, for a PING, whose payload) is not complete yet.
    private var stash: ByteBuffer?

    /// Passes the bytes read on as slices of the buffer they came in — never copied — except the
    /// server's PINGs, which it answers; only a frame start cut by the end of a read (fewer than
    /// 9 bytes of header, or a PING's 17) waits for the next read.
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        if var stashed = stash {
            stashed.writeBuffer(&input)
            input = stashed
            stash = nil
        }
        // The bytes as read (indices only move on `input`): what passes is sliced out of them.
        let read = input
        var passFrom = input.readerIndex
        var answered = false
        while input.readableBytes > 0 {
            if remaining > 0 {
                let n = min(remaining, input.readableBytes)
                input.moveReaderIndex(forwardBy: n)
                remaining -= n
                continue
            }
            let start = input.readerIndex
            guard input.readableBytes >= Self.headerLength,
                  let length = input.getInteger(at: start, as: UInt32.self).map({ Int($0 >> 8) }),
                  let type = input.getInteger(at: start + 3, as: UInt8.self),
                  let flags = input.getInteger(at: start + 4, as: UInt8.self) else {
                stash = input.readSlice(length: input.readableBytes)
                break
            }
            guard type == Self.pingType, flags & Self.ackFlag == 0, length == 8 else {
                input.moveReaderIndex(forwardBy: Self.headerLength)
                remaining = length
                continue
            }
            guard input.readableBytes >= Self.headerLength + length else {
                stash = input.readSlice(length: input.readableBytes)
                break
            }
            if start > passFrom { pass(read.getSlice(at: passFrom, length: start - passFrom)!, context: context) }
            var ack = context.channel.allocator.buffer(capacity: Self.headerLength + length)
            ack.writeInteger(UInt32(8) << 8 | UInt32(Self.pingType), as: UInt32.self)
            ack.writeInteger(Self.ackFlag)
            ack.writeInteger(UInt32(0))
            ack.writeBytes(input.getBytes(at: start + Self.headerLength, length: 8)!)
            context.write(wrapOutboundOut(ack), promise: nil)
            answered = true
            input.moveReaderIndex(forwardBy: Self.headerLength + length)
            passFrom = input.readerIndex
        }
        let end = stash == nil ? input.readerIndex : input.readerIndex - stash!.readableBytes
        if end > passFrom { pass(read.getSlice(at: passFrom, length: end - passFrom)!, context: context) }
        if answered { context.flush() }
    }

    private func pass(_ bytes: ByteBuffer, context: ChannelHandlerContext) {
        context.fireChannelRead(wrapInboundOut(bytes))
    }

    /// Puts a responder in front of the HTTP/2 handler of `channel` (after TLS, if any).
    static func install(on channel: any Channel) -> EventLoopFuture<Void> {
        channel.eventLoop.makeCompletedFuture {
            let http2 = try channel.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self)
            try channel.pipeline.syncOperations.addHandler(PingResponder(), position: .before(http2))
        }
    }
}
