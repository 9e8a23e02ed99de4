import ArgumentParser
import Foundation
import WatchCacheBench

/// The flags that point a network benchmark at a server it does not start — any Kubernetes API
/// server — and say how to reach it, as kubectl's do.
struct APIServerTargetOptions: ParsableArguments {
    @Option(help: "A server already running: any Kubernetes API server (https://host:port, or http:// for cleartext HTTP/2).")
    var server: String?

    @Option(help: "The server of a kubeconfig's context, with its credentials.")
    var kubeconfig: String?

    @Option(help: "The kubeconfig context (default: its current-context).")
    var context: String?

    @Option(help: "With --server: a bearer token.")
    var token: String?

    @Option(name: .customLong("certificate-authority"), help: "With --server: the PEM file of the authorities the server's certificate must chain to (default: the system's).")
    var certificateAuthority: String?

    @Option(name: .customLong("client-certificate"), help: "With --server: a PEM client certificate (with --client-key).")
    var clientCertificate: String?

    @Option(name: .customLong("client-key"), help: "With --server: the client certificate's PEM key.")
    var clientKey: String?

    @Flag(name: .customLong("insecure-skip-tls-verify"), help: "With --server: accept any server certificate.")
    var insecureSkipTLSVerify = false

    /// Whether a server was named (--server or --kubeconfig).
    var isSet: Bool { server != nil || kubeconfig != nil }

    func validate() throws {
        if server != nil, kubeconfig != nil { throw ValidationError("give --server or --kubeconfig, not both") }
        if kubeconfig == nil, context != nil { throw ValidationError("--context names a context of --kubeconfig") }
        let credentials = token != nil || certificateAuthority != nil || clientCertificate != nil || clientKey != nil || insecureSkipTLSVerify
        if credentials, server == nil {
            throw ValidationError("--token, --certificate-authority, --client-certificate, --client-key and --insecure-skip-tls-verify go with --server (a kubeconfig has its own)")
        }
        if (clientCertificate == nil) != (clientKey == nil) { throw ValidationError("--client-certificate and --client-key go together") }
        if let server, !(server.hasPrefix("https://") || server.hasPrefix("http://")) {
            throw ValidationError("--server must be a URL: https://host:port (or http:// for cleartext HTTP/2)")
        }
        if let server, server.hasPrefix("http://"), certificateAuthority != nil || clientCertificate != nil || insecureSkipTLSVerify {
            throw ValidationError("--server \(server) is cleartext: TLS options need https://")
        }
    }

    /// The server named and its credentials; a kubeconfig or file that cannot be used is a usage
    /// error (one line, exit 64).
    func endpoint() throws -> APIServerEndpoint {
        do {
            if let kubeconfig { return try Kubeconfig.endpoint(path: kubeconfig, context: context) }
            guard let server else { preconditionFailure("endpoint() without --server or --kubeconfig") }
            func read(_ path: String?, _ flag: String) throws -> [UInt8]? {
                guard let path else { return nil }
                guard let data = FileManager.default.contents(atPath: path) else { throw BenchError("\(flag) \(path): cannot read the file") }
                return Array(data)
            }
            var tls: APIServerEndpoint.TLS?
            if server.hasPrefix("https://") {
                var settings = APIServerEndpoint.TLS()
                settings.certificateAuthority = try read(certificateAuthority, "--certificate-authority")
                settings.clientCertificate = try read(clientCertificate, "--client-certificate")
                settings.clientKey = try read(clientKey, "--client-key")
                settings.insecureSkipVerify = insecureSkipTLSVerify
                tls = settings
            }
            return try APIServerEndpoint(url: server, tls: tls, bearerToken: token)
        } catch {
            throw CommandFailure.usage("\(error)")
        }
    }

    /// Resolves the server and asks its version (printed with its address): whether it is a
    /// watchcache decides what the run may assume of it.
    func connect() async throws -> (endpoint: APIServerEndpoint, version: String) {
        let endpoint = try endpoint()
        let version: String
        do { version = try await endpoint.serverVersion() } catch { throw CommandFailure.runtime("\(error)") }
        print("Target: \(endpoint.url)\(endpoint.context.map { " (context \($0))" } ?? ""), \(version)")
        return (endpoint, version)
    }
}
