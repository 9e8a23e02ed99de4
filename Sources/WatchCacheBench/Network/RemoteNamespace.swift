import NIOCore
import WatchCache

/// The namespace a run against a server it did not start works in: created fresh, checked for
/// the rights the run needs, deleted at the end; refusals explained in one line.
enum RemoteNamespace {
    /// The rights a run against a remote server needs, for messages about a refusal.
    static let neededRights = "the benchmark needs to create and delete namespaces, and to create, list, watch and update pods (and their status) in the namespace it creates"

    /// What a 401 means to the user.
    static func credentialsRefused(_ endpoint: APIServerEndpoint) -> String {
        "\(endpoint.url) did not accept the credentials (401 Unauthorized): give a token (--token) or a kubeconfig whose user has one or a client certificate"
    }

    /// The `message` of a Kubernetes `Status` body, if it is one, after a colon.
    static func detail(_ body: [UInt8]) -> String {
        (try? JSONParser.parse(body))?["message"]?.stringValue.map { ": " + $0 } ?? ""
    }

    /// Creates `namespace` (which must not exist); returns true once it does.
    static func create(_ namespace: String, at endpoint: APIServerEndpoint, over connection: HTTP2ClientConnection,
                       on loop: any EventLoop) async throws -> Bool {
        let body = Array(#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"\#(namespace)","labels":{"app.kubernetes.io/created-by":"watchcache-bench"}}}"#.utf8)
        let (status, response) = try await connection.send("POST", "/api/v1/namespaces", body: body, on: loop)
        switch status {
        case 201: return true
        case 401: throw BenchError(credentialsRefused(endpoint))
        case 403: throw BenchError("\(endpoint.url) refused to create namespace \(namespace) (403\(detail(response))): \(neededRights)")
        default: throw BenchError("creating namespace \(namespace) answered \(status)\(detail(response))")
        }
    }

    /// A pod creation refused for want of rights, with the rights named.
    static func explain(_ error: BenchError) -> BenchError {
        guard error.description.contains(" answered 403") || error.description.contains(" answered 401") else { return error }
        return BenchError("\(error.description): \(neededRights)")
    }

    /// Lists and watches `namespace`'s pods once: reading and watching are rights of their own,
    /// better refused now than on every stream.
    static func checkReadAndWatch(_ namespace: String, at endpoint: APIServerEndpoint, over connection: HTTP2ClientConnection,
                                  on loop: any EventLoop) async throws {
        for (verb, path) in [("list", "/api/v1/namespaces/\(namespace)/pods?limit=1"),
                             ("watch", "/api/v1/namespaces/\(namespace)/pods?watch=true&timeoutSeconds=1")] {
            let (status, response) = try await connection.get(path, on: loop)
            if status == 401 || status == 403 {
                throw BenchError("\(endpoint.url) refused to \(verb) pods in \(namespace) (\(status)\(detail(response))): \(neededRights)")
            }
        }
    }

    /// Deletes `namespace` and so its pods (the server finishes that in the background), over a
    /// connection of its own: the run's may be what failed.
    static func delete(_ namespace: String, at endpoint: APIServerEndpoint, on loop: any EventLoop) async throws {
        let (connection, channel) = try await endpoint.connect(on: loop)
        defer { channel.close(promise: nil) }
        let (status, response) = try await connection.send("DELETE", "/api/v1/namespaces/\(namespace)", body: nil, on: loop)
        guard status == 200 || status == 202 || status == 404 else {
            throw BenchError("deleting namespace \(namespace) answered \(status)\(detail(response)): delete it with `kubectl delete namespace \(namespace)`")
        }
    }

    /// A run that failed and could not clean up after itself: both reasons, and what to do.
    static func leftBehind(_ namespace: String, after failure: any Error, because cleanup: any Error) -> BenchError {
        BenchError("\(failure); namespace \(namespace) is left behind (\(cleanup)): delete it with `kubectl delete namespace \(namespace)`")
    }
}
