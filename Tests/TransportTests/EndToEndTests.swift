import Foundation
import Testing
import WatchCache
import WatchCacheBench
import WatchCacheServer

/// The real server on a real socket, driven by real clients: curl over HTTP/1.1 and HTTP/2 (prior
/// knowledge), nghttp and h2load for many streams on one connection.
@Suite(.serialized) struct EndToEndTests {
    /// A server on a free loopback port with a small window and a 1 s bookmark interval.
    /// (Without NamespaceLifecycle: the suites that use it count versions from 1 and write to
    /// any namespace.)
    static func startServer(slowWatchers: SlowWatcherPolicy = .park) async throws -> (Server, Int) {
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.threads = 2
        configuration.namespaceLifecycle = false
        let cache = CacheConfiguration(history: HistoryWindow(minimumEvents: 4, maximumEvents: 4), bookmarkInterval: .seconds(1),
                                       slowWatchers: slowWatchers)
        let server = try Server(configuration: configuration, registry: try Registry(configuration: cache, metricsFactory: APIServer.makeMetricsFactory()))
        let port = try await server.start().cleartext!
        return (server, port)
    }

    /// Runs curl (quiet, 10 s at most) and returns its standard output.
    @discardableResult
    static func curl(_ arguments: [String]) async throws -> String {
        try await run("curl", ["-s", "--max-time", "10"] + arguments)
    }

