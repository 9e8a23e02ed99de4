import NIOCore
import NIOEmbedded
import Testing
import WatchCache
@testable import WatchCacheServer

/// Idle connections and oversized headers, on in-memory channels with a virtual event-loop clock.
@Suite struct ConnectionLimitTests {
    let registry = try! Registry(clock: ManualClock())
    let channel: EmbeddedChannel

    init() throws {
        var limits = ServerLimits()
        limits.idleConnectionTimeout = .seconds(1)
        limits.requestHeaderTimeout = .seconds(2)
        limits.maxHeaderBytes = 4096
        limits.maxRequestBodyBytesPerConnection = 10_000
        let api = try APIServer(registry: registry, resources: [.pods], serverAddress: "test")
        channel = EmbeddedChannel(handler: ProtocolDetector(api: api, limits: limits))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8080)).wait()
    }

    func exchange(_ client: H2TestClient) throws {
        try channel.writeInbound(channel.allocator.buffer(bytes: client.output()))
        channel.embeddedEventLoop.run()
        while let out = try channel.readOutbound(as: ByteBuffer.self) { client.input(Array(out.readableBytesView)) }
    }

    func http1(_ request: String) throws -> String {
        try channel.writeInbound(channel.allocator.buffer(string: request))
        channel.embeddedEventLoop.run()
        var text = ""
        while let out = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: out) }
        return text
    }

    @Test func anIdleHTTP2ConnectionGetsGoawayAndCloses() throws {
        let client = H2TestClient()
        let id = client.get("/version")
        try exchange(client)
        #expect(client.streams[id]?.status == "200")
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(900))
        try exchange(client)
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(200))
        try exchange(client)
        #expect(client.goawayReceived)
        #expect(!channel.isActive)
    }

    @Test func anOpenWatchKeepsAnHTTP2ConnectionBusy() throws {
        let client = H2TestClient()
        client.get("/api/v1/pods?watch=true&resourceVersion=0")
        try exchange(client)
        channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        try exchange(client)
        #expect(!client.goawayReceived)
        #expect(channel.isActive)
    }

    @Test func oversizedHTTP2HeadersGet431AndTheConnectionLives() throws {
        let client = H2TestClient()
        let id = client.get("/version?pad=" + String(repeating: "x", count: 5000))
        try exchange(client)
        #expect(client.streams[id]?.status == "431")
        let next = client.get("/version")
        try exchange(client)
        #expect(client.streams[next]?.status == "200")
    }

    /// Slow loris: a connection that never shows its protocol (no bytes, or half a preface) is
    /// closed at the header timeout.
    @Test(arguments: ["", "PRI * HTTP/2.0\r\n"])
    func aConnectionThatNeverShowsItsProtocolIsClosed(prefix: String) throws {
        if !prefix.isEmpty { _ = try http1(prefix) }
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1900))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(200))
        #expect(!channel.isActive)
    }

    /// Slow loris over HTTP/2: a HEADERS frame without END_HEADERS and no CONTINUATION opens a
    /// stream (which holds off the idle timeout) but never finishes its header block: the
    /// connection is closed at the header timeout.
    @Test func anHTTP2HeaderBlockNeverFinishedClosesTheConnection() throws {
        let client = H2TestClient()
        // END_STREAM, no END_HEADERS: a CONTINUATION should follow.
        let headers = H2Frames.frame(H2Frames.headers, flags: H2Frames.endStream, stream: 1, payload: H2Frames.requestBlock("GET", "/version"))
        try channel.writeInbound(channel.allocator.buffer(bytes: client.output() + headers))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1900))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(200))
        #expect(!channel.isActive)
    }

    /// Request bodies in flight on one connection are bounded: a stream whose body would go past
    /// the bound is refused (REFUSED_STREAM: nothing done, safe to retry); the others go on.
    @Test func requestBodiesInFlightAreBoundedPerConnection() throws {
        let body = [UInt8](repeating: 0x61, count: 6_000)
        var bytes = H2TestClient().output()
        for stream: Int32 in [1, 3] {
            bytes += H2Frames.request(stream: stream, "/api/v1/namespaces/default/pods", method: "POST", endStream: false)
            bytes += H2Frames.frame(H2Frames.data, stream: stream, payload: body)
        }
        try channel.writeInbound(channel.allocator.buffer(bytes: bytes))
        channel.embeddedEventLoop.run()
        var out: [UInt8] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { out += Array(buffer.readableBytesView) }
        let resets = H2Frames.parse(out).filter { $0.type == H2Frames.rstStream }
        #expect(resets.map(\.stream) == [3])
        #expect(resets.first.map { Array($0.payload) } == [0, 0, 0, 7], "REFUSED_STREAM")
        #expect(channel.isActive)
    }

    @Test func anIdleHTTP1ConnectionCloses() throws {
        let response = try http1("GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(response.hasPrefix("HTTP/1.1 200 OK"))
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(900))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(200))
        #expect(!channel.isActive)
    }

    @Test func oversizedHTTP1HeadersGet431() throws {
        let response = try http1("GET /version HTTP/1.1\r\nHost: x\r\nX-Pad: \(String(repeating: "x", count: 5000))\r\n\r\n")
        #expect(response.hasPrefix("HTTP/1.1 431 Request Header Fields Too Large"))
        #expect(!channel.isActive)
    }
}

