import Foundation
import Yams

/// Reads the server and credentials of one context from a kubeconfig file, as kubectl does:
/// the cluster's `server`, `certificate-authority(-data)`, `insecure-skip-tls-verify` and
/// `tls-server-name`; the user's `token` or `tokenFile`, `client-certificate(-data)` and
/// `client-key(-data)`. Relative file paths are relative to the kubeconfig's directory.
/// Credentials that need a program (`exec`, `auth-provider`) or a password are refused with a
/// message that says so.
public enum Kubeconfig {
    /// The file kubectl would read: the first of `$KUBECONFIG`'s files, else `~/.kube/config`.
    public static var defaultPath: String {
        if let list = ProcessInfo.processInfo.environment["KUBECONFIG"], let first = list.split(separator: ":").first {
            return String(first)
        }
        return NSHomeDirectory() + "/.kube/config"
    }

    /// The endpoint of `context` (default: the file's `current-context`) in the kubeconfig at `path`.
    public static func endpoint(path: String, context requested: String?) throws -> APIServerEndpoint {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? String(cString: strerror(EACCES)) : String(cString: strerror(ENOENT))
            throw BenchError("cannot read the kubeconfig \(path): \(reason)")
        }
        let text = String(decoding: data, as: UTF8.self)
        let document: Any?
        do { document = try Yams.load(yaml: text) } catch {
            throw BenchError("the kubeconfig \(path) is not YAML: \(error)")
        }
        guard let root = document as? [String: Any] else { throw BenchError("the kubeconfig \(path) is not a YAML mapping") }
        let directory = (path as NSString).deletingLastPathComponent

        guard let contextName = requested ?? (root["current-context"] as? String), !contextName.isEmpty else {
            throw BenchError("the kubeconfig \(path) has no current-context: name one with --context")
        }
        func named(_ list: String, _ name: String, _ inner: String) throws -> [String: Any] {
            let entries = root[list] as? [[String: Any]] ?? []
            guard let entry = entries.first(where: { ($0["name"] as? String) == name }) else {
                let known = entries.compactMap { $0["name"] as? String }
                throw BenchError("the kubeconfig \(path) has no \(inner) named \"\(name)\"" + (known.isEmpty ? "" : " (it has \(known.joined(separator: ", ")))"))
            }
            return entry[inner] as? [String: Any] ?? [:]
        }
        let context = try named("contexts", contextName, "context")
        guard let clusterName = context["cluster"] as? String else { throw BenchError("context \"\(contextName)\" in \(path) names no cluster") }
        let cluster = try named("clusters", clusterName, "cluster")
        let user = try (context["user"] as? String).map { try named("users", $0, "user") } ?? [:]
        guard let server = cluster["server"] as? String else { throw BenchError("cluster \"\(clusterName)\" in \(path) has no server") }

        func file(_ value: Any?) -> String? {
            guard let name = value as? String, !name.isEmpty else { return nil }
            return name.hasPrefix("/") ? name : directory + "/" + name
        }
        func bytes(data: Any?, file name: Any?, what: String) throws -> [UInt8]? {
            if let encoded = data as? String, !encoded.isEmpty {
                guard let decoded = Data(base64Encoded: encoded, options: .ignoreUnknownCharacters) else {
                    throw BenchError("\(what) in \(path) is not base64")
                }
                return Array(decoded)
            }
            guard let name = file(name) else { return nil }
            guard let contents = FileManager.default.contents(atPath: name) else { throw BenchError("cannot read \(what) \(name) (named in \(path))") }
            return Array(contents)
        }

        if user["exec"] != nil || user["auth-provider"] != nil {
            throw BenchError("user of context \"\(contextName)\" in \(path) gets its credentials from a program (exec or auth-provider), which the benchmark does not run: give --server and --token instead")
        }
        if user["password"] != nil, user["token"] == nil, user["tokenFile"] == nil, user["client-certificate"] == nil, user["client-certificate-data"] == nil {
            throw BenchError("user of context \"\(contextName)\" in \(path) authenticates with a password, which kube-apiserver no longer accepts: give --token instead")
        }
        var token = (user["token"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        if token == nil, let name = file(user["tokenFile"]) {
            guard let contents = FileManager.default.contents(atPath: name) else { throw BenchError("cannot read the token file \(name) (named in \(path))") }
            token = String(decoding: contents, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }

        var tls: APIServerEndpoint.TLS?
        if server.hasPrefix("https://") {
            var settings = APIServerEndpoint.TLS()
            settings.insecureSkipVerify = (cluster["insecure-skip-tls-verify"] as? Bool) ?? false
            settings.certificateAuthority = try bytes(data: cluster["certificate-authority-data"], file: cluster["certificate-authority"],
                                                      what: "the certificate authority of cluster \"\(clusterName)\"")
            settings.serverName = (cluster["tls-server-name"] as? String).flatMap { $0.isEmpty ? nil : $0 }
            settings.clientCertificate = try bytes(data: user["client-certificate-data"], file: user["client-certificate"], what: "the client certificate")
            settings.clientKey = try bytes(data: user["client-key-data"], file: user["client-key"], what: "the client key")
            tls = settings
        }
        var endpoint = try APIServerEndpoint(url: server, tls: tls, bearerToken: token)
        endpoint.context = contextName
        return endpoint
    }
}
