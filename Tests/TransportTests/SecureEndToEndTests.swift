import Foundation
import Testing
import WatchCache
import WatchCacheBench
import WatchCacheServer

/// The secure port (TLS with ALPN) and bearer-token authentication, with curl and kubectl.
@Suite(.serialized) struct SecureEndToEndTests {
    static let token = "s3cr3t-token"

    static func startServer(namespaceLifecycle: Bool = false, registry given: Registry? = nil) async throws -> (Server, Int) {
        var configuration = ServerConfiguration()
        configuration.namespaceLifecycle = namespaceLifecycle
        configuration.port = nil
        configuration.securePort = 0
        configuration.tls = .selfSigned
        configuration.threads = 2
        configuration.authenticator = try TokenAuthenticator(csv: "\(token),admin,1,\"system:masters\"\n")
        let cache = CacheConfiguration(history: HistoryWindow(minimumEvents: 4, maximumEvents: 4), bookmarkInterval: .seconds(1))
        let registry = try given ?? Registry(configuration: cache, metricsFactory: APIServer.makeMetricsFactory())
        // Off the concurrency pool: with namespace lifecycle the server creates the system
        // namespaces as it starts and waits for them (over etcd, a round trip each), which is no
        // reason to hold one of the pool's two threads. (Before EtcdExecutor, two tests starting
        // servers at once held both, and the commits they waited for had none left.)
        let settings = configuration
        let server = try await offPool { try Server(configuration: settings, registry: registry) }
        let ports = try await server.start()
        return (server, ports.secure!)
    }

    static func curl(_ arguments: [String]) async throws -> String {
        try await EndToEndTests.run("curl", ["-s", "-k", "--max-time", "10"] + arguments)
    }

