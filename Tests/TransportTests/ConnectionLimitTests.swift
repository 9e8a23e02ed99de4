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
        limits.maxHeaderBytes = 4096
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
