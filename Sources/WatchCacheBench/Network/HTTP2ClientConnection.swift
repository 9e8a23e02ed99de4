import CNghttp2
import NIOCore

/// One HTTP/2 client connection (libnghttp2's client session on a SwiftNIO channel, prior
/// knowledge): many concurrent requests and watch streams multiplexed on one TCP connection.
///
/// Confined to its channel's event loop: call everything from there (hence `@unchecked Sendable`:
/// it only crosses to the loop that owns it).
final class HTTP2ClientConnection: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// What a stream reports to its owner.
    struct StreamHandler {
        /// The response status, once the headers arrived.
        var onStatus: (Int) -> Void = { _ in }
        /// A chunk of the response body.
        var onData: (UnsafeRawBufferPointer) -> Void
        /// The stream closed; 0 after a normal end, else the HTTP/2 error code.
        var onClose: (UInt32) -> Void
    }

    private var session: OpaquePointer?
    private var context: ChannelHandlerContext?
    private var handlers: [Int32: StreamHandler] = [:]
    private var bodies: [Int32: (bytes: [UInt8], offset: Int)] = [:]
    private var inFlush = false
    /// The connection is gone: new requests close at once.
    private var closed = false
    let authority: String
    /// `http` or `https`.
    let scheme: String
    /// The `authorization` header of every request (`Bearer …`), if any.
    let authorization: String?
    /// Called once when the connection closes.
    var onClose: () -> Void = {}

    /// Streams open now.
    var openStreams: Int { handlers.count }

    /// - Parameter initialWindow: the stream flow-control window offered to the server (0: the
    ///   server may send headers but no data — a consumer that never reads).
    init(authority: String, initialWindow: UInt32 = 4 << 20, scheme: String = "http", authorization: String? = nil) {
        self.authority = authority
        self.scheme = scheme
        self.authorization = authorization
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { _, frame, name, nameLength, value, valueLength, _, user in
            let connection = Unmanaged<HTTP2ClientConnection>.fromOpaque(user!).takeUnretainedValue()
            if nameLength == 7, String(decoding: UnsafeBufferPointer(start: name, count: nameLength), as: UTF8.self) == ":status" {
                let status = Int(String(decoding: UnsafeBufferPointer(start: value, count: valueLength), as: UTF8.self)) ?? 0
                connection.handlers[frame!.pointee.hd.stream_id]?.onStatus(status)
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) { _, _, streamID, data, length, user in
            let connection = Unmanaged<HTTP2ClientConnection>.fromOpaque(user!).takeUnretainedValue()
            connection.handlers[streamID]?.onData(UnsafeRawBufferPointer(start: data, count: length))
            return 0
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, streamID, errorCode, user in
            let connection = Unmanaged<HTTP2ClientConnection>.fromOpaque(user!).takeUnretainedValue()
            connection.bodies[streamID] = nil
            connection.handlers.removeValue(forKey: streamID)?.onClose(errorCode)
            return 0
        }
        nghttp2_session_client_new(&session, callbacks, Unmanaged.passUnretained(self).toOpaque())
        // Large windows: a benchmark client should never be the one slowing the stream down.
        var settings = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: initialWindow),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0),
        ]
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &settings, settings.count)
        nghttp2_session_set_local_window_size(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, 256 << 20)
    }

    deinit { nghttp2_session_del(session) }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { flush() }
    }

    func channelActive(context: ChannelHandlerContext) {
        flush()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let consumed = buffer.withUnsafeReadableBytes { nghttp2_session_mem_recv(session, $0.bindMemory(to: UInt8.self).baseAddress, $0.count) }
        if consumed < 0 {
            context.close(promise: nil)
            return
        }
        flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        let open = handlers
        handlers.removeAll()
        for (_, h) in open { h.onClose(UInt32(NGHTTP2_CANCEL.rawValue)) }
        onClose()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Starts a request; returns its stream id (negative if libnghttp2 refused it). On a closed
    /// connection the handler's `onClose` runs at once (`NGHTTP2_CANCEL`), as for the streams that
    /// were open when it closed.
    @discardableResult
    func request(_ method: String, _ path: String, body: [UInt8]? = nil, contentType: String = "application/json",
                 handler: StreamHandler) -> Int32 {
        if closed {
            // Later, not from inside the caller (which may answer a close with a new request).
            if let loop = context?.eventLoop {
                let bound = NIOLoopBound(handler, eventLoop: loop)
                loop.execute { bound.value.onClose(UInt32(NGHTTP2_CANCEL.rawValue)) }
            }
            return -1
        }
        var fields = [(":method", method), (":scheme", scheme), (":authority", authority), (":path", path), ("accept", "application/json")]
        if let authorization { fields.append(("authorization", authorization)) }
        if let body {
            fields.append(("content-type", contentType))
            fields.append(("content-length", String(body.count)))
        }
        // libnghttp2 copies names and values during submit: these buffers live only that long.
        var allocations: [UnsafeMutableBufferPointer<UInt8>] = []
        defer { for a in allocations { a.deallocate() } }
        func copy(_ text: String) -> (UnsafeMutablePointer<UInt8>, Int) {
            let bytes = Array(text.utf8)
            let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(1, bytes.count))
            _ = buffer.initialize(from: bytes)
            allocations.append(buffer)
            return (buffer.baseAddress!, bytes.count)
        }
        var nva: [nghttp2_nv] = fields.map { name, value in
            let (n, nl) = copy(name)
            let (v, vl) = copy(value)
            return nghttp2_nv(name: n, value: v, namelen: nl, valuelen: vl, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue))
        }
        let id: Int32
        if body == nil {
            id = nghttp2_submit_request(session, nil, &nva, nva.count, nil, nil)
        } else {
            var provider = nghttp2_data_provider()
            provider.read_callback = { _, streamID, buffer, length, flags, _, user in
                let connection = Unmanaged<HTTP2ClientConnection>.fromOpaque(user!).takeUnretainedValue()
                guard var pending = connection.bodies[streamID] else {
                    flags!.pointee |= UInt32(NGHTTP2_DATA_FLAG_EOF.rawValue)
                    return 0
                }
                let n = min(length, pending.bytes.count - pending.offset)
                pending.bytes.withUnsafeBufferPointer { buffer!.update(from: $0.baseAddress! + pending.offset, count: n) }
                pending.offset += n
                if pending.offset == pending.bytes.count {
                    flags!.pointee |= UInt32(NGHTTP2_DATA_FLAG_EOF.rawValue)
                    connection.bodies[streamID] = nil
                } else {
                    connection.bodies[streamID] = pending
                }
                return n
            }
            id = nghttp2_submit_request(session, nil, &nva, nva.count, &provider, nil)
        }
        guard id > 0 else { return id }
        handlers[id] = handler
        if let body { bodies[id] = (body, 0) }
        flush()
        return id
    }

    /// Cancels a stream (RST_STREAM CANCEL); its handler's `onClose` follows.
    /// Stops reading the socket (a client stalled entirely): the server's writes back up in TCP.
    func stopReading() {
        context?.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
    }

    func cancel(_ stream: Int32) {
        nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), stream, UInt32(NGHTTP2_CANCEL.rawValue))
        flush()
    }

    /// Writes what libnghttp2 has to send, in one flush.
    func flush() {
        guard let context, context.channel.isActive, !inFlush else { return }
        inFlush = true
        defer { inFlush = false }
        var out = context.channel.allocator.buffer(capacity: 0)
        while true {
            var data: UnsafePointer<UInt8>?
            let n = nghttp2_session_mem_send(session, &data)
            if n <= 0 { break }
            out.writeBytes(UnsafeRawBufferPointer(start: data, count: n))
        }
        if out.readableBytes > 0 { context.writeAndFlush(wrapOutboundOut(out), promise: nil) }
    }
}