    @Test(arguments: [["--http2"], ["--http1.1"]])
    func tlsNegotiatesTheProtocolAndTokensAreRequired(protocolFlags: [String]) async throws {
        let (server, port) = try await Self.startServer()
        let base = "https://127.0.0.1:\(port)"
        let auth = ["-H", "Authorization: Bearer \(Self.token)"]

        let version = try await Self.curl(protocolFlags + ["-w", "\n%{http_version}", "\(base)/version"])
        #expect(version.hasSuffix(protocolFlags == ["--http2"] ? "\n2" : "\n1.1"))  // ALPN chose it
        #expect(try await Self.curl(protocolFlags + ["\(base)/healthz"]) == "ok")

        let denied = try await JSONObject(parsing: Self.curl(protocolFlags + ["\(base)/api/v1/pods"]))
        #expect(denied["code"] == .number("401"))
        #expect(denied["reason"] == .string("Unauthorized"))
        let wrong = try await Self.curl(protocolFlags + ["-H", "Authorization: Bearer nope", "-o", "/dev/null", "-w", "%{http_code}", "\(base)/api/v1/pods"])
        #expect(wrong == "401")

        let created = try await JSONObject(parsing: Self.curl(protocolFlags + auth + ["-X", "POST", "-H", "Content-Type: application/json",
            "--data", #"{"metadata":{"name":"a"}}"#, "\(base)/api/v1/namespaces/default/pods"]))
        #expect(created["metadata"]?["resourceVersion"] == .string("1"))
        // 12 s: room for the write below and a bookmark after it when a loaded machine is slow to
        // start curl (a 6 s watch ended before them once in a full CI run).
        let watch = Task {
            try await EndToEndTests.run("curl", ["-s", "-k", "--max-time", "20"] + protocolFlags + auth
                                        + ["-N", "\(base)/api/v1/pods?watch=true&resourceVersion=0&allowWatchBookmarks=true&timeoutSeconds=12"])
        }
        try await EndToEndTests.waitForWatchers(base, count: 1, curlFlags: ["-k"] + auth)
        _ = try await Self.curl(auth + ["-X", "POST", "-H", "Content-Type: application/json", "--data", #"{"metadata":{"name":"x"}}"#,
                                        "\(base)/api/v1/namespaces/default/configmaps"])
        let events = try await watch.value.split(separator: "\n").map { try JSONObject(parsing: String($0)) }
        #expect(events.first?["type"] == .string("ADDED"))
        #expect(events.contains { $0["type"] == .string("BOOKMARK") && $0["object"]?["metadata"]?["resourceVersion"] == .string("2") })

        for i in 0..<6 {
            _ = try await Self.curl(auth + ["-X", "POST", "-H", "Content-Type: application/json", "--data", "{\"metadata\":{\"name\":\"p\(i)\"}}",
                                            "\(base)/api/v1/namespaces/default/pods"])
        }
        let expired = try await JSONObject(parsing: Self.curl(protocolFlags + auth + ["\(base)/api/v1/pods?watch=true&resourceVersion=1"]))
        #expect(expired["type"] == .string("ERROR"))
        #expect(expired["object"]?["code"] == .number("410"))
        try await server.shutdown()
    }

    /// kubectl, as a user runs it: TLS, a token, create / get / watch / label / delete.
    @Test func kubectl() async throws {
        let kubectlPath = "/usr/bin/kubectl"
        try #require(FileManager.default.isExecutableFile(atPath: kubectlPath), "kubectl is not installed at \(kubectlPath)")
        let (server, port) = try await Self.startServer()
        let connection = ["--server", "https://127.0.0.1:\(port)", "--insecure-skip-tls-verify", "--token", Self.token]
        func kubectl(_ arguments: [String]) async throws -> String { try await EndToEndTests.run("kubectl", arguments + connection) }

        let manifest = FileManager.default.temporaryDirectory.appendingPathComponent("watchcache-pod-\(port).json")
        try #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-0","namespace":"default","labels":{"app":"web"}},"spec":{"nodeName":"node-1","containers":[{"name":"app","image":"nginx"}]}}"#
            .write(to: manifest, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: manifest) }

        // kubectl reads /openapi/v3, sees fieldValidation on PATCH, and leaves validation to the server.
        #expect(try await kubectl(["create", "-f", manifest.path]).contains("pod/web-0 created"))
        let listed = try await JSONObject(parsing: kubectl(["get", "pods", "-o", "json"]))
        guard case .array(let items)? = listed["items"] else { Issue.record("no items"); return }
        #expect(items.count == 1)
        // Human output comes from the server's Table form.
        let table = try await kubectl(["get", "po", "-o", "wide"]).split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        #expect(table.first == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"])
        #expect(table.dropFirst().first?.first == "web-0" && table.dropFirst().first?.last == "node-1")
        // get -w: the list, then the change, under one header.
        async let watched = EndToEndTests.run("timeout", ["5", kubectlPath, "get", "pods", "-w"] + connection)
        try await EndToEndTests.waitForWatchers("https://127.0.0.1:\(port)", count: 1,
                                                curlFlags: ["-k", "-H", "Authorization: Bearer \(Self.token)"])
        #expect(try await kubectl(["label", "pod", "web-0", "tier=db"]).contains("pod/web-0 labeled"))
        let watchLines = try await watched.split(separator: "\n")
        #expect(watchLines.count == 3)
        #expect(watchLines.first?.hasPrefix("NAME") == true)
        #expect(watchLines.dropFirst().allSatisfy { $0.hasPrefix("web-0") })
        let labeled = try await JSONObject(parsing: kubectl(["get", "pod", "web-0", "-o", "json"]))
        #expect(labeled["metadata"]?["labels"]?["tier"] == .string("db"))
        let raw = try await kubectl(["get", "--raw", "/api/v1/namespaces/default/pods?watch=true&allowWatchBookmarks=true&resourceVersion=0&timeoutSeconds=1"])
        #expect(raw.hasPrefix(#"{"type":"ADDED""#))
        #expect(try await kubectl(["delete", "pod", "web-0"]).contains(#"pod "web-0" deleted"#))
        try await server.shutdown()
    }
}
