import NIOCore
import NIOEmbedded
import Testing
@testable import WatchCacheEtcd

/// The etcd client's PING responder on an in-memory channel: every frame but the server's PINGs
/// reaches the HTTP/2 handler unchanged and in order, however the bytes are cut into reads, and
/// each PING is acknowledged with its payload.
@Suite struct PingResponderTests {
    static func frame(type: UInt8, flags: UInt8 = 0, stream: UInt32 = 0, payload: [UInt8]) -> [UInt8] {
        let length = UInt32(payload.count)
        return [UInt8(length >> 16), UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length), type, flags,
                UInt8(stream >> 24), UInt8(truncatingIfNeeded: stream >> 16), UInt8(truncatingIfNeeded: stream >> 8), UInt8(truncatingIfNeeded: stream)]
            + payload
    }

    static let ping1: [UInt8] = Array(1...8)
    static let ping2: [UInt8] = Array(11...18)
    /// DATA, a PING, HEADERS, a PING acknowledgement (passed on: the client's own), a large DATA,
    /// an empty SETTINGS, a second PING last.
    static let frames: [(bytes: [UInt8], passes: Bool)] = [
        (frame(type: 0x0, stream: 1, payload: Array(repeating: 0x61, count: 100)), true),
        (frame(type: 0x6, payload: ping1), false),
        (frame(type: 0x1, flags: 0x4, stream: 3, payload: [0x82, 0x86]), true),
        (frame(type: 0x6, flags: 0x1, payload: Array(21...28)), true),
        (frame(type: 0x0, stream: 3, payload: (0..<3_000).map { UInt8(truncatingIfNeeded: $0) }), true),
        (frame(type: 0x4, payload: []), true),
        (frame(type: 0x6, payload: ping2), false),
    ]

    /// Feeds `cuts` (read sizes, repeated) and returns what passed and what was written back.
    static func run(cuts: [Int]) throws -> (passed: [UInt8], written: [[UInt8]]) {
        let channel = EmbeddedChannel(handler: PingResponder())
        let all = frames.flatMap(\.bytes)
        var offset = 0, i = 0
        while offset < all.count {
            let n = min(cuts[i % cuts.count], all.count - offset)
            try channel.writeInbound(ByteBuffer(bytes: all[offset..<(offset + n)]))
            offset += n
            i += 1
        }
        var passed: [UInt8] = []
        while let buffer = try channel.readInbound(as: ByteBuffer.self) { passed += Array(buffer.readableBytesView) }
        var written: [[UInt8]] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { written.append(Array(buffer.readableBytesView)) }
        _ = try channel.finish()
        return (passed, written)
    }

    @Test(arguments: [[100_000], [1], [2], [7], [9], [10], [16], [17], [18], [4096], [5, 13, 1, 30, 9_000], [109, 17, 2]])
    func framesPassUnchangedAndPingsAreAnswered(cuts: [Int]) throws {
        let (passed, written) = try Self.run(cuts: cuts)
        #expect(passed == Self.frames.filter(\.passes).flatMap(\.bytes))
        #expect(written == [Self.frame(type: 0x6, flags: 0x1, payload: Self.ping1), Self.frame(type: 0x6, flags: 0x1, payload: Self.ping2)])
    }
}
