import DequeModule
import NIOCore
import WatchCache

/// One HTTP/2 stream's server-side state, owned by its ``HTTP2ConnectionHandler``.
final class HTTP2Stream {
    /// The states of a stream's DATA item in libnghttp2.
    enum DataItem {
        /// Attached (or no response submitted yet): libnghttp2 calls the data provider when it can send.
        case queued
        /// Attached, but the provider returned DEFERRED: resume it when bytes arrive.
        case deferred
        /// None attached: a watch stream between bursts (its last frame ended the item without
        /// ending the stream), or one whose headers went alone. Submit a new item when bytes
        /// arrive; an idle stream so holds no outbound item in libnghttp2.
        case detached
    }

    let id: Int32
    // The flags sit beside `id`, in what would be its padding: an idle watch stream's bytes count.
    var bodyTooLarge = false
    /// The request's `Accept-Encoding` allows gzip (its headers are dropped once it is handled).
    var acceptsGzip = false
    /// No more bytes will be added: END_STREAM once `pending` is sent.
    var ended = false
    /// Where the stream's DATA item is in libnghttp2.
    var dataItem = DataItem.queued
    var headers: [(String, String)] = []
    /// Header block size as HTTP/2 counts it (name + value + 32 per field).
    var headerBytes = 0
    var body: [UInt8] = []
    /// A complete response's body, waiting for libnghttp2 to frame it (none for a watch: a
    /// buffer's storage would be held by every idle stream).
    var pending: ByteBuffer?
    /// A complete response's body that goes gzipped, compressed as libnghttp2 takes it.
    var gzip: GzipBody?
    /// A watch's events waiting for libnghttp2: their shared bytes are copied once, straight into
    /// the DATA frame, from `lineOffset` into the first event's line.
    var lines = Deque<WatchEvent>()
    var lineOffset = 0
    /// Bytes left to send in `lines` (bounded by the per-stream limit).
    var queuedLineBytes = 0
    var watcher: Watcher?
    /// Re-encodes the watch's events (the Table form); `nil` sends them as they are.
    var transform: WatchEventTransform?

    init(id: Int32) {
        self.id = id
    }

    func header(_ name: String) -> String? { headers.first { $0.0 == name }?.1 }

    /// Whether anything is waiting to be sent.
    var hasOutput: Bool { (pending?.readableBytes ?? 0) > 0 || !lines.isEmpty || gzip != nil }

    func enqueue(_ event: WatchEvent) {
        lines.append(event)
        queuedLineBytes += event.linePrefix.count + event.body.count + event.suffix.count
    }

    /// Copies up to `capacity` bytes of the queued lines into `buffer`; returns how many.
    func copyLines(into buffer: UnsafeMutablePointer<UInt8>, capacity: Int) -> Int {
        var written = 0
        while written < capacity, let event = lines.first {
            var skip = lineOffset
            for segment in [event.linePrefix, event.body, event.suffix] {
                if skip >= segment.count {
                    skip -= segment.count
                    continue
                }
                let n = min(segment.count - skip, capacity - written)
                segment.withUnsafeBufferPointer { (buffer + written).update(from: $0.baseAddress! + skip, count: n) }
                written += n
                lineOffset += n
                skip = 0
                if written == capacity { break }
            }
            if lineOffset == event.linePrefix.count + event.body.count + event.suffix.count {
                lines.removeFirst()
                lineOffset = 0
            }
        }
        queuedLineBytes -= written
        return written
    }
}
