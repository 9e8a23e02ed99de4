import NIOCore
import WatchCache

/// One HTTP/2 stream's server-side state, owned by its ``HTTP2ConnectionHandler``.
final class HTTP2Stream {
    let id: Int32
    var headers: [(String, String)] = []
    /// Header block size as HTTP/2 counts it (name + value + 32 per field).
    var headerBytes = 0
    var body: [UInt8] = []
    var bodyTooLarge = false
    /// Response bytes waiting for libnghttp2 to frame them (bounded for watches).
    var pending: ByteBuffer
    /// No more bytes will be added: END_STREAM once `pending` is sent.
    var ended = false
    /// The data provider returned DEFERRED: resume it when bytes arrive.
    var deferred = false
    var watcher: Watcher?

    init(id: Int32, allocator: ByteBufferAllocator) {
        self.id = id
        self.pending = allocator.buffer(capacity: 0)
    }

    func header(_ name: String) -> String? { headers.first { $0.0 == name }?.1 }
}
