import CNghttp2
import Testing

/// The system library target is wired: the headers import and libnghttp2 links and runs.
@Suite struct Nghttp2LinkTests {
    @Test func libraryReportsAnHTTP2Version() {
        let info = nghttp2_version(0).pointee
        #expect(String(cString: info.proto_str) == "h2")
        #expect(info.version_num >= 0x013400)  // 1.52.0, Debian 12's
    }

    @Test func aServerSessionCanBeCreatedAndDeleted() {
        var callbacks: OpaquePointer?
        #expect(nghttp2_session_callbacks_new(&callbacks) == 0)
        defer { nghttp2_session_callbacks_del(callbacks) }
        var session: OpaquePointer?
        #expect(nghttp2_session_server_new(&session, callbacks, nil) == 0)
        nghttp2_session_del(session)
    }
}
