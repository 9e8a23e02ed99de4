import Foundation
import Testing
import WatchCacheBench
import WatchCache
@testable import WatchCacheServer

/// The HTTP/2 denial-of-service attacks of 2019 (CVE-2019-9511 to -9518), the Rapid Reset,
/// CONTINUATION and HPACK floods, and slow loris on both protocols, each sent by hand over a real
/// socket to a real server with one event loop — shared with a well-behaved client, which must keep
/// getting its answers meanwhile. Each attack ends with the abusive connection closed, or bounded
/// (what it may hold is said in the test), and every connection handler freed afterwards.
@Suite(.serialized) struct HTTP2AbuseTests {
    /// A server with 1 event loop, short header (1 s) and idle (2 s) timeouts, and 2,000 pods
    /// (a LIST of them is about 0.5 MB).
    static func startServer() async throws -> (Server, Int) {
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.threads = 1
        configuration.namespaceLifecycle = false
        configuration.limits.requestHeaderTimeout = .seconds(1)
        configuration.limits.idleConnectionTimeout = .seconds(2)
        configuration.maxRequestsInFlight = 0
        let registry = try Registry(metricsFactory: APIServer.makeMetricsFactory())
        try registry.register(.pods)
        let padding = String(repeating: "x", count: 200)
        for i in 0..<2_000 {
            _ = try await registry.create(try JSONObject(parsing: #"{"metadata":{"name":"p\#(i)","annotations":{"pad":"\#(padding)"}}}"#),
                                    in: .pods, namespace: "default")
        }
        let server = try Server(configuration: configuration, registry: registry)
        let port = try await server.start().cleartext!
        return (server, port)
    }

    /// `attack` runs on its own socket while a good client sends 10 requests over HTTP/2; returns
    /// what the attacker read and whether the server closed its connection within `seconds`.
    static func run(port: Int, seconds: Double = 10, receiveBuffer: Int? = nil,
                    _ attack: @escaping @Sendable (RawSocket) -> Void) async throws -> (bytes: [UInt8], closed: Bool, good: [String]) {
        let attacker = Task {
            try await offPool {
                let socket = try RawSocket(port: port, receiveBuffer: receiveBuffer)
                attack(socket)
                let (bytes, closed) = socket.readUntilClosed(seconds: seconds)
                // Closed is the server's end: a child process that other tests spawn meanwhile may
                // inherit the server's socket (SwiftNIO accepts without SOCK_CLOEXEC) and hold back
                // the FIN; the server's own count of the connections it keeps says it as well.
                return (bytes, closed || Self.serverKeepsNoConnection(port: port))
            }
        }
        let good = try await Self.goodClient(port: port)
        let (bytes, closed) = try await attacker.value
        return (bytes, closed, good)
    }

    /// Whether the server keeps no connection at all (of any protocol, or undecided), asked while
    /// the attacker's socket is still open: each count is read over the other protocol.
    static func serverKeepsNoConnection(port: Int) -> Bool {
        func count(_ proto: String, over flag: String) -> Int? {
            commandOutput("/usr/bin/curl", ["-s", "--max-time", "5", flag, "http://127.0.0.1:\(port)/metrics"])
                .flatMap { ConnectionChurnTests.count(proto, in: $0) }
        }
        for _ in 0..<20 {
            if count("h2", over: "--http1.1") == 0, count("http/1.1", over: "--http2-prior-knowledge") == 0,
               count("undecided", over: "--http1.1") == 0 {
                return true
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return false
    }

    /// Ten LISTs from a well-behaved client, one after another: each one's status, and "slow" for
    /// one that took more than 5 s (a starved client, on a server that answers in milliseconds).
    static func goodClient(port: Int) async throws -> [String] {
        var good: [String] = []
        for _ in 0..<10 {
            let answer = try await EndToEndTests.curl(["--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
                                                       "http://127.0.0.1:\(port)/api/v1/namespaces/default/pods?limit=5"])
            let parts = answer.split(separator: " ")
            good.append(parts.count == 2 && (Double(parts[1]) ?? 99) > 5 ? "slow" : String(parts.first ?? ""))
        }
        return good
    }

    /// After an attack: the good client got every answer in time, and no connection handler is left.
    static func check(_ good: [String], port: Int) async throws {
        #expect(good == Array(repeating: "200", count: 10), "the well-behaved client's answers: \(good)")
        #expect(try await ConnectionChurnTests.waitForNoHandlers("h2", base: "http://127.0.0.1:\(port)") == 0)
    }

    static let enhanceYourCalm: UInt32 = 0xb, protocolError: UInt32 = 0x1, flowControlError: UInt32 = 0x3

    // MARK: - Floods of control frames (the attacker never reads)

    /// Ping flood (CVE-2019-9512): PINGs whose acknowledgements the attacker never reads pile up
    /// until 1,000 wait, then the connection is closed. Bound: 1,000 acknowledgements (17 bytes each).
    @Test func pingFlood() async throws {
        let (server, port) = try await Self.startServer()
        let ping = H2Frames.frame(H2Frames.ping, payload: [1, 2, 3, 4, 5, 6, 7, 8])
        let chunk = Array([[UInt8]](repeating: ping, count: 1_000).joined())
        let (_, closed, good) = try await Self.run(port: port, receiveBuffer: 4096) { socket in
            guard socket.send(H2Frames.start()) else { return }
            for _ in 0..<500 where socket.send(chunk) {}
        }
        #expect(closed, "the flooding connection is closed")
        try await Self.check(good, port: port)
        try await server.shutdown()
    }

    /// Settings flood (CVE-2019-9515): the same with empty SETTINGS frames, each acknowledged.
    @Test func settingsFlood() async throws {
        let (server, port) = try await Self.startServer()
        let settings = H2Frames.frame(H2Frames.settings)
        let chunk = Array([[UInt8]](repeating: settings, count: 1_000).joined())
        let (_, closed, good) = try await Self.run(port: port, receiveBuffer: 4096) { socket in
            guard socket.send(H2Frames.start()) else { return }
            for _ in 0..<500 where socket.send(chunk) {}
        }
        #expect(closed)
        try await Self.check(good, port: port)
        try await server.shutdown()
    }

    /// Reset flood (CVE-2019-9514) and Rapid Reset (CVE-2023-44487): streams opened and reset at
    /// once, faster than 33 a second past a burst of 1,000: GOAWAY and the connection closes.
    @Test func rapidReset() async throws {
        let (server, port) = try await Self.startServer()
        let (bytes, closed, good) = try await Self.run(port: port) { socket in
            guard socket.send(H2Frames.start()) else { return }
            var stream: Int32 = 1
            for _ in 0..<20 {
                var chunk: [UInt8] = []
                for _ in 0..<500 {
                    chunk += H2Frames.request(stream: stream, "/api/v1/namespaces/default/pods")
                    chunk += H2Frames.frame(H2Frames.rstStream, stream: stream, payload: H2Frames.be32(0x8))  // CANCEL
                    stream += 2
                }
                guard socket.send(chunk) else { return }
            }
        }
        #expect(closed)
        #expect(H2Frames.goawayCode(bytes) != nil, "GOAWAY before the close")
        try await Self.check(good, port: port)
        try await server.shutdown()
    }

    /// Empty-frames flood (CVE-2019-9518): DATA frames without payload or END_STREAM on an open
    /// request: GOAWAY ENHANCE_YOUR_CALM after 16 in a row.
    @Test func emptyFramesFlood() async throws {
        let (server, port) = try await Self.startServer()
        let (bytes, closed, good) = try await Self.run(port: port) { socket in
            guard socket.send(H2Frames.start() + H2Frames.request(stream: 1, "/api/v1/namespaces/default/pods", method: "POST", endStream: false)) else { return }
            let empty = H2Frames.frame(H2Frames.data, stream: 1)
            socket.send(Array([[UInt8]](repeating: empty, count: 10_000).joined()))
        }
        #expect(closed)
        #expect(H2Frames.goawayCode(bytes) == Self.enhanceYourCalm)
        try await Self.check(good, port: port)
        try await server.shutdown()
    }

    /// Zero-length headers (CVE-2019-9516): header blocks of empty names and values. Each such
    /// request is refused (an empty name is malformed) and nothing of it is kept; the connection
    /// goes on and answers a proper request after them.
    @Test func zeroLengthHeaders() async throws {
        let (server, port) = try await Self.startServer()
        let (bytes, _, good) = try await Self.run(port: port, seconds: 3) { socket in
            guard socket.send(H2Frames.start()) else { return }
            let block = H2Frames.requestBlock("GET", "/version") + Array([[UInt8]](repeating: [0x00, 0x00, 0x00], count: 4_000).joined())
            var chunk: [UInt8] = []
            for i in 0..<100 { chunk += H2Frames.frame(H2Frames.headers, flags: H2Frames.endHeaders | H2Frames.endStream, stream: Int32(2 * i + 1), payload: block) }
            socket.send(chunk + H2Frames.request(stream: 201, "/version"))
        }
        let frames = H2Frames.parse(bytes)
        #expect(frames.contains { $0.type == H2Frames.data && $0.stream == 201 && String(decoding: $0.payload, as: UTF8.self).contains("major") },
                "the proper request after the flood is answered")
        #expect(!frames.contains { $0.type == H2Frames.data && $0.stream < 201 }, "no malformed request is answered with data")
        try await Self.check(good, port: port)
        try await server.shutdown()
    }

    // MARK: - Windows and buffers

    /// Data dribble (CVE-2019-9511): a LIST read through a 1-byte window, opened a byte at a time.
    /// Bound: the one answer (~0.5 MB) stays queued; the server sends what the windows allow and
    /// nothing more, and the connection serves others meanwhile.
    @Test func dataDribble() async throws {
        let (server, port) = try await Self.startServer()
        let (bytes, _, good) = try await Self.run(port: port, seconds: 3) { socket in
            guard socket.send(H2Frames.start([(0x4, 1)]) + H2Frames.request(stream: 1, "/api/v1/pods")) else { return }
            for _ in 0..<200 {  // one byte at a time, as slowly as a dribble goes
                guard socket.send(H2Frames.frame(H2Frames.windowUpdate, stream: 1, payload: H2Frames.be32(1))) else { return }
                Thread.sleep(forTimeInterval: 0.005)
            }
        }
        let data = H2Frames.parse(bytes).filter { $0.type == H2Frames.data && $0.stream == 1 }
        #expect(data.reduce(0) { $0 + $1.payload.count } <= 201, "never more than the windows granted")
        #expect(data.count > 20, "the stream moves as its window opens: \(data.count) DATA frames")
        try await Self.check(good, port: port)
        try await server.shutdown()
    }

    /// Window-update games: a WINDOW_UPDATE that takes a window past 2^31-1 is a flow-control
    /// error: GOAWAY FLOW_CONTROL_ERROR and the connection closes.
    @Test func windowOverflow() async throws {
        let (server, port) = try await Self.startServer()
        let (bytes, closed, good) = try await Self.run(port: port) { socket in
            let update = H2Frames.frame(H2Frames.windowUpdate, payload: H2Frames.be32(0x7fff_ffff))
            socket.send(H2Frames.start() + update + update)
        }
        #expect(closed)
        #expect(H2Frames.goawayCode(bytes) == Self.flowControlError)
        try await Self.check(good, port: port)
        try await server.shutdown()
    }

    /// Internal data buffering (CVE-2019-9517): 400 LISTs (~0.5 MB answers each) from a client
    /// whose windows are shut and whose socket is never read. Bound: the connection holds at most
    /// 32 MiB of answers (ServerLimits.maxPendingResponseBytesPerConnection) — later requests wait
    /// unhandled instead of piling up 200 MB.
    @Test func internalDataBuffering() async throws {
        let (server, port) = try await Self.startServer()
        let base = "http://127.0.0.1:\(port)"
        let listsBefore = try await Self.lists(base)
        let attacker = Task {
            try await offPool { () -> Bool in
                let socket = try RawSocket(port: port, receiveBuffer: 4096)
                var requests = H2Frames.start([(0x4, 0)])
                for i in 0..<400 { requests += H2Frames.request(stream: Int32(2 * i + 1), "/api/v1/pods") }
                socket.send(requests)
                Thread.sleep(forTimeInterval: 3)  // never reads, keeps the connection open meanwhile
                return true
            }
        }
        try await Task.sleep(for: .seconds(1))
        let good = try await Self.goodClient(port: port)
        let handled = try await Self.lists(base) - listsBefore - 10  // the good client's own LISTs
        _ = try await attacker.value
        let answerBytes = 2_000 * 330
        #expect(handled <= 32 * 1024 * 1024 / answerBytes + 2, "LISTs handled for the attacker: \(handled) of 400")
        #expect(handled >= 1)
        try await Self.check(good, port: port)
        try await server.shutdown()
    }

    /// LIST requests the server has handled, from its metrics.
    static func lists(_ base: String) async throws -> Int {
        let page = try await EndToEndTests.curl(["--http1.1", "\(base)/metrics"])
        return page.split(separator: "\n")
            .filter { $0.hasPrefix("apiserver_request_total{") && $0.contains("verb=\"LIST\"") }
            .compactMap { Int($0.split(separator: " ").last ?? "") }
            .reduce(0, +)
    }

    // MARK: - Header blocks

    /// Resource loop (CVE-2019-9513): PRIORITY frames making dependency cycles, 100,000 of them.
    /// RFC 7540 priorities are off (SETTINGS_NO_RFC7540_PRIORITIES): they cost a frame's parse
    /// each; the connection goes on and answers a request after them.
    @Test func priorityLoop() async throws {
        let (server, port) = try await Self.startServer()
        let (bytes, _, good) = try await Self.run(port: port, seconds: 3) { socket in
            guard socket.send(H2Frames.start()) else { return }
            for round in 0..<20 {
                var chunk: [UInt8] = []
                for i in 0..<5_000 {
                    let stream = Int32(2 * (i % 50) + 1), dependsOn = UInt32(2 * ((i + 1) % 50) + 1)
                    chunk += H2Frames.frame(H2Frames.priority, stream: stream, payload: H2Frames.be32(dependsOn | (round % 2 == 0 ? 0x8000_0000 : 0)) + [15])
                }
                guard socket.send(chunk) else { return }
            }
            socket.send(H2Frames.request(stream: 101, "/version"))
        }
        #expect(H2Frames.parse(bytes).contains { $0.type == H2Frames.data && $0.stream == 101 })
        try await Self.check(good, port: port)
        try await server.shutdown()
    }

    /// CONTINUATION flood (CVE-2024-27316 and kin): a header block continued without end is a
    /// connection error after 8 CONTINUATION frames; nothing of it is kept.
    @Test func continuationFlood() async throws {
        let (server, port) = try await Self.startServer()
        let (_, closed, good) = try await Self.run(port: port) { socket in
            guard socket.send(H2Frames.start() + H2Frames.frame(H2Frames.headers, stream: 1, payload: H2Frames.requestBlock("GET", "/version"))) else { return }
            let more = H2Frames.frame(H2Frames.continuation, stream: 1, payload: Array([[UInt8]](repeating: [0x40, 0x01, 0x61, 0x01, 0x62], count: 200).joined()))
            for _ in 0..<10_000 where socket.send(more) {}
        }
        #expect(closed)
        try await Self.check(good, port: port)
        try await server.shutdown()
    }

    /// HPACK bomb: a 4,000-byte header put into the dynamic table, then referenced 4,000 times in
    /// one 4 KB block (16 MB decoded). The header list is counted as it is decoded and nothing past
    /// 64 KiB is kept: the request gets 431 (no body) and the connection answers the next one.
    @Test func hpackBomb() async throws {
        let (server, port) = try await Self.startServer()
        let (bytes, _, good) = try await Self.run(port: port, seconds: 3) { socket in
            let value = [UInt8](repeating: 0x61, count: 4_000)
            // Literal with incremental indexing, new name "x-bomb": enters the dynamic table as 62.
            let insert: [UInt8] = [0x40, 0x06] + Array("x-bomb".utf8) + [0x7f, 0x81, 0x1e] + value  // length 4000 = 127 + 3873 (0x81 0x1e)
            let block = H2Frames.requestBlock("GET", "/version") + insert + [UInt8](repeating: 0xbe, count: 4_000)
            socket.send(H2Frames.start() + H2Frames.frame(H2Frames.headers, flags: H2Frames.endHeaders | H2Frames.endStream, stream: 1, payload: block)
                        + H2Frames.request(stream: 3, "/version"))
        }
        let frames = H2Frames.parse(bytes)
        #expect(!frames.contains { $0.type == H2Frames.data && $0.stream == 1 && String(decoding: $0.payload, as: UTF8.self).contains("major") },
                "the bomb is not served")
        #expect(frames.contains { $0.type == H2Frames.data && $0.stream == 3 && String(decoding: $0.payload, as: UTF8.self).contains("major") })
        try await Self.check(good, port: port)
        try await server.shutdown()
    }

    // MARK: - Slow loris

    /// A connection that sends nothing, half a preface, only the preface, an HTTP/2 header block
    /// without its end, or half an HTTP/1.1 head: each is closed — at the header timeout (1 s
    /// here, 32 s by default) or, for a connection with a known protocol and no request, at the
    /// idle timeout (2 s here, 120 s by default).
    @Test(arguments: ["nothing", "half a preface", "preface only", "HTTP/2 headers without end", "half an HTTP/1.1 head"])
    func slowLoris(kind: String) async throws {
        let (server, port) = try await Self.startServer()
        let opened = Date()
        let (_, closed, good) = try await Self.run(port: port, seconds: 8) { socket in
            switch kind {
            case "half a preface": socket.send(Array(H2Frames.preface.prefix(10)))
            case "preface only": socket.send(H2Frames.start())
            case "HTTP/2 headers without end":
                socket.send(H2Frames.start() + H2Frames.frame(H2Frames.headers, flags: H2Frames.endStream, stream: 1, payload: H2Frames.requestBlock("GET", "/version")))
            case "half an HTTP/1.1 head": socket.send(Array("GET /version HTTP/1.1\r\nHost: x\r\n".utf8))
            default: break
            }
        }
        #expect(closed, "\(kind): not closed after \(Date().timeIntervalSince(opened)) s")
        try await Self.check(good, port: port)
        #expect(try await ConnectionChurnTests.waitForNoHandlers("http/1.1", base: "http://127.0.0.1:\(port)") == 0)
        try await server.shutdown()
    }
}
