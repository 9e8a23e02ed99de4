import NIOCore
import NIOPosix
import WatchCache

/// What the network benchmarks do over their client connections: connect, send a request and
/// collect its whole answer, read `/metrics`, create the workload's pods.
extension HTTP2ClientConnection {
    /// A new cleartext connection to `host:port` on `loop`, and its channel (for closing).
    static func connect(host: String, port: Int, on loop: any EventLoop,
                        initialWindow: UInt32 = 4 << 20) async throws -> (HTTP2ClientConnection, any Channel) {
        try await APIServerEndpoint(host: host, port: port, tls: nil, bearerToken: nil).connect(on: loop, initialWindow: initialWindow)
    }

    /// One request with its whole response body. On the connection's loop.
    func fetch(_ method: String, _ path: String, body: [UInt8]? = nil, completion: @escaping (Int, [UInt8]) -> Void) {
        var status = 0
        var data: [UInt8] = []
        request(method, path, body: body, handler: .init(
            onStatus: { status = $0 }, onData: { data.append(contentsOf: $0) },
            onClose: { _ in completion(status, data) }))
    }

    /// `GET path` from outside the loop: the status and body.
    func get(_ path: String, on loop: any EventLoop) async throws -> (status: Int, body: [UInt8]) {
        let promise = loop.makePromise(of: (status: Int, body: [UInt8]).self)
        try await loop.submit { self.fetch("GET", path) { status, body in promise.succeed((status, body)) } }.get()
        return try await promise.futureResult.get()
    }

    /// Any request from outside the loop: the status and body.
    func send(_ method: String, _ path: String, body: [UInt8]?, on loop: any EventLoop) async throws -> (status: Int, body: [UInt8]) {
        let promise = loop.makePromise(of: (status: Int, body: [UInt8]).self)
        try await loop.submit { self.fetch(method, path, body: body) { status, body in promise.succeed((status, body)) } }.get()
        return try await promise.futureResult.get()
    }

    /// The server's `/metrics`, parsed.
    func scrapeMetrics(on loop: any EventLoop) async throws -> ServerMetrics {
        let (status, body) = try await get("/metrics", on: loop)
        guard status == 200 else { throw BenchError("GET /metrics answered \(status)") }
        return ServerMetrics(parsing: String(decoding: body, as: UTF8.self))
    }

    /// POSTs `count` pods to `namespace`, at most 256 at a time, over the connections
    /// `connection(i)` picks; pods that exist already (409) are kept. `body(i)` runs on `loop`.
    /// With `createNamespace` the namespace is created first if it does not exist.
    static func createPods(count: Int, namespace: String = PodWorkload.namespace, createNamespace: Bool = true, on loop: any EventLoop,
                           connection: @escaping @Sendable (Int) -> HTTP2ClientConnection,
                           body: @escaping @Sendable (Int) -> [UInt8]) async throws {
        guard count > 0 else { return }
        // The namespace first: servers with kube-apiserver's NamespaceLifecycle refuse objects in a
        // namespace that does not exist (409 when it does).
        if createNamespace {
            let namespaceCreated = loop.makePromise(of: Void.self)
            try await loop.submit {
                let body = Array(#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"\#(namespace)"}}"#.utf8)
                connection(0).fetch("POST", "/api/v1/namespaces", body: body) { status, response in
                    if status == 201 || status == 409 {
                        namespaceCreated.succeed(())
                    } else {
                        namespaceCreated.fail(BenchError("creating namespace \(namespace) answered \(status): \(String(decoding: response.prefix(200), as: UTF8.self))"))
                    }
                }
            }.get()
            try await namespaceCreated.futureResult.get()
        }
        let promise = loop.makePromise(of: Void.self)
        try await loop.submit {
            var next = 0, done = 0
            var failure: String?
            func send() {
                guard next < count else { return }
                let i = next
                next += 1
                connection(i).fetch("POST", "/api/v1/namespaces/\(namespace)/pods", body: body(i)) { status, response in
                    if status != 201, status != 409, failure == nil {
                        failure = "creating pod \(i) answered \(status): \(String(decoding: response.prefix(200), as: UTF8.self))"
                    }
                    done += 1
                    if done == count {
                        if let failure { promise.fail(BenchError(failure)) } else { promise.succeed(()) }
                    } else {
                        send()
                    }
                }
            }
            for _ in 0..<min(256, count) { send() }
        }.get()
        try await promise.futureResult.get()
    }
}
