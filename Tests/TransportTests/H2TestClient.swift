import CNghttp2

/// An HTTP/2 client session (libnghttp2) for protocol tests: submits requests, produces the bytes
/// to send, consumes the server's bytes, and records what each stream received.
final class H2TestClient {
    struct StreamRecord {
        var status: String?
        var data: [UInt8] = []
        var closedWith: UInt32?
        var endStream = false
    }

    private(set) var session: OpaquePointer?
    var streams: [Int32: StreamRecord] = [:]
    var goawayReceived = false

    /// - Parameters:
    ///   - initialWindow: SETTINGS_INITIAL_WINDOW_SIZE to announce.
    ///   - autoWindowUpdate: whether consumed data is acknowledged with WINDOW_UPDATE automatically.
    init(initialWindow: UInt32 = 65_535, autoWindowUpdate: Bool = true) {
        var callbacks: OpaquePointer?
        nghttp2_session_callbacks_new(&callbacks)
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_on_header_callback(callbacks) { _, frame, name, nameLength, value, valueLength, _, userData in
            let client = Unmanaged<H2TestClient>.fromOpaque(userData!).takeUnretainedValue()
            let n = String(decoding: UnsafeBufferPointer(start: name, count: nameLength), as: UTF8.self)
            if n == ":status" {
                client.streams[frame!.pointee.hd.stream_id, default: StreamRecord()].status =
                    String(decoding: UnsafeBufferPointer(start: value, count: valueLength), as: UTF8.self)
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) { _, _, streamID, data, length, userData in
            let client = Unmanaged<H2TestClient>.fromOpaque(userData!).takeUnretainedValue()
            client.streams[streamID, default: StreamRecord()].data.append(contentsOf: UnsafeBufferPointer(start: data, count: length))
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, userData in
            let client = Unmanaged<H2TestClient>.fromOpaque(userData!).takeUnretainedValue()
            let hd = frame!.pointee.hd
            if hd.type == UInt8(NGHTTP2_GOAWAY.rawValue) { client.goawayReceived = true }
            if hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0, hd.stream_id != 0 {
                client.streams[hd.stream_id, default: StreamRecord()].endStream = true
            }
            return 0
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) { _, streamID, errorCode, userData in
            let client = Unmanaged<H2TestClient>.fromOpaque(userData!).takeUnretainedValue()
            client.streams[streamID, default: StreamRecord()].closedWith = errorCode
            return 0
        }
        var option: OpaquePointer?
        nghttp2_option_new(&option)
        defer { nghttp2_option_del(option) }
        if !autoWindowUpdate { nghttp2_option_set_no_auto_window_update(option, 1) }
        nghttp2_session_client_new2(&session, callbacks, Unmanaged.passUnretained(self).toOpaque(), option)
        var settings = [nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: initialWindow)]
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &settings, settings.count)
    }

    deinit { nghttp2_session_del(session) }

    /// Submits a GET and returns its stream id.
    @discardableResult
    func get(_ path: String) -> Int32 {
        let headers = [(":method", "GET"), (":scheme", "http"), (":authority", "test"), (":path", path)]
        var allocations: [UnsafeMutableBufferPointer<UInt8>] = []
        defer { for a in allocations { a.deallocate() } }
        func copy(_ text: String) -> (UnsafeMutablePointer<UInt8>, Int) {
            let bytes = Array(text.utf8)
            let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: bytes.count)
            _ = buffer.initialize(from: bytes)
            allocations.append(buffer)
            return (buffer.baseAddress!, bytes.count)
        }
        var nva: [nghttp2_nv] = headers.map { name, value in
            let (n, nl) = copy(name)
            let (v, vl) = copy(value)
            return nghttp2_nv(name: n, value: v, namelen: nl, valuelen: vl, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue))
        }
        return nghttp2_submit_request(session, nil, &nva, nva.count, nil, nil)
    }

    /// Everything the client wants to send now (preface, frames).
    func output() -> [UInt8] {
        var out: [UInt8] = []
        while true {
            var data: UnsafePointer<UInt8>?
            let n = nghttp2_session_mem_send(session, &data)
            if n <= 0 { return out }
            out.append(contentsOf: UnsafeBufferPointer(start: data, count: n))
        }
    }

    /// Feeds bytes from the server; returns false if the client session rejected them.
    @discardableResult
    func input(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { nghttp2_session_mem_recv(session, $0.baseAddress, $0.count) } >= 0
    }

    func reset(_ stream: Int32) {
        nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), stream, UInt32(NGHTTP2_CANCEL.rawValue))
    }

    func openWindow(_ stream: Int32, by bytes: Int32) {
        nghttp2_submit_window_update(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), stream, bytes)
    }

    func lines(_ stream: Int32) -> [String] {
        String(decoding: streams[stream]?.data ?? [], as: UTF8.self).split(separator: "\n").map(String.init)
    }
}