/// HTTP/2 stream limits on an in-memory channel.
@Suite struct HTTP2StreamLimitTests {
    let registry = try! Registry(clock: ManualClock())

    func makeChannel(_ configure: (inout ServerLimits) -> Void) throws -> EmbeddedChannel {
        var limits = ServerLimits()
        configure(&limits)
        let api = try APIServer(registry: registry, resources: [.pods], serverAddress: "test")
        let channel = EmbeddedChannel(handler: ProtocolDetector(api: api, limits: limits))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8080)).wait()
        return channel
    }

    func exchange(_ client: H2TestClient, _ channel: EmbeddedChannel) throws {
        try channel.writeInbound(channel.allocator.buffer(bytes: client.output()))
        channel.embeddedEventLoop.run()
        while let out = try channel.readOutbound(as: ByteBuffer.self) { client.input(Array(out.readableBytesView)) }
    }

    @Test func noMoreThanTheAdvertisedStreamsAreOpenAtOnce() throws {
        let channel = try makeChannel { $0.maxConcurrentStreams = 5 }
        let client = H2TestClient()
        try exchange(client, channel)  // SETTINGS both ways
        let ids = (0..<8).map { _ in client.get("/api/v1/pods?watch=true&resourceVersion=0") }
        try exchange(client, channel)
        #expect(ids.filter { client.streams[$0]?.status == "200" }.count == 5)
        #expect(registry.cache(for: .pods)!.statistics().currentWatchers == 5)
        client.reset(ids[0])  // a slot frees: a waiting request goes out and is served
        try exchange(client, channel)
        try exchange(client, channel)
        #expect(ids.filter { client.streams[$0]?.status == "200" }.count == 6)
        #expect(channel.isActive)
    }

    @Test func rapidResetsEndTheConnectionNotTheServer() throws {
        let channel = try makeChannel { $0.streamResetRate = (burst: 20, perSecond: 1) }
        let client = H2TestClient()
        try exchange(client, channel)
        for _ in 0..<200 where !client.goawayReceived {
            let id = client.get("/api/v1/pods?watch=true&resourceVersion=0")
            try exchange(client, channel)  // the request goes out and the watch starts
            client.reset(id)
            try exchange(client, channel)
        }
        #expect(client.goawayReceived)
        #expect(!channel.isActive)
        #expect(registry.cache(for: .pods)!.statistics().currentWatchers == 0)
    }
}
