import Foundation
import Testing

/// `bench recovery` against a server it did not start, as against any Kubernetes API server:
/// `watchcache serve` on its TLS port, reached through the kubeconfig it writes (TLS verified,
/// a token) or through --server with a client certificate; and the refusals a user meets.
@Suite(.serialized) struct RemoteBenchmarkTests {
    typealias Served = KubeconfigTests.Served

    static func run(_ tool: String, _ arguments: [String]) async throws -> (status: Int32, out: String, err: String) {
        try await KubeconfigTests.run(tool, arguments)
    }

    /// `kubectl get namespaces -o name`, again every 0.5 s for up to 30 s while a benchmark's
    /// namespace is still listed (a namespace's deletion finishes after its contents are gone).
    static func namespacesOnceCleanedUp(_ config: String) async throws -> (status: Int32, out: String, err: String) {
        var namespaces = try await run(KubeconfigTests.kubectl, ["--kubeconfig", config, "get", "namespaces", "-o", "name"])
        for _ in 0..<60 where namespaces.out.contains("watchcache-bench-") {
            try await Task.sleep(for: .milliseconds(500))
            namespaces = try await run(KubeconfigTests.kubectl, ["--kubeconfig", config, "get", "namespaces", "-o", "name"])
        }
        return namespaces
    }

    @Test func benchRecoveryRunsThroughAKubeconfigAndCleansUp() async throws {
        let dir = try KubeconfigTests.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = dir + "/kubeconfig"
        let server = try Served(["--tls-self-signed", "--write-kubeconfig", config], directory: dir)
        try await KubeconfigTests.waitFor(config)
        let run = try await Self.run(CommandLineTests.executable, [
            "bench", "recovery", "--kubeconfig", config, "--watchers", "10", "--writes-per-second", "20",
            "--warmup", "2", "--measured", "6", "--no-progress", "--json", dir + "/recovery.json",
        ])
        #expect(run.status == 0, "\(run.err)")
        #expect(run.out.contains("against https://127.0.0.1:\(server.port) (context watchcache)"), "\(run.out)")
        #expect(run.out.contains("This runs in real time"), "\(run.out)")
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/recovery.json"))) as? [String: Any]
        #expect(report?["target"] as? String == "https://127.0.0.1:\(server.port) (context watchcache)")
        let point = (report?["points"] as? [[String: Any]])?.first
        for side in ["off", "on"] {
            let m = point?[side] as? [String: Any]
            #expect((m?["writes"] as? Double ?? 0) > 50, "\(side): \(String(describing: m))")
            #expect(m?["failedRequests"] as? Double == 0, "\(side): \(String(describing: m))")
            // watchcache reports the figures itself (apiserver_init_events_total and its per-watch histogram).
            #expect((m?["notes"] as? [Any])?.isEmpty == true, "\(side): \(String(describing: m))")
            #expect((m?["stormInitEvents"] as? Double ?? 0) > 0, "\(side): \(String(describing: m))")
        }
        // Each run created a namespace of its own and deleted it, with its pods.
        let namespaces = try await Self.namespacesOnceCleanedUp(config)
        #expect(namespaces.status == 0 && !namespaces.out.contains("watchcache-bench-"), "\(namespaces.out)")
        let pods = try await Self.run(KubeconfigTests.kubectl, ["--kubeconfig", config, "get", "pods", "-A", "-o", "name"])
        #expect(pods.status == 0 && pods.out.isEmpty, "\(pods.out)")
    }

