import CNghttp2
import NIOCore
import WatchCache

/// HTTP/2 through libnghttp2's memory API: bytes read from the channel go to `mem_recv`, frames
/// come back from `mem_send` and are written while the channel is writable. Every unsafe call and
/// the session's lifetime are confined to this handler on its event loop.
///
/// Responses are data providers reading a stream's pending bytes; a watch stream defers when empty
/// and is resumed when its watcher has events. Flow control, HPACK and framing are libnghttp2's.
final class HTTP2ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let api: APIServer
    private let limits: ServerLimits
    private var session: OpaquePointer?
    private var streams: [Int32: HTTP2Stream] = [:]
    private var context: ChannelHandlerContext?
    /// The verified client certificate's user, if the connection presented one.
    private var peer = PeerCertificateUser()
    private var wake: WakeQueue?
    /// Streams whose request is complete, handled once `mem_recv` has returned (not re-entrantly).
    private var completed: [Int32] = []
    private var inFlush = false
    /// The channel became writable during a flush: flush once more.
    private var flushAgain = false
    /// Closes the connection when it has had no stream for the idle timeout.
    private var idleTimer: Scheduled<Void>?
    /// The channel closed while a flush was writing: the session is deleted once the flush unwinds.
    private var closedDuringFlush = false
    private var events: [WatchEvent] = []
    /// The highest stream the client has opened: a new stream must be above it (RFC 9113 §5.1.1).
    private var highestOpenedStream: Int32 = 0
    /// Streams whose header block has begun and not ended, and when it began: a block left
    /// unfinished past the header timeout (slow loris) closes the connection.
    private var unfinishedHeaders: [Int32: NIODeadline] = [:]
    private var headerTimer: Scheduled<Void>?
    /// Bytes of complete responses not yet taken by libnghttp2, and requests waiting for them to
    /// drain below ``ServerLimits/maxPendingResponseBytesPerConnection``.
    private var pendingResponseBytes = 0
    private var heldRequests: [Int32] = []
    private var releasingHeld = false
    /// Bytes of request bodies being received (not yet handed to the API).
    private var bodyBytesInFlight = 0
    /// Frames in a row with an empty payload and no end.
    private var consecutiveEmptyFrames = 0

    init(api: APIServer, limits: ServerLimits) {
        self.api = api
        self.limits = limits
        api.connections.http2.add(1, ordering: .relaxed)
    }

    deinit {
        api.connections.http2.subtract(1, ordering: .relaxed)
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        wake = WakeQueue(eventLoop: context.eventLoop) { ready in bound.value.streamsReady(ready) }
        guard createSession() else {
            context.close(promise: nil)
            return
        }
        var settings = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue), value: UInt32(limits.maxConcurrentStreams)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue), value: UInt32(limits.maxHeaderBytes)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: 1 << 20),
            // RFC 9218: RFC 7540 priorities are ignored (no priority tree to loop through or to
            // keep closed streams for), as Go's server — kube-apiserver's — does too.
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES.rawValue), value: 1),
        ]
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &settings, settings.count)
        armIdleTimer()
    }

    /// (Re)starts the idle countdown when no stream is open; an open stream cancels it.
    private func armIdleTimer() {
        idleTimer?.cancel()
        idleTimer = nil
        guard streams.isEmpty, let context else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let timeout = TimeAmount(limits.idleConnectionTimeout)
        idleTimer = context.eventLoop.scheduleTask(in: timeout) { bound.value.closeIdle() }
    }

    /// Arms the header timer for the oldest unfinished header block, if there is one and no timer runs.
    private func armHeaderTimer() {
        guard headerTimer == nil, let oldest = unfinishedHeaders.values.min(), let context else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        headerTimer = context.eventLoop.scheduleTask(deadline: oldest + TimeAmount(limits.requestHeaderTimeout)) {
            bound.value.headerTimerFired()
        }
    }

    private func headerTimerFired() {
        headerTimer = nil
        guard let session, let context else { return }
        let expired = context.eventLoop.now - TimeAmount(limits.requestHeaderTimeout)
        guard unfinishedHeaders.values.contains(where: { $0 <= expired }) else { return armHeaderTimer() }
        api.logger.info("HTTP/2 request headers not finished in time, closing the connection", metadata: [
            "peer": "\(context.channel.remoteAddress.map { "\($0)" } ?? "?")",
        ])
        nghttp2_session_terminate_session(session, UInt32(NGHTTP2_NO_ERROR.rawValue))
        flush()
        context.close(promise: nil)
    }

    private func closeIdle() {
        guard streams.isEmpty, let session, let context else { return }
        nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nghttp2_session_get_last_proc_stream_id(session),
                              UInt32(NGHTTP2_NO_ERROR.rawValue), nil, 0)
        flush()
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let session else { return }
        let buffer = unwrapInboundIn(data)
        let consumed = buffer.withUnsafeReadableBytes { bytes in
            nghttp2_session_mem_recv(session, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
        }
        if consumed < 0 {
            // libnghttp2 has queued a GOAWAY for a protocol error; send it and close.
            api.logger.info("HTTP/2 protocol error, closing the connection", metadata: [
                "peer": "\(context.channel.remoteAddress.map { "\($0)" } ?? "?")",
                "nghttp2.error": "\(String(cString: nghttp2_strerror(Int32(consumed))))",
            ])
            flush()
            context.close(promise: nil)
            return
        }
        let ready = completed
        completed.removeAll()
        for id in ready {
            if pendingResponseBytes >= limits.maxPendingResponseBytesPerConnection || !heldRequests.isEmpty {
                heldRequests.append(id)  // the peer has not taken the answers it asked for yet
            } else {
                handleRequest(id)
            }
        }
    }

    /// Handles held requests while the connection's unsent answers are below their bound.
    private func releaseHeldRequests() {
        guard !releasingHeld, !heldRequests.isEmpty else { return }
        releasingHeld = true
        defer { releasingHeld = false }
        while !heldRequests.isEmpty, pendingResponseBytes < limits.maxPendingResponseBytesPerConnection {
            handleRequest(heldRequests.removeFirst())
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flush()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            // Inside a flush (the socket drained during `context.flush()`), ask that flush to go on:
            // returning would lose the only wake-up a large response gets.
            if inFlush { flushAgain = true } else { flush() }
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        tearDown()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        tearDown()
        self.context = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ServerQuiesce, let session {
            // GOAWAY with the last stream we processed: the client opens no more streams here and
            // retries later ones elsewhere; the open streams end as their watches end.
            nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nghttp2_session_get_last_proc_stream_id(session),
                                  UInt32(NGHTTP2_NO_ERROR.rawValue), nil, 0)
            flush()
            if streams.isEmpty { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func tearDown() {
        idleTimer?.cancel()
        idleTimer = nil
        headerTimer?.cancel()
        headerTimer = nil
        for stream in streams.values { stream.watcher?.cancel() }
        streams.removeAll()
        // The wake-up queue's drain refers to this handler: without this, the two keep each other.
        wake?.close()
        wake = nil
        guard let session else { return }
        if inFlush {
            closedDuringFlush = true  // libnghttp2 is still on the stack
            return
        }
        nghttp2_session_del(session)
        self.session = nil
    }

    // MARK: - Requests and responses

    private func handleRequest(_ id: Int32) {
        guard let stream = streams[id], let context else { return }
        if stream.headerBytes > limits.maxHeaderBytes {
            respond(.complete(status: 431, contentType: "text/plain; charset=utf-8", body: Array("431 Request Header Fields Too Large".utf8)),
                    on: stream, isHead: false)
            return
        }
        if stream.bodyTooLarge {
            respond(.error(Status(code: 413, reason: .requestEntityTooLarge, message: "the server has received a request body that is too large")), on: stream, isHead: false)
            return
        }
        let method = stream.header(":method") ?? "GET"
        var request = APIRequest(method: method, target: stream.header(":path") ?? "/",
                                 headers: stream.headers.filter { !$0.0.hasPrefix(":") }, body: stream.body)
        request.certificateUser = peer.user(on: context.channel)
        stream.acceptsGzip = ResponseCompression.acceptsGzip(request.header("accept-encoding"))
        // The request is handed over: a watch can live for hours, so its header and body bytes
        // should not (about a tenth of an idle watch stream's memory).
        bodyBytesInFlight -= stream.body.count
        stream.body = []
        stream.headers = []
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let eventLoop = context.eventLoop
        api.handle(request) { response in
            if eventLoop.inEventLoop {
                bound.value.respond(response, toStream: id, isHead: method == "HEAD")
            } else {
                eventLoop.execute { bound.value.respond(response, toStream: id, isHead: method == "HEAD") }
            }
        }
    }

    private func respond(_ response: APIResponse, toStream id: Int32, isHead: Bool) {
        guard let stream = streams[id] else { return }  // the client went away meanwhile
        respond(response, on: stream, isHead: isHead)
        flush()
    }

    private func respond(_ response: APIResponse, on stream: HTTP2Stream, isHead: Bool) {
        switch response {
        case .complete(let status, let contentType, let body, let extra):
            stream.ended = true
            if !isHead, ResponseCompression.gzips(accepted: stream.acceptsGzip, bodyBytes: body.count), let gzip = GzipBody(body) {
                stream.gzip = gzip
                pendingResponseBytes += body.count
                submitResponse(stream, headers: [(":status", String(status)), ("content-type", contentType)] + ResponseCompression.headers + extra,
                               withBody: true)
                return
            }
            if !isHead, !body.isEmpty {
                var pending = context!.channel.allocator.buffer(capacity: body.count)
                pending.writeBytes(body)
                stream.pending = pending
                pendingResponseBytes += body.count
            }
            submitResponse(stream, headers: [(":status", String(status)), ("content-type", contentType),
                                             ("content-length", String(body.count))] + extra,
                           withBody: !isHead && !body.isEmpty)
        case .watch(let cache, let options, let transform, let contentType):
            stream.transform = transform
            let id = stream.id
            let wake = self.wake!
            do {
                stream.watcher = try cache.watch(options) { wake.wake(id) }
            } catch {
                respond(.error(error), on: stream, isHead: isHead)
                return
            }
            // The headers alone; the events follow in DATA items submitted as they come.
            submitHeaders(stream, [(":status", "200"), ("content-type", contentType)])
            refill(stream)
            if stream.hasOutput || stream.ended { submitData(stream) }
        }
    }

    private func submitResponse(_ stream: HTTP2Stream, headers: [(String, String)], withBody: Bool) {
        guard let session else { return }
        let rv = Self.withHeaderBlock(headers) { nva in
            if withBody {
                var provider = nghttp2_data_provider(source: nghttp2_data_source(ptr: nil), read_callback: Self.readCallback)
                return nghttp2_submit_response(session, stream.id, nva.baseAddress, nva.count, &provider)
            }
            return nghttp2_submit_response(session, stream.id, nva.baseAddress, nva.count, nil)
        }
        if rv != 0 {
            nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), stream.id, UInt32(NGHTTP2_INTERNAL_ERROR.rawValue))
        }
    }

    /// A response's HEADERS without END_STREAM and without a DATA item: the body follows in items
    /// ``submitData(_:)`` adds.
    private func submitHeaders(_ stream: HTTP2Stream, _ headers: [(String, String)]) {
        guard let session else { return }
        let rv = Self.withHeaderBlock(headers) { nva in
            nghttp2_submit_headers(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), stream.id, nil, nva.baseAddress, nva.count, nil)
        }
        if rv < 0 {
            nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), stream.id, UInt32(NGHTTP2_INTERNAL_ERROR.rawValue))
        } else {
            stream.dataItem = .detached
        }
    }

    /// Gives a stream without a DATA item a new one, which frames its queued bytes and ends the
    /// stream once it is over (END_STREAM at the EOF the provider returns without NO_END_STREAM).
    private func submitData(_ stream: HTTP2Stream) {
        guard let session, stream.dataItem == .detached else { return }
        stream.dataItem = .queued
        var provider = nghttp2_data_provider(source: nghttp2_data_source(ptr: nil), read_callback: Self.readCallback)
        let rv = nghttp2_submit_data(session, UInt8(NGHTTP2_FLAG_END_STREAM.rawValue), stream.id, &provider)
        if rv == NGHTTP2_ERR_DATA_EXIST.rawValue {
            // The stream still has an item after all: wake it instead.
            nghttp2_session_resume_data(session, stream.id)
        }
        // Any other failure means the stream is closing: its close callback cleans up.
    }

    /// Calls `body` with `headers` as libnghttp2 name-value pairs; libnghttp2 copies names and
    /// values during the call, and the copies made here are freed after it.
    private static func withHeaderBlock(_ headers: [(String, String)], _ body: (UnsafeMutableBufferPointer<nghttp2_nv>) -> Int32) -> Int32 {
        var nva: [nghttp2_nv] = []
        var allocations: [UnsafeMutableBufferPointer<UInt8>] = []
        defer { for a in allocations { a.deallocate() } }
        func copy(_ text: String) -> (UnsafeMutablePointer<UInt8>, Int) {
            let bytes = Array(text.utf8)
            let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: Swift.max(bytes.count, 1))
            _ = buffer.initialize(from: bytes)
            allocations.append(buffer)
            return (buffer.baseAddress!, bytes.count)
        }
        for (name, value) in headers {
            let (n, nl) = copy(name)
            let (v, vl) = copy(value)
            nva.append(nghttp2_nv(name: n, value: v, namelen: nl, valuelen: vl, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)))
        }
        return nva.withUnsafeMutableBufferPointer { body($0) }
    }

    // MARK: - Watch streams

    /// Watch streams whose watchers have events (or ended): move them into their pending bytes and
    /// resume the deferred data providers, then write once for all.
    private func streamsReady(_ ids: [Int32]) {
        guard let session else { return }
        for id in ids {
            guard let stream = streams[id] else { continue }
            refill(stream)
            guard stream.hasOutput || stream.ended else { continue }
            switch stream.dataItem {
            case .deferred:
                stream.dataItem = .queued
                nghttp2_session_resume_data(session, id)
            case .detached:
                submitData(stream)
            case .queued:
                break
            }
        }
        flush()
    }

    /// Pulls events from the stream's watcher into its queue, up to what can go out soon: the
    /// per-stream bound while the peer's flow-control windows are open, one frame's worth when
    /// they are closed — so a client that stops reading leaves its events in the watcher's queue,
    /// where the slow-watcher policy sees them (and the server holds little for it), as a
    /// blocked write does in kube-apiserver. (A full socket alone does not shrink the bound: it is
    /// routine at high throughput, and batching is what keeps throughput up.) Safe inside
    /// libnghttp2 callbacks: it only reads the session's window sizes.
    private func refill(_ stream: HTTP2Stream) {
        guard let watcher = stream.watcher else { return }
        let bound = refillBound(stream)
        while stream.queuedLineBytes < bound {
            events.removeAll(keepingCapacity: true)
            let end = watcher.next(into: &events, maxEvents: 64)
            if let transform = stream.transform {
                for event in events { stream.enqueue(transform(event)) }
            } else {
                for event in events { stream.enqueue(event) }
            }
            if end != nil {
                stream.watcher = nil
                stream.ended = true
                return
            }
            if events.isEmpty { return }
        }
    }

    /// What a watch stream may hold in the transport: see ``refill(_:)``.
    private func refillBound(_ stream: HTTP2Stream) -> Int {
        guard let session else { return Self.blockedStreamPending }
        let window = min(nghttp2_session_get_stream_remote_window_size(session, stream.id), nghttp2_session_get_remote_window_size(session))
        return min(limits.maxPendingPerStream, max(Self.blockedStreamPending, Int(window)))
    }

    /// What a watch stream holds in the transport while its peer does not read: one 16 KiB DATA frame.
    static let blockedStreamPending = 16 * 1024

    // MARK: - Output

    /// Writes what libnghttp2 has to send, while the channel is writable; again if the channel
    /// became writable while it was flushing.
    private func flush() {
        guard !inFlush else { return }
        repeat {
            flushAgain = false
            guard flushOnce() else { return }
        } while flushAgain && context?.channel.isWritable == true
        releaseHeldRequests()
    }

    /// One pass of ``flush()``; false when the connection is closing.
    private func flushOnce() -> Bool {
        guard let context, let session else { return false }
        inFlush = true
        var out = context.channel.allocator.buffer(capacity: 0)
        // While not writable, take at most one chunk (so SETTINGS, GOAWAY and resets still go out),
        // leaving the rest in libnghttp2 until channelWritabilityChanged.
        while context.channel.isWritable || out.readableBytes == 0 {
            var data: UnsafePointer<UInt8>?
            let n = nghttp2_session_mem_send(session, &data)
            if n < 0 {
                inFlush = false
                context.close(promise: nil)
                return false
            }
            if n == 0 { break }
            out.writeBytes(UnsafeRawBufferPointer(start: data, count: n))  // valid only until the next call
            if out.readableBytes >= 64 * 1024 {
                context.write(wrapOutboundOut(out), promise: nil)
                out = context.channel.allocator.buffer(capacity: 0)
                if !context.channel.isWritable { break }
            }
        }
        if out.readableBytes > 0 { context.write(wrapOutboundOut(out), promise: nil) }
        context.flush()
        inFlush = false
        if closedDuringFlush {
            closedDuringFlush = false
            tearDown()
            return false
        }
        if nghttp2_session_want_read(session) == 0, nghttp2_session_want_write(session) == 0 {
            context.close(promise: nil)
            return false
        }
        return true
    }

    // MARK: - libnghttp2 callbacks

    private func createSession() -> Bool {
        var callbacks: OpaquePointer?
        guard nghttp2_session_callbacks_new(&callbacks) == 0 else { return false }
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_on_begin_frame_callback(callbacks) { session, header, userData in
            guard let session, let header, let handler = HTTP2ConnectionHandler.from(userData) else { return 0 }
            // A HEADERS frame on a stream that is not open opens one, so its identifier must be
            // above every stream the client opened (RFC 9113 §5.1.1): a smaller one is a connection
            // error, as in Go's server (kube-apiserver's). libnghttp2 alone ignores such a frame.
            let id = header.pointee.stream_id
            let type = header.pointee.type
            if type == UInt8(NGHTTP2_HEADERS.rawValue), id != 0, id <= handler.highestOpenedStream,
               handler.streams[id] == nil {
                nghttp2_session_terminate_session(session, UInt32(NGHTTP2_PROTOCOL_ERROR.rawValue))
            }
            // Empty frames that end nothing cost the server a frame's work for no data (CVE-2019-9518).
            let flags = header.pointee.flags
            let endless = type == UInt8(NGHTTP2_DATA.rawValue) ? flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) == 0
                : (type == UInt8(NGHTTP2_HEADERS.rawValue) || type == UInt8(NGHTTP2_CONTINUATION.rawValue))
                    && flags & UInt8(NGHTTP2_FLAG_END_HEADERS.rawValue) == 0
            if header.pointee.length == 0, endless {
                handler.consecutiveEmptyFrames += 1
                if handler.consecutiveEmptyFrames > handler.limits.maxConsecutiveEmptyFrames {
                    nghttp2_session_terminate_session(session, UInt32(NGHTTP2_ENHANCE_YOUR_CALM.rawValue))
                }
            } else if header.pointee.length > 0 {
                handler.consecutiveEmptyFrames = 0
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks) { _, frame, userData in
            guard let frame, let handler = HTTP2ConnectionHandler.from(userData) else { return 0 }
            if frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue), frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST {
                let id = frame.pointee.hd.stream_id
                handler.highestOpenedStream = max(handler.highestOpenedStream, id)
                handler.unfinishedHeaders[id] = handler.context!.eventLoop.now
                handler.armHeaderTimer()
                handler.streams[id] = HTTP2Stream(id: id)
                handler.idleTimer?.cancel()
                handler.idleTimer = nil
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { _, frame, name, nameLength, value, valueLength, _, userData in
            guard let frame, let name, let value, let handler = HTTP2ConnectionHandler.from(userData),
                  let stream = handler.streams[frame.pointee.hd.stream_id] else { return 0 }
            stream.headerBytes += nameLength + valueLength + 32  // RFC 7540's accounting for SETTINGS_MAX_HEADER_LIST_SIZE
            if stream.headerBytes <= handler.limits.maxHeaderBytes {
                stream.headers.append((String(decoding: UnsafeBufferPointer(start: name, count: nameLength), as: UTF8.self),
                                       String(decoding: UnsafeBufferPointer(start: value, count: valueLength), as: UTF8.self)))
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) { session, _, streamID, data, length, userData in
            guard let data, let handler = HTTP2ConnectionHandler.from(userData), let stream = handler.streams[streamID] else { return 0 }
            if stream.body.count + length > handler.limits.maxRequestBody {
                handler.bodyBytesInFlight -= stream.body.count
                stream.bodyTooLarge = true
                stream.body = []
            } else if handler.bodyBytesInFlight + length > handler.limits.maxRequestBodyBytesPerConnection {
                // Too many bodies at once on this connection: refuse this stream, nothing was done.
                handler.bodyBytesInFlight -= stream.body.count
                stream.body = []
                handler.streams[streamID] = nil
                if let session { nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), streamID, UInt32(NGHTTP2_REFUSED_STREAM.rawValue)) }
            } else if !stream.bodyTooLarge {
                stream.body.append(contentsOf: UnsafeBufferPointer(start: data, count: length))
                handler.bodyBytesInFlight += length
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, userData in
            guard let frame, let handler = HTTP2ConnectionHandler.from(userData) else { return 0 }
            let type = frame.pointee.hd.type
            if type == UInt8(NGHTTP2_HEADERS.rawValue), handler.unfinishedHeaders.removeValue(forKey: frame.pointee.hd.stream_id) != nil,
               handler.unfinishedHeaders.isEmpty {
                handler.headerTimer?.cancel()
                handler.headerTimer = nil
            }
            let endStream = frame.pointee.hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
            if endStream, type == UInt8(NGHTTP2_HEADERS.rawValue) || type == UInt8(NGHTTP2_DATA.rawValue),
               handler.streams[frame.pointee.hd.stream_id] != nil {
                handler.completed.append(frame.pointee.hd.stream_id)
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, streamID, _, userData in
            guard let handler = HTTP2ConnectionHandler.from(userData) else { return 0 }
            if let stream = handler.streams.removeValue(forKey: streamID) {
                stream.watcher?.cancel()
                handler.bodyBytesInFlight -= stream.body.count
                handler.pendingResponseBytes -= (stream.pending?.readableBytes ?? 0) + (stream.gzip?.remainingInput ?? 0)
            }
            handler.unfinishedHeaders[streamID] = nil
            handler.heldRequests.removeAll { $0 == streamID }
            if handler.streams.isEmpty { handler.armIdleTimer() }
            return 0
        }
        var option: OpaquePointer?
        guard nghttp2_option_new(&option) == 0 else { return false }
        defer { nghttp2_option_del(option) }
        nghttp2_option_set_stream_reset_rate_limit(option, limits.streamResetRate.burst, limits.streamResetRate.perSecond)
        nghttp2_option_set_max_settings(option, 32)
        // Stated rather than left to the library's defaults (they differ between versions): a
        // header block in at most 8 CONTINUATIONs (CONTINUATION flood), at most 1,000 PING and
        // SETTINGS acknowledgements waiting for a peer that does not read (ping / settings flood).
        nghttp2_option_set_max_continuations(option, 8)
        nghttp2_option_set_max_outbound_ack(option, 1000)
        var created: OpaquePointer?
        // Unretained: the session is deleted in tearDown before this handler can go away.
        let userData = Unmanaged.passUnretained(self).toOpaque()
        guard nghttp2_session_server_new2(&created, callbacks, userData, option) == 0 else { return false }
        session = created
        return true
    }

    private static func from(_ userData: UnsafeMutableRawPointer?) -> HTTP2ConnectionHandler? {
        userData.map { Unmanaged<HTTP2ConnectionHandler>.fromOpaque($0).takeUnretainedValue() }
    }

    /// The data provider of every response: copies the stream's pending body or queued watch
    /// lines; ends a watch stream's item (not the stream) once it sent all it had, defers one that
    /// has nothing; ends the stream when it is over and drained.
    private static let readCallback: nghttp2_data_source_read_callback = { _, streamID, buffer, length, flags, _, userData in
        guard let buffer, let flags, let handler = HTTP2ConnectionHandler.from(userData), let stream = handler.streams[streamID] else {
            return Int(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue)
        }
        if let gzip = stream.gzip {
            let before = gzip.remainingInput
            let n = gzip.read(into: buffer, capacity: length)
            handler.pendingResponseBytes -= before - gzip.remainingInput
            if gzip.finished {
                stream.gzip = nil
                flags.pointee |= UInt32(NGHTTP2_DATA_FLAG_EOF.rawValue)
            } else if n == 0 {
                return Int(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue)
            }
            return n
        }
        if !stream.hasOutput { handler.refill(stream) }
        var n = min(length, stream.pending?.readableBytes ?? 0)
        if n > 0 {
            stream.pending!.readWithUnsafeReadableBytes { bytes in
                buffer.update(from: bytes.bindMemory(to: UInt8.self).baseAddress!, count: n)
                return n
            }
            handler.pendingResponseBytes -= n
            if stream.pending!.readableBytes == 0 { stream.pending = nil }
        }
        if n < length { n += stream.copyLines(into: buffer + n, capacity: length - n) }
        // Before letting the item go, ask the watcher for more: only a watcher that said "nothing
        // now" promises a wake-up (a refill may have stopped at its bound instead).
        if !stream.hasOutput, !stream.ended, n > 0 { handler.refill(stream) }
        if !stream.hasOutput {
            if stream.ended {
                flags.pointee |= UInt32(NGHTTP2_DATA_FLAG_EOF.rawValue)
            } else if n == 0 {
                stream.dataItem = .deferred
                return Int(NGHTTP2_ERR_DEFERRED.rawValue)
            } else {
                // A watch stream that sent all it had: this frame ends its DATA item but not the
                // stream, so an idle watch holds no item in libnghttp2 (~0.15 KiB per stream);
                // the next events submit a new one.
                flags.pointee |= UInt32(NGHTTP2_DATA_FLAG_EOF.rawValue) | UInt32(NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue)
                stream.dataItem = .detached
            }
        }
        return n
    }
}
