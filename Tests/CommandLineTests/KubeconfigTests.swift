import Foundation
import Testing
import WatchCacheBench

/// `serve --write-kubeconfig` and `--client-ca-file` with the real kubectl: TLS verified against
/// the authority the kubeconfig carries, a token or a client certificate, and refusals otherwise.
@Suite(.serialized) struct KubeconfigTests {
    static let kubectl = "/usr/bin/kubectl"

    /// A scratch directory and a `watchcache serve` on a free secure port, stopped at the end.
    final class Served {
        let directory: String
        let process = Process()
        let port: Int

        init(_ arguments: [String], directory: String) throws {
            self.directory = directory
            port = try Self.freePort()
            process.executableURL = URL(fileURLWithPath: CommandLineTests.executable)
            process.arguments = ["serve", "--in-memory", "--port", "0", "--secure-port", String(port)] + arguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
        }

        deinit {
            process.terminate()
            process.waitUntilExit()
        }

        static func freePort() throws -> Int {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let ok = withUnsafeMutablePointer(to: &address) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
            }
            guard ok else { throw CocoaError(.fileWriteUnknown) }
            return Int(UInt16(bigEndian: address.sin_port))
        }
    }

    static func scratch() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kubeconfig-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Runs `tool` (stdin closed) on a thread of its own and returns its status and outputs.
    static func run(_ tool: String, _ arguments: [String]) async throws -> (status: Int32, out: String, err: String) {
        let output = try await offPool { try runProcess(tool, arguments, closeInput: true) }
        return (output.status, output.stdout, output.stderr)
    }

    /// Waits until `path` exists (the server writes it once listening).
    static func waitFor(_ path: String) async throws {
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: path) { try await Task.sleep(for: .milliseconds(50)) }
        #expect(FileManager.default.fileExists(atPath: path), "\(path) was not written")
    }

    @Test func kubectlWorksWithTheWrittenKubeconfigAndVerifiesTLS() async throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = dir + "/kubeconfig"
        let server = try Served(["--tls-self-signed", "--write-kubeconfig", config], directory: dir)
        try await Self.waitFor(config)
        let mode = try FileManager.default.attributesOfItem(atPath: config)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let create = try await Self.run(Self.kubectl, ["--kubeconfig", config, "create", "configmap", "settings", "--from-literal=mode=fast"])
        #expect(create.status == 0, "\(create.err)")
        // Who the kubeconfig's token is, and what it may do (everything: no authorization here).
        let whoami = try await Self.run(Self.kubectl, ["--kubeconfig", config, "auth", "whoami"])
        #expect(whoami.status == 0 && whoami.out.contains("watchcache-admin") && whoami.out.contains("system:masters"), "\(whoami.out) \(whoami.err)")
        let canI = try await Self.run(Self.kubectl, ["--kubeconfig", config, "auth", "can-i", "delete", "deployments.apps", "-n", "kube-system"])
        #expect(canI.status == 0 && canI.out == "yes\n", "\(canI.out) \(canI.err)")
        let read = try await Self.run(Self.kubectl, ["--kubeconfig", config, "get", "configmap", "settings", "-o", "jsonpath={.data.mode}"])
        #expect(read.status == 0 && read.out == "fast", "\(read.err)")
        // The generated token now protects the server: a wrong one is refused.
        let wrong = try await Self.run(Self.kubectl, ["--kubeconfig", config, "--token", "not-the-token", "get", "configmaps"])
        #expect(wrong.status != 0 && wrong.err.contains("Unauthorized"), "\(wrong.err)")
        // TLS is verified: without the kubeconfig's authority the certificate is unknown.
        let unverified = try await Self.run(Self.kubectl, ["--server", "https://127.0.0.1:\(server.port)", "--token", "x", "get", "configmaps"])
        #expect(unverified.status != 0 && unverified.err.contains("certificate"), "\(unverified.err)")
    }

    @Test func clientCertificatesAuthenticateTheirSubject() async throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // An authority, a client certificate it signs (CN alice, O system:masters), and one from
        // another authority.
        func openssl(_ arguments: String) async throws {
            let result = try await Self.run("/usr/bin/openssl", arguments.split(separator: " ").map(String.init))
            #expect(result.status == 0, "openssl \(arguments): \(result.err)")
        }
        try "extendedKeyUsage=clientAuth\n".write(toFile: dir + "/ext", atomically: true, encoding: .utf8)
        for ca in ["ca", "other-ca"] {
            try await openssl("req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout \(dir)/\(ca).key -out \(dir)/\(ca).pem -days 1 -subj /CN=\(ca)")
            try await openssl("req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout \(dir)/\(ca)-alice.key -out \(dir)/\(ca)-alice.csr -subj /CN=alice/O=system:masters")
            try await openssl("x509 -req -in \(dir)/\(ca)-alice.csr -CA \(dir)/\(ca).pem -CAkey \(dir)/\(ca).key -CAcreateserial -out \(dir)/\(ca)-alice.pem -days 1 -extfile \(dir)/ext")
        }
        let config = dir + "/kubeconfig"
        let server = try Served(["--tls-self-signed", "--client-ca-file", dir + "/ca.pem", "--write-kubeconfig", config], directory: dir)
        try await Self.waitFor(config)
        let authority = try await Self.run(Self.kubectl, ["--kubeconfig", config, "config", "view", "--raw", "-o", "jsonpath={.clusters[0].cluster.certificate-authority-data}"])
        try Data(base64Encoded: authority.out)!.write(to: URL(fileURLWithPath: dir + "/server-ca.pem"))
        let base = ["--server", "https://127.0.0.1:\(server.port)", "--certificate-authority", dir + "/server-ca.pem"]
        let alice = try await Self.run(Self.kubectl, base + ["--client-certificate", dir + "/ca-alice.pem", "--client-key", dir + "/ca-alice.key",
                                                      "create", "configmap", "by-alice"])
        #expect(alice.status == 0, "\(alice.err)")
        // `kubectl auth whoami` shows the certificate's subject: CN the user, O the groups.
        let whoami = try await Self.run(Self.kubectl, base + ["--client-certificate", dir + "/ca-alice.pem", "--client-key", dir + "/ca-alice.key",
                                                       "auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}"])
        #expect(whoami.status == 0 && whoami.out == #"alice ["system:masters","system:authenticated"]"#, "\(whoami.out) \(whoami.err)")
        let stranger = try await Self.run(Self.kubectl, base + ["--client-certificate", dir + "/other-ca-alice.pem", "--client-key", dir + "/other-ca-alice.key",
                                                         "get", "configmaps"])
        #expect(stranger.status != 0, "a certificate from another authority was accepted")
        let anonymous = try await Self.run(Self.kubectl, base + ["--token", "nope", "get", "configmaps"])
        // kubectl's words for a 401 (what follows them depends on which of its parallel discovery
        // requests failed first: "(Unauthorized)" or "(the server has asked for the client to provide credentials)").
        #expect(anonymous.status != 0 && anonymous.err.contains("You must be logged in to the server"), "\(anonymous.err)")
    }
}
