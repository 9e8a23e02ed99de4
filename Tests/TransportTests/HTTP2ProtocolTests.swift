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

    /// A watch stream gives its DATA item back to libnghttp2 each time it has sent all it had (an
    /// idle stream holds none) and gets a new one at its next events: bursts of one event and of
    /// many frames' worth arrive whole and in order, the stream stays open between them, and it
    /// ends at its timeout.
    @Test func aWatchStreamCarriesOnAcrossIdleGapsAndBurstsOfManyFrames() throws {
        let client = H2TestClient()
        let id = client.get("/api/v1/pods?watch=true&resourceVersion=0&timeoutSeconds=60")
        try exchange(client)
        #expect(client.streams[id]?.status == "200")
        let padding = String(repeating: "x", count: 900)
        var expected: [String] = []
        for (burst, size) in [1, 1, 200, 3, 1].enumerated() {
            for i in 0..<size {
                let name = "p\(burst)-\(i)"
                _ = try registry.create(JSONObject(parsing: #"{"metadata":{"name":"\#(name)","namespace":"d","annotations":{"pad":"\#(padding)"}}}"#), in: .pods)
                expected.append(name)
            }
            // The client's windows open as it reads: a few round trips carry the biggest burst.
            for _ in 0..<20 { try exchange(client) }
            let names = client.lines(id).compactMap { try? JSONObject(parsing: $0)["object"]?["metadata"]?["name"]?.stringValue }
            #expect(names == expected, "burst \(burst)")
            #expect(client.streams[id]?.endStream == false)
        }
        clock.advance(by: .seconds(60))
        registry.tick()
        try exchange(client)
        #expect(client.streams[id]?.endStream == true)
        #expect(client.lines(id).count == expected.count)
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

    /// Writes hand-made bytes (the test chooses stream identifiers, which a client library would
    /// not let it do) and returns the frames the server wrote back.
    func sendRaw(_ bytes: [UInt8]) throws -> [(type: UInt8, flags: UInt8, stream: Int32, payload: [UInt8])] {
        try channel.writeInbound(channel.allocator.buffer(bytes: bytes))
        channel.embeddedEventLoop.run()
        var out: [UInt8] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { out += Array(buffer.readableBytesView) }
        return H2Frames.parse(out)
    }

    /// RFC 9113 §5.1.1: a new stream's identifier must be above every one the client used; HEADERS
    /// for stream 3 after stream 5 is a connection error (GOAWAY PROTOCOL_ERROR), and the
    /// connection closes. Trailers on an open stream are not new streams and stay allowed.
    @Test func aStreamIdentifierBelowOneAlreadyUsedIsAConnectionError() throws {
        let preface = H2TestClient().output()  // the connection preface and SETTINGS
        let first = try sendRaw(preface + H2Frames.request(stream: 5, "/version"))
        #expect(first.contains { $0.type == 0x01 && $0.stream == 5 }, "stream 5 is answered")
        #expect(!first.contains { $0.type == 0x07 })
        #expect(channel.isActive)

        let second = try sendRaw(H2Frames.request(stream: 3, "/version"))
        let goaway = second.first { $0.type == 0x07 }
        #expect(goaway.map { Array($0.payload[4..<8]) } == [0, 0, 0, 1], "GOAWAY with PROTOCOL_ERROR")
        #expect(!second.contains { $0.type == 0x01 && $0.stream == 3 }, "stream 3 is never answered")
        #expect(!channel.isActive)
    }

    @Test func increasingStreamIdentifiersWithGapsAreFine() throws {
        let frames = try sendRaw(H2TestClient().output() + H2Frames.request(stream: 1, "/version")
                                 + H2Frames.request(stream: 7, "/version") + H2Frames.request(stream: 9, "/version"))
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