    @Test func benchFanoutRunsThroughAKubeconfig() async throws {
        let dir = try KubeconfigTests.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = dir + "/kubeconfig"
        let server = try Served(["--tls-self-signed", "--write-kubeconfig", config], directory: dir)
        try await KubeconfigTests.waitFor(config)
        let run = try await Self.run(CommandLineTests.executable, [
            "bench", "fanout", "--kubeconfig", config, "--scenario", "latency", "--watchers", "200", "--connections", "4",
            "--objects", "100", "--seconds", "3", "--writes-per-second", "50", "--no-progress", "--json", dir + "/fanout.json",
        ])
        #expect(run.status == 0, "\(run.err)")
        #expect(run.out.contains("HTTP/2 to https://127.0.0.1:\(server.port) (context watchcache)"), "\(run.out)")
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/fanout.json"))) as? [String: Any]
        let m = (report?["runs"] as? [[String: Any]])?.first?["measurement"] as? [String: Any] ?? (report?["runs"] as? [[String: Any]])?.first
        let delivered = m?["deliveredEvents"] as? Double ?? -1, expected = m?["expectedDeliveries"] as? Double ?? -2
        #expect(delivered == expected && delivered > 100, "\(String(describing: m))")
        #expect(m?["streamsEstablished"] as? Double == 201, "\(String(describing: m))")
        let namespaces = try await Self.namespacesOnceCleanedUp(config)
        #expect(!namespaces.out.contains("watchcache-bench-"), "\(namespaces.out)")
        // Flags about servers the benchmark starts do not go with one it does not.
        let mixed = try await Self.run(CommandLineTests.executable, ["bench", "fanout", "--kubeconfig", config, "--etcd-servers", "http://127.0.0.1:2379"])
        #expect(mixed.status == 64 && mixed.err.contains("--etcd-servers is about servers this benchmark starts"), "\(mixed.err)")
    }

    @Test func benchRecoveryPresentsAClientCertificate() async throws {
        let dir = try KubeconfigTests.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func openssl(_ arguments: String) async throws {
            let result = try await Self.run("/usr/bin/openssl", arguments.split(separator: " ").map(String.init))
            #expect(result.status == 0, "openssl \(arguments): \(result.err)")
        }
        try "extendedKeyUsage=clientAuth\n".write(toFile: dir + "/ext", atomically: true, encoding: .utf8)
        try await openssl("req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout \(dir)/ca.key -out \(dir)/ca.pem -days 1 -subj /CN=ca")
        try await openssl("req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout \(dir)/bench.key -out \(dir)/bench.csr -subj /CN=bench/O=system:masters")
        try await openssl("x509 -req -in \(dir)/bench.csr -CA \(dir)/ca.pem -CAkey \(dir)/ca.key -CAcreateserial -out \(dir)/bench.pem -days 1 -extfile \(dir)/ext")
        let config = dir + "/kubeconfig"
        let server = try Served(["--tls-self-signed", "--client-ca-file", dir + "/ca.pem", "--write-kubeconfig", config], directory: dir)
        try await KubeconfigTests.waitFor(config)
        let authority = try await Self.run(KubeconfigTests.kubectl, ["--kubeconfig", config, "config", "view", "--raw", "-o",
                                                                         "jsonpath={.clusters[0].cluster.certificate-authority-data}"])
        try Data(base64Encoded: authority.out)!.write(to: URL(fileURLWithPath: dir + "/server-ca.pem"))
        let url = "https://127.0.0.1:\(server.port)"
        let small = ["--watchers", "2", "--writes-per-second", "10", "--warmup", "0", "--measured", "1", "--no-progress"]
        let run = try await Self.run(CommandLineTests.executable, ["bench", "recovery", "--server", url, "--certificate-authority", dir + "/server-ca.pem",
                                                                       "--client-certificate", dir + "/bench.pem", "--client-key", dir + "/bench.key"] + small)
        #expect(run.status == 0, "\(run.err)")
        #expect(run.out.contains("against \(url)"), "\(run.out)")

        // The refusals, one line each.
        let wrongToken = try await Self.run(CommandLineTests.executable, ["bench", "recovery", "--server", url, "--certificate-authority",
                                                                              dir + "/server-ca.pem", "--token", "not-the-token"] + small)
        #expect(wrongToken.status == 1 && wrongToken.err.contains("did not accept the credentials (401 Unauthorized)"), "\(wrongToken.err)")
        let unknownAuthority = try await Self.run(CommandLineTests.executable, ["bench", "recovery", "--server", url, "--token", "x"] + small)
        #expect(unknownAuthority.status == 1 && unknownAuthority.err.contains("is not signed by an authority this run trusts"), "\(unknownAuthority.err)")
        let cleartext = try await Self.run(CommandLineTests.executable, ["bench", "recovery", "--server", "http://127.0.0.1:\(server.port)"] + small)
        #expect(cleartext.status == 1 && cleartext.err.contains("closed the connection without an HTTP/2 answer"), "\(cleartext.err)")
        let restart = try await Self.run(CommandLineTests.executable, ["bench", "recovery", "--kubeconfig", config, "--scenario", "server-restart"])
        #expect(restart.status == 64 && restart.err.contains("it cannot run against --server or --kubeconfig"), "\(restart.err)")
    }
}
