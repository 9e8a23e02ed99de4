import Dispatch
import Foundation

/// A plain TCP connection for tests that must send what no client library would: hand-made
/// HTTP/2 frames, half a request, nothing at all. Blocking calls with timeouts: use it from a
/// Dispatch thread (`offPool` of WatchCacheBench), never on the Swift concurrency pool.
final class RawSocket: @unchecked Sendable {
    private let fd: Int32

    /// Connects to 127.0.0.1:`port`; `receiveBuffer` shrinks the socket's receive buffer (a
    /// client that stops reading fills it sooner).
    init(port: Int, receiveBuffer: Int? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawSocketError("socket: errno \(errno)") }
        if var size = receiveBuffer.map(Int32.init) {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else {
            Glibc.close(fd)
            throw RawSocketError("connect: errno \(errno)")
        }
    }

    deinit { Glibc.close(fd) }

    /// Sends every byte; false once the peer has closed (or stopped reading for 5 s).
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    /// Reads until the peer closes or `seconds` pass: what arrived, and whether it closed.
    func readUntilClosed(seconds: Double) -> (bytes: [UInt8], closed: Bool) {
        let deadline = Date().addingTimeInterval(seconds)
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while Date() < deadline {
            var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let n = recv(fd, &buffer, buffer.count, 0)
            if n > 0 {
                out += buffer[0..<n]
            } else if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                return (out, true)  // end of stream, or reset
            }
        }
        return (out, false)
    }

}

struct RawSocketError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// HTTP/2 frames by hand (RFC 9113 §4.1), and a little HPACK (RFC 7541) for request headers.
enum H2Frames {
    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    static let data: UInt8 = 0x0, headers: UInt8 = 0x1, priority: UInt8 = 0x2, rstStream: UInt8 = 0x3, settings: UInt8 = 0x4
    static let ping: UInt8 = 0x6, goaway: UInt8 = 0x7, windowUpdate: UInt8 = 0x8, continuation: UInt8 = 0x9
    static let endStream: UInt8 = 0x1, endHeaders: UInt8 = 0x4

    static func frame(_ type: UInt8, flags: UInt8 = 0, stream: Int32 = 0, payload: [UInt8] = []) -> [UInt8] {
        let n = payload.count
        return [UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff), type, flags] + be32(UInt32(stream)) + payload
    }

    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }

    /// The preface and SETTINGS with `settings` (id, value).
    static func start(_ settings: [(UInt16, UInt32)] = []) -> [UInt8] {
        preface + frame(Self.settings, payload: settings.flatMap { [UInt8($0.0 >> 8), UInt8($0.0 & 0xff)] + be32($0.1) })
    }

    /// A request header block: `method` and `path`, http, authority "test" (literals without indexing).
    static func requestBlock(_ method: String, _ path: String) -> [UInt8] {
        func literal(_ nameIndex: UInt8, _ value: String) -> [UInt8] {
            [nameIndex] + [UInt8(value.utf8.count)] + Array(value.utf8)  // 0000xxxx: literal without indexing, indexed name
        }
        return literal(0x02, method) + [0x86] + literal(0x04, path) + literal(0x01, "test")
    }

    static func request(stream: Int32, _ path: String, method: String = "GET", endStream: Bool = true) -> [UInt8] {
        frame(headers, flags: endHeaders | (endStream ? Self.endStream : 0), stream: stream, payload: requestBlock(method, path))
    }

    /// The frames in `bytes`.
    static func parse(_ bytes: [UInt8]) -> [(type: UInt8, flags: UInt8, stream: Int32, payload: [UInt8])] {
        var out: [(UInt8, UInt8, Int32, [UInt8])] = []
        var i = 0
        while i + 9 <= bytes.count {
            let length = Int(bytes[i]) << 16 | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2])
            let stream = Int32(bytes[i + 5] & 0x7f) << 24 | Int32(bytes[i + 6]) << 16 | Int32(bytes[i + 7]) << 8 | Int32(bytes[i + 8])
            out.append((bytes[i + 3], bytes[i + 4], stream, Array(bytes[(i + 9)..<min(bytes.count, i + 9 + length)])))
            i += 9 + length
        }
        return out
    }

    /// The error code of the first GOAWAY in `bytes`, if any.
    static func goawayCode(_ bytes: [UInt8]) -> UInt32? {
        guard let g = parse(bytes).first(where: { $0.type == goaway }), g.payload.count >= 8 else { return nil }
        return g.payload[4..<8].reduce(0) { $0 << 8 | UInt32($1) }
    }
}
