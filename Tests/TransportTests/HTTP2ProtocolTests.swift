import NIOCore
import NIOEmbedded
import Testing
import WatchCache
@testable import WatchCacheServer

/// The libnghttp2 connection handler on an in-memory channel, talking to a real libnghttp2 client.
@Suite struct HTTP2ProtocolTests {
    let clock = ManualClock()
    let registry: Registry
    let api: APIServer
    let channel: EmbeddedChannel

    init() throws {
        registry = try Registry(clock: clock)
        api = try APIServer(registry: registry, resources: [.pods], serverAddress: "test")
        channel = EmbeddedChannel(handler: ProtocolDetector(api: api, limits: ServerLimits()))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8080)).wait()
    }

    /// Sends the client's pending bytes (`chunk` bytes per read) and returns the server's answer.
    func exchange(_ client: H2TestClient, chunk: Int = .max) throws {
        let bytes = client.output()
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + chunk)
            try channel.writeInbound(channel.allocator.buffer(bytes: bytes[offset..<end]))
            offset = end
        }
        channel.embeddedEventLoop.run()
        while let out = try channel.readOutbound(as: ByteBuffer.self) {
            client.input(Array(out.readableBytesView))
        }
    }

    @Test(arguments: [1, 7, Int.max])
    func aRequestFedInAnyChunkingIsAnswered(chunk: Int) throws {
        let client = H2TestClient()
        let id = client.get("/version")
        try exchange(client, chunk: chunk)
        try exchange(client)
        #expect(client.streams[id]?.status == "200")
        #expect(client.streams[id]?.endStream == true)
        let body = String(decoding: client.streams[id]?.data ?? [], as: UTF8.self)
        #expect(body.contains(#""major":"1""#))
    }

    @Test func watchEventsFlowAsDataFramesAndTheStreamEndsAtItsTimeout() throws {
        let client = H2TestClient()
        let id = client.get("/api/v1/pods?watch=true&resourceVersion=0&timeoutSeconds=5")
        try exchange(client)
        #expect(client.streams[id]?.status == "200")
        _ = try registry.create(JSONObject(parsing: #"{"metadata":{"name":"a","namespace":"d"}}"#), in: .pods)
        try exchange(client)
        #expect(client.lines(id).count == 1)
        #expect(client.lines(id).first?.hasPrefix(#"{"type":"ADDED","object":{"metadata":{"name":"a""#) == true)
        clock.advance(by: .seconds(5))
        registry.tick()
        try exchange(client)
        #expect(client.streams[id]?.endStream == true)
    }

    @Test func aClientResetEndsTheWatcher() throws {
        let client = H2TestClient()
        let id = client.get("/api/v1/pods?watch=true&resourceVersion=0")
        try exchange(client)
        #expect(registry.cache(for: .pods)!.statistics().currentWatchers == 1)
        client.reset(id)
        try exchange(client)
        #expect(registry.cache(for: .pods)!.statistics().currentWatchers == 0)
        // The connection is still usable.
        let next = client.get("/version")
        try exchange(client)
        #expect(client.streams[next]?.status == "200")
    }

    @Test func aStreamThatNeverOpensItsWindowDoesNotBlockTheOthers() throws {
        let client = H2TestClient(initialWindow: 0, autoWindowUpdate: false)
        let stalled = client.get("/api/v1/pods?watch=true&resourceVersion=0")
        let flowing = client.get("/api/v1/pods?watch=true&resourceVersion=0")
        try exchange(client)  // both streams open
        client.openWindow(flowing, by: 1 << 20)
        client.openWindow(0, by: 1 << 20)  // the connection window
        try exchange(client)
        for i in 0..<10 {
            _ = try registry.create(JSONObject(parsing: "{\"metadata\":{\"name\":\"p\(i)\",\"namespace\":\"d\"}}"), in: .pods)
        }
        try exchange(client)
        #expect(client.lines(flowing).count == 10)
        #expect(client.streams[stalled]?.status == "200")
        #expect(client.streams[stalled]?.data.isEmpty == true)
        #expect(channel.isActive)
    }

    @Test func malformedFramesGetAGoawayAndTheConnectionCloses() throws {
        let client = H2TestClient()
        client.get("/version")
        var bytes = client.output()
        bytes += [0x00, 0x00, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]  // WINDOW_UPDATE of 0 on stream 0
        try channel.writeInbound(channel.allocator.buffer(bytes: bytes))
        channel.embeddedEventLoop.run()
        while let out = try channel.readOutbound(as: ByteBuffer.self) { client.input(Array(out.readableBytesView)) }
        #expect(client.goawayReceived)
        #expect(!channel.isActive)
    }

    /// A request's HEADERS frame on `stream`: GET /version, HPACK-encoded by hand (so the test
    /// chooses the stream identifier, which a client library would not let it do).
    static func rawRequest(stream: Int32) -> [UInt8] {
        let path = Array("/version".utf8)
        let block: [UInt8] = [0x82, 0x86, 0x44, UInt8(path.count)] + path + [0x41, 0x04] + Array("test".utf8)
        let length = block.count
        return [UInt8(length >> 16), UInt8(length >> 8 & 0xff), UInt8(length & 0xff), 0x01, 0x05,
                UInt8(stream >> 24), UInt8(stream >> 16 & 0xff), UInt8(stream >> 8 & 0xff), UInt8(stream & 0xff)] + block
    }

    /// The frames in `bytes`: (type, flags, stream, payload).
    static func frames(_ bytes: [UInt8]) -> [(type: UInt8, flags: UInt8, stream: Int32, payload: [UInt8])] {
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

    /// RFC 9113 §5.1.1: a new stream's identifier must be above every one the client used; HEADERS
    /// for stream 3 after stream 5 is a connection error (GOAWAY PROTOCOL_ERROR), and the
    /// connection closes. Trailers on an open stream are not new streams and stay allowed.
    @Test func aStreamIdentifierBelowOneAlreadyUsedIsAConnectionError() throws {
        func send(_ bytes: [UInt8]) throws -> [UInt8] {
            try channel.writeInbound(channel.allocator.buffer(bytes: bytes))
            channel.embeddedEventLoop.run()
            var out: [UInt8] = []
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) { out += Array(buffer.readableBytesView) }
            return out
        }
        let preface = H2TestClient().output()  // the connection preface and SETTINGS
        let first = Self.frames(try send(preface + Self.rawRequest(stream: 5)))
        #expect(first.contains { $0.type == 0x01 && $0.stream == 5 }, "stream 5 is answered")
        #expect(!first.contains { $0.type == 0x07 })
        #expect(channel.isActive)

        let second = Self.frames(try send(Self.rawRequest(stream: 3)))
        let goaway = second.first { $0.type == 0x07 }
        #expect(goaway.map { Array($0.payload[4..<8]) } == [0, 0, 0, 1], "GOAWAY with PROTOCOL_ERROR")
        #expect(!second.contains { $0.type == 0x01 && $0.stream == 3 }, "stream 3 is never answered")
        #expect(!channel.isActive)
    }

    @Test func increasingStreamIdentifiersWithGapsAreFine() throws {
        func send(_ bytes: [UInt8]) throws -> [UInt8] {
            try channel.writeInbound(channel.allocator.buffer(bytes: bytes))
            channel.embeddedEventLoop.run()
            var out: [UInt8] = []
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) { out += Array(buffer.readableBytesView) }
            return out
        }
        let frames = Self.frames(try send(H2TestClient().output() + Self.rawRequest(stream: 1) + Self.rawRequest(stream: 7)
                                          + Self.rawRequest(stream: 9)))
        #expect(Set(frames.filter { $0.type == 0x01 }.map(\.stream)) == [1, 7, 9])
        #expect(!frames.contains { $0.type == 0x07 })
        #expect(channel.isActive)
    }

    @Test func aBadPrefaceIsNotHTTP2AndTheServerSurvives() throws {
        try channel.writeInbound(channel.allocator.buffer(bytes: Array("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n".utf8)))
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive)
    }

    @Test func shutdownSendsGoawayThenTheOpenWatchEndsAndTheConnectionCloses() throws {
        let client = H2TestClient()
        let id = client.get("/api/v1/pods?watch=true&resourceVersion=0")
        try exchange(client)
        channel.pipeline.fireUserInboundEventTriggered(ServerQuiesce())
        try exchange(client)
        #expect(client.goawayReceived)
        #expect(client.streams[id]?.endStream != true)  // the open stream may finish
        registry.close()  // what Server.shutdown does next: every watch ends
        try exchange(client)
        #expect(client.streams[id]?.endStream == true)
        #expect(!channel.isActive)
    }
}
