import Foundation
import Testing
import WatchCache
import WatchCacheServer

/// Connections opened and closed one after another must leave nothing behind: every connection
/// handler is freed once its connection is gone (`watchcache_connection_handlers` back to zero).
@Suite(.serialized) struct ConnectionChurnTests {
    /// The live handlers of `proto` as `/metrics` says, scraped over the other protocol (so the
    /// scrape's own connection is not counted).
    static func handlers(_ proto: String, base: String) async throws -> Int? {
        let flags = proto == "h2" ? ["--http1.1"] : ["--http2-prior-knowledge"]
        return count(proto, in: try await EndToEndTests.curl(flags + ["\(base)/metrics"]))
    }

    /// `watchcache_connection_handlers` of `proto` in a `/metrics` page.
    static func count(_ proto: String, in page: String) -> Int? {
        MetricsPageSamples(page)["watchcache_connection_handlers{protocol=\"\(proto)\"}"].map { Int($0) }
    }

    /// Polls until the count is zero (the last handlers are freed as their channels close, and as
    /// the answers still being made for them arrive), for at most 20 s.
    static func waitForNoHandlers(_ proto: String, base: String) async throws -> Int? {
        var count: Int?
        for _ in 0..<400 {
            count = try await handlers(proto, base: base)
            if count == 0 { return 0 }
            try await Task.sleep(for: .milliseconds(50))
        }
        return count
    }

    @Test(arguments: ["h2", "http/1.1"])
    func everyHandlerIsFreedAfterItsConnectionCloses(proto: String) async throws {
        let (server, port) = try await EndToEndTests.startServer()
        let base = "http://127.0.0.1:\(port)"
        // 500 connections, one request each; then a watch on each of 50 more, ended by its timeout.
        let h1 = proto == "h2" ? [] : ["--h1"]
        let output = try await EndToEndTests.run("h2load", h1 + ["-c", "100", "-m", "1", "-n", "500", "\(base)/healthz"])
        #expect(output.contains("500 succeeded"), "\(output)")
        let watches = try await EndToEndTests.run("h2load", h1 + ["-c", "50", "-m", "1", "-n", "50",
                                                                  "\(base)/api/v1/pods?watch=true&resourceVersion=0&timeoutSeconds=1"])
        #expect(watches.contains("50 succeeded"), "\(watches)")
        // And connections the client drops while their watch is open.
        let flags = proto == "h2" ? ["--http2-prior-knowledge"] : ["--http1.1"]
        for _ in 0..<5 {
            _ = try await EndToEndTests.run("curl", flags + ["-sN", "--max-time", "0.3", "\(base)/api/v1/pods?watch=true&resourceVersion=0"])
        }
        #expect(try await Self.waitForNoHandlers(proto, base: base) == 0)
        try await server.shutdown()
    }
}
