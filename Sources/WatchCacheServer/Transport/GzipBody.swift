import CZlib

/// A response body gzipped as it is sent: each read compresses only as much of the body as fills
/// the caller's buffer, so a large LIST is never held compressed in full beside itself, and a
/// slow reader holds only the compressor's state (about 256 KiB at level 1) besides the body.
final class GzipBody {
    private let input: [UInt8]
    private var offset = 0
    private let stream: UnsafeMutablePointer<z_stream>
    /// The gzip trailer is written: nothing more to read.
    private(set) var finished = false

    /// Input bytes (of the uncompressed body) not yet compressed.
    var remainingInput: Int { input.count - offset }

    /// At most this much input per `deflate` call, so one read does bounded work.
    private static let inputSlice = 64 * 1024

    /// Nil when zlib cannot start a stream (out of memory); the caller sends the body as it is.
    init?(_ body: [UInt8], level: Int32 = ResponseCompression.level) {
        input = body
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        guard watchcache_deflate_init_gzip(stream, level) == Z_OK else {
            stream.deinitialize(count: 1)
            stream.deallocate()
            return nil
        }
    }

    deinit {
        deflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Writes the next compressed bytes into `buffer`, at most `capacity`; returns how many. Fewer
    /// than `capacity` only when the body is finished (``finished``).
    func read(into buffer: UnsafeMutablePointer<UInt8>, capacity: Int) -> Int {
        guard !finished, capacity > 0 else { return 0 }
        stream.pointee.next_out = buffer
        stream.pointee.avail_out = UInt32(capacity)
        input.withUnsafeBufferPointer { all in
            var spare: UInt8 = 0
            while stream.pointee.avail_out > 0 {
                let slice = min(Self.inputSlice, input.count - offset)
                let last = offset + slice == input.count
                let code: Int32 = withUnsafeMutablePointer(to: &spare) { empty in
                    stream.pointee.next_in = slice > 0 ? UnsafeMutablePointer(mutating: all.baseAddress! + offset) : empty
                    stream.pointee.avail_in = UInt32(slice)
                    return deflate(stream, last ? Z_FINISH : Z_NO_FLUSH)
                }
                let consumed = slice - Int(stream.pointee.avail_in)
                offset += consumed
                stream.pointee.next_in = nil
                stream.pointee.avail_in = 0
                if code == Z_STREAM_END {
                    finished = true
                    break
                }
                // Z_BUF_ERROR: no progress possible (the output is full); anything else is a bug.
                if code != Z_OK || (consumed == 0 && stream.pointee.avail_out > 0 && !last) { break }
            }
        }
        return capacity - Int(stream.pointee.avail_out)
    }

    /// The whole body compressed at once (tests and the compression benchmark).
    static func compress(_ body: [UInt8], level: Int32 = ResponseCompression.level) -> [UInt8]? {
        guard let gzip = GzipBody(body, level: level) else { return nil }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while !gzip.finished {
            let n = chunk.withUnsafeMutableBufferPointer { gzip.read(into: $0.baseAddress!, capacity: $0.count) }
            if n == 0 && !gzip.finished { return nil }
            out.append(contentsOf: chunk[..<n])
        }
        return out
    }
}
