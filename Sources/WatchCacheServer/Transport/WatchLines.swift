import NIOCore
import WatchCache

/// Writes watch events' wire lines into a byte buffer: the shared object bytes with the per-type
/// prefix and the newline suffix, no re-encoding.
enum WatchLines {
    static func write(_ events: [WatchEvent], into buffer: inout ByteBuffer) {
        for e in events {
            buffer.writeBytes(e.linePrefix)
            buffer.writeBytes(e.body)
            buffer.writeBytes(e.suffix)
        }
    }
}