    /// Runs a client from /usr/bin (curl, nghttp, h2load) and returns its standard output.
    ///
    /// The process is waited for on a thread of its own (``offPool(_:)``), never on the Swift
    /// concurrency pool: blocking that pool (two threads on a two-core machine) could starve the
    /// very task a client waits for.
    static func run(_ tool: String, _ arguments: [String], absolute: Bool = false) async throws -> String {
        try await offPool {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: absolute ? tool : "/usr/bin/\(tool)")
            process.arguments = arguments
            let out = Pipe()
            process.standardOutput = out
            try process.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// Waits until the server reports `count` open pod watches (so writes land after they started).
    static func waitForWatchers(_ base: String, count: Int, curlFlags: [String] = [], attempts: Int = 200) async throws {
        let series = #"apiserver_registered_watchers{group="",version="v1",resource="pods"}"#
        for _ in 0..<attempts {
            let page = try await run("curl", ["-s", "--max-time", "5"] + curlFlags + ["\(base)/metrics"])
            if MetricsPageSamples(page)[series] == Double(count) { return }
            try await Task.sleep(for: .milliseconds(25))
        }
        Issue.record("the watch did not start")
    }

    static func lines(_ text: String) throws -> [JSONObject] {
        try text.split(separator: "\n").map { try JSONObject(parsing: String($0)) }
    }

    static let http1: [String] = ["--http1.1"]
    static let h2c: [String] = ["--http2-prior-knowledge"]

    @Test(arguments: [http1, h2c])
    func createListGetAndErrors(protocolFlags: [String]) async throws {
        let (server, port) = try await Self.startServer()
        let base = "http://127.0.0.1:\(port)"
        let created = try await JSONObject(parsing: Self.curl(protocolFlags + ["-X", "POST", "-H", "Content-Type: application/json",
            "--data", #"{"metadata":{"name":"web-0","labels":{"app":"web"}},"spec":{"nodeName":"node-1"}}"#,
            "\(base)/api/v1/namespaces/default/pods"]))
        #expect(created["metadata"]?["resourceVersion"] == .string("1"))
        #expect(created["kind"] == .string("Pod"))

        let list = try await JSONObject(parsing: Self.curl(protocolFlags + ["\(base)/api/v1/pods?labelSelector=app%3Dweb"]))
        #expect(list["kind"] == .string("PodList"))
        #expect(list["metadata"]?["resourceVersion"] == .string("1"))
        guard case .array(let items)? = list["items"] else { Issue.record("no items"); return }
        #expect(items.count == 1)

        let status = try await JSONObject(parsing: Self.curl(protocolFlags + ["\(base)/api/v1/namespaces/default/pods/missing"]))
        #expect(status["code"] == .number("404"))
        #expect(status["message"] == .string(#"pods "missing" not found"#))

        let conflict = try await JSONObject(parsing: Self.curl(protocolFlags + ["-X", "PUT", "-H", "Content-Type: application/json",
            "--data", #"{"metadata":{"name":"web-0","resourceVersion":"7"}}"#, "\(base)/api/v1/namespaces/default/pods/web-0"]))
        #expect(conflict["reason"] == .string("Conflict"))
        #expect(conflict["code"] == .number("409"))

        let codes = try await Self.curl(protocolFlags + ["-o", "/dev/null", "-w", "%{http_code}", "\(base)/api/v1/nonsense"])
        #expect(codes == "404")
        try await server.shutdown()
    }

    @Test(arguments: [http1, h2c])
    func watchWithBookmarksThenTimeout(protocolFlags: [String]) async throws {
        let (server, port) = try await Self.startServer()
        let base = "http://127.0.0.1:\(port)"
        let watch = Task {
            try await Self.curl(protocolFlags + ["-N", "\(base)/api/v1/namespaces/default/pods?watch=true&resourceVersion=0&allowWatchBookmarks=true&timeoutSeconds=6"])
        }
        try await Self.waitForWatchers(base, count: 1)
        try await Self.curl(["-X", "POST", "-H", "Content-Type: application/json", "--data", #"{"metadata":{"name":"a"}}"#,
                       "\(base)/api/v1/namespaces/default/pods"])
        try await Self.curl(["-X", "POST", "-H", "Content-Type: application/json", "--data", #"{"metadata":{"name":"x"}}"#,
                       "\(base)/api/v1/namespaces/default/configmaps"])
        let events = try Self.lines(await watch.value)  // ends by itself at timeoutSeconds
        let types = events.compactMap { $0["type"]?.stringValue }
        #expect(types.first == "ADDED")
        #expect(types.contains("BOOKMARK"))
        let bookmark = events.first { $0["type"] == .string("BOOKMARK") }
        #expect(bookmark?["object"]?["metadata"]?["resourceVersion"] == .string("2"))  // advanced by the configmap write
        try await server.shutdown()
    }

    @Test(arguments: [http1, h2c])
    func tooOldResourceVersionIsAnErrorEventIn200(protocolFlags: [String]) async throws {
        let (server, port) = try await Self.startServer()
        let base = "http://127.0.0.1:\(port)"
        for i in 0..<8 {
            try await Self.curl(["-X", "POST", "-H", "Content-Type: application/json", "--data", "{\"metadata\":{\"name\":\"p\(i)\"}}",
                           "\(base)/api/v1/namespaces/default/pods"])
        }
        let output = try await Self.curl(protocolFlags + ["-i", "\(base)/api/v1/pods?watch=true&resourceVersion=1"])
        #expect(output.hasPrefix("HTTP/1.1 200") || output.hasPrefix("HTTP/2 200"))
        #expect(output.contains(#"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (4)","reason":"Expired","code":410}}"#))
        try await server.shutdown()
    }

    /// kube-apiserver turns a negative `timeoutSeconds` into a timer that has already fired: 200,
    /// and the stream ends at once (not at the 30–60 min default).
    @Test(arguments: [http1, h2c])
    func aNegativeTimeoutEndsTheWatchAtOnce(protocolFlags: [String]) async throws {
        let (server, port) = try await Self.startServer()
        let base = "http://127.0.0.1:\(port)"
        try await Self.curl(["-X", "POST", "-H", "Content-Type: application/json", "--data", #"{"metadata":{"name":"a"}}"#,
                             "\(base)/api/v1/namespaces/default/pods"])
        // curl gives up after 10 s: a stream left open would show as a missing end, not as a hang.
        let output = try await Self.curl(protocolFlags + ["-sN", "-o", "/dev/null", "-w", "%{http_code} %{exitcode}",
                                                          "\(base)/api/v1/pods?watch=true&resourceVersion=0&timeoutSeconds=-5"])
        #expect(output == "200 0")
        try await server.shutdown()
    }

    /// nghttp opens 20 watch streams on one connection; one write reaches all of them, and each
    /// ends cleanly (END_STREAM) at its timeout.
    /// A response far larger than the socket buffers, to a client whose windows never stop it: the
    /// server must keep writing as the socket drains (a wake-up arriving during its own flush was
    /// once lost, stalling the response after ~200 KB).
    @Test func largeResponsesToAClientWithLargeWindows() async throws {
        let (server, port) = try await Self.startServer()
        let padding = String(repeating: "x", count: 1000)
        for i in 0..<6000 {
            _ = try await server.registry.create(try JSONObject(parsing: #"{"metadata":{"name":"p\#(i)","annotations":{"pad":"\#(padding)"}}}"#),
                                           in: .pods, namespace: "big")
        }
        let url = "http://127.0.0.1:\(port)/api/v1/namespaces/big/pods"
        // 4 MiB stream window, 256 MiB connection window: flow control never pauses the server.
        let body = try await Self.run("timeout", ["-s", "KILL", "20", "/usr/bin/nghttp", "-w", "22", "-W", "28", url])
        #expect(body.utf8.count > 6_000_000)
        #expect(body.hasSuffix("]}"))
        try await server.shutdown()
    }

    /// A client that never reads (its HTTP/2 stream window is 0) leaves its events in the
    /// watcher's queue, not in the transport: the slow-watcher policy ends it, as kube-apiserver's
    /// would, and the server holds little for it meanwhile.
    /// Terminated (kube-apiserver's policy) or parked and then ended when the 4-event window has
    /// moved past it (ours): either way a stream whose client never reads does not stay.
    @Test(arguments: SlowWatcherPolicy.allCases)
    func aStreamThatNeverReadsIsEndedByTheSlowWatcherPolicy(policy: SlowWatcherPolicy) async throws {
        let (server, port) = try await Self.startServer(slowWatchers: policy)
        let url = "http://127.0.0.1:\(port)/api/v1/pods?watch=true&resourceVersion=0&fieldSelector=spec.nodeName%3Dn1"
        // Killed at the end, or by `timeout` if the test dies first; long enough that a loaded
        // machine does not end the client (and so the watch) before the policy does.
        let stalled = Task { try await Self.run("timeout", ["-s", "KILL", "90", "/usr/bin/nghttp", "-w", "0", url]) }
        try await Self.waitForWatchers("http://127.0.0.1:\(port)", count: 1)
        let padding = String(repeating: "x", count: 1000)
        // 200 KiB of events: under the transport's old 256 KiB per-stream buffer, over what the
        // transport may hold even when the client's zero window is not in force yet (the default
        // 64 KiB stream window) plus the watcher's queue.
        for i in 0..<200 {
            _ = try await server.registry.create(try JSONObject(parsing: #"{"metadata":{"name":"p\#(i)","annotations":{"pad":"\#(padding)"}},"spec":{"nodeName":"n1"}}"#),
                                           in: .pods, namespace: "default")
        }
        var stats = server.registry.cache(for: .pods)!.statistics()
        for _ in 0..<100 {
            stats = server.registry.cache(for: .pods)!.statistics()
            if stats.currentWatchers == 0 { break }
            server.registry.tick()
            try await Task.sleep(for: .milliseconds(50))
        }
        let detail = "delivered \(stats.eventsDelivered), watchers \(stats.currentWatchers), started \(stats.watchersStarted), parked \(stats.watchersParked)"
        #expect(stats.currentWatchers == 0, "\(detail)")
        if policy == .terminate {
            #expect(stats.watchersTerminated == 1, "\(detail)")
        } else {
            // Parked at least once: the transport may take a frame's worth first, and the watcher go live and park again.
            #expect(stats.watchersParked >= 1 && stats.watchersTerminated == 0, "\(detail)")
        }
        stalled.cancel()
        _ = try? await Self.run("pkill", ["-KILL", "-f", "nghttp -w 0 \(url)"])
        try await server.shutdown()
        _ = try? await stalled.value
    }

    @Test func manyWatchStreamsShareOneHTTP2Connection() async throws {
        let (server, port) = try await Self.startServer()
        let base = "http://127.0.0.1:\(port)"
        let urls = (0..<20).map { "\(base)/api/v1/pods?watch=true&resourceVersion=0&timeoutSeconds=2&stream=\($0)" }
        let watch = Task { try await Self.run("nghttp", ["-v", "-n"] + urls) }
        try await Self.waitForWatchers(base, count: 20)
        try await Self.curl(["-X", "POST", "-H", "Content-Type: application/json", "--data", #"{"metadata":{"name":"shared"}}"#,
                       "\(base)/api/v1/namespaces/default/pods"])
        let trace = try await watch.value
        let dataFrames = trace.split(separator: "\n").filter { $0.contains("recv DATA frame <length=") && !$0.contains("<length=0,") }
        let streamsWithData = Set(dataFrames.compactMap { $0.split(separator: "stream_id=").last?.dropLast() })
        #expect(streamsWithData.count == 20)
        #expect(trace.components(separatedBy: "; END_STREAM").count - 1 >= 20 + 20)  // 20 sent, 20 received
        #expect(trace.contains("recv SETTINGS frame"))
        try await server.shutdown()
    }

    /// h2load holds 400 concurrent watch streams over 4 connections; all get 200 and end at their timeout.
    @Test func h2loadConcurrentWatchStreams() async throws {
        let (server, port) = try await Self.startServer()
        let output = try await Self.run("h2load", ["-c", "4", "-m", "100", "-n", "400",
                                             "http://127.0.0.1:\(port)/api/v1/pods?watch=true&resourceVersion=0&timeoutSeconds=1"])
        #expect(output.contains("requests: 400 total, 400 started, 400 done, 400 succeeded, 0 failed, 0 errored, 0 timeout"))
        #expect(output.contains("status codes: 400 2xx"))
        try await server.shutdown()
    }

    /// The official Kubernetes Python client (installed by scripts/install-python-client.sh into
    /// .build-python): list, a watch with bookmarks, and the 410 ApiException for a too-old version.
    @Test func kubernetesPythonClient() async throws {
        let root = String(#filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast(3).joined(separator: "/"))
        let python = root + "/.build-python/bin/python"
        try #require(FileManager.default.isExecutableFile(atPath: python), "run scripts/install-python-client.sh first")
        let (server, port) = try await Self.startServer()
        let output = try await Self.run(python, [root + "/Tests/clients/python_client_check.py", "http://127.0.0.1:\(port)"], absolute: true)
        let result = try JSONObject(parsing: output.split(separator: "\n").last.map(String.init) ?? "")
        #expect(result["list"] == .array([.string("py-0")]))
        guard case .array(let events)? = result["watch"] else { Issue.record("no watch events: \(output)"); return }
        #expect(events.first == .array([.string("ADDED"), .string("py-1")]))
        #expect(events.contains(.array([.string("BOOKMARK"), .string("3")])))
        #expect(result["expired"]?["status"] == .number("410"))
        #expect(result["expired"]?["reason"]?.stringValue?.hasPrefix("Expired: too old resource version: 1") == true)
        try await server.shutdown()
    }

    /// Shutting down with clients connected: HTTP/2 gets GOAWAY and its watch ends with END_STREAM,
    /// the HTTP/1.1 watch gets its terminating chunk; nothing is cut off.
    @Test func shutdownDrainsConnectedClients() async throws {
        let (server, port) = try await Self.startServer()
        let base = "http://127.0.0.1:\(port)"
        let h2 = Task { try await Self.run("nghttp", ["-v", "\(base)/api/v1/pods?watch=true&resourceVersion=0"]) }
        let h1 = Task { try await Self.run("curl", ["-s", "-N", "-w", "\n%{http_code} %{exitcode}", "\(base)/api/v1/pods?watch=true&resourceVersion=0"]) }
        try await Self.waitForWatchers(base, count: 2)
        try await server.shutdown()
        let trace = try await h2.value
        #expect(trace.contains("recv GOAWAY frame"))
        #expect(trace.contains("; END_STREAM"))
        #expect(try await h1.value.hasSuffix("200 0"))  // complete chunked response, curl exit code 0
    }
}
