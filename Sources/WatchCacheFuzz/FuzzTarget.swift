import Dispatch
import Logging
import NIOCore
import NIOEmbedded
import WatchCache
import WatchCacheServer

/// The parsers and protocol handlers that take bytes from clients, each as a function of one input
/// for a fuzzer (`scripts/fuzz.sh TARGET SECONDS`, libFuzzer) or a replay (`watchcache-fuzz TARGET
/// FILE...`, the seed corpora in the tests). An input either is refused with an error or is
/// handled; a crash, a hang or a broken invariant (`precondition`) is a finding.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// The JSON parser; what it accepts is written back and must parse to the same value.
    case json
    /// Label selectors, matched against a fixed label set.
    case labelSelector = "label-selector"
    /// Field selectors of pods, matched against a fixed pod.
    case fieldSelector = "field-selector"
    /// A LIST/WATCH query string: parsing and validation of every option.
    case query
    /// A continue token given to a LIST of a cache with objects and history.
    case continueToken = "continue-token"
    /// One API request (method, path and query, content type and body chosen by the input) on a
    /// fresh registry with a pod and a deployment: JSON, merge, strategic merge and JSON patch,
    /// protobuf bodies, creates, updates, deletes, collection deletes, lists with selectors.
    case request
    /// The bytes of an HTTP/1.1 connection, through the server's cleartext pipeline.
    case http1
    /// The bytes of an HTTP/2 connection after the client preface, through libnghttp2 and the
    /// server's handler.
    case http2

    /// Runs the target on one input.
    public func run(_ bytes: UnsafeRawBufferPointer) {
        switch self {
        case .json: Self.json(bytes)
        case .labelSelector: Self.labelSelector(String(decoding: bytes, as: UTF8.self))
        case .fieldSelector: Self.fieldSelector(String(decoding: bytes, as: UTF8.self))
        case .query: Self.query(String(decoding: bytes, as: UTF8.self))
        case .continueToken: Self.continueToken(String(decoding: bytes, as: UTF8.self))
        case .request: Self.request(Array(bytes))
        case .http1: Self.connection(Array(bytes), prefix: [])
        case .http2: Self.connection(Array(bytes), prefix: Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8))
        }
    }

    public func run(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { run($0) }
    }

    // MARK: - Parsers

    static func json(_ bytes: UnsafeRawBufferPointer) {
        guard let value = try? JSONParser.parse(bytes) else { return }
        let written = JSONWriter.encode(value)
        guard let again = try? JSONParser.parse(written) else {
            preconditionFailure("the JSON written back does not parse: \(String(decoding: written, as: UTF8.self))")
        }
        precondition(again == value, "the JSON written back parses to another value")
    }

    static let labels = LabelSet(["app": "web", "tier": "front", "env": "prod", "version": "1.2"])

    static func labelSelector(_ text: String) {
        guard let selector = try? LabelSelector(parsing: text) else { return }
        _ = selector.matches(labels)
        _ = selector.matches(LabelSet([:]))
    }

    static let pod: KubeObject = {
        let json = #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default","resourceVersion":"3","labels":{"app":"web"}},"spec":{"nodeName":"n1","restartPolicy":"Always","schedulerName":"default-scheduler","serviceAccountName":"default"},"status":{"phase":"Running","podIP":"10.0.0.1"}}"#
        return try! KubeObject(json: try! JSONObject(parsing: json), resource: .pods)
    }()

    static func fieldSelector(_ text: String) {
        guard let selector = try? FieldSelector(parsing: text, for: .pods) else { return }
        _ = selector.matches(pod)
    }

    /// Parsed, then validated by starting the watch or the LIST it asks for on a cache of one pod.
    static func query(_ text: String) {
        let query = APIRequest(method: "GET", target: "/api/v1/pods?" + text).query
        let clock = ManualClock()
        let cache = ResourceCache(resource: .pods, clock: clock, version: ResourceVersion(3), objects: [pod])
        defer { cache.close() }
        if (try? RequestQuery.isWatch(query)) == true {
            guard let options = try? RequestQuery.watchOptions(query, namespace: "default"),
                  let watcher = try? cache.watch(options, onReady: {}) else { return }
            _ = watcher.next(maxEvents: 10)
            watcher.cancel()
        } else {
            guard let options = try? RequestQuery.listOptions(query, namespace: nil) else { return }
            let done = DispatchSemaphore(value: 0)
            cache.list(options) { _ in done.signal() }
            settle(done, clock: clock, tick: cache.tick)
        }
    }

    /// Waits for an answer; one waiting for a version the cache never reaches gets its 504 once
    /// the (manual) clock has moved past the wait.
    static func settle(_ done: DispatchSemaphore, clock: ManualClock, tick: () -> Void) {
        guard done.wait(timeout: .now() + .milliseconds(50)) == .timedOut else { return }
        clock.advance(by: .seconds(60))
        tick()
        done.wait()
    }

    static func continueToken(_ token: String) {
        let clock = ManualClock()
        let cache = ResourceCache(resource: .pods, clock: clock, version: ResourceVersion(3), objects: [pod])
        defer { cache.close() }
        let done = DispatchSemaphore(value: 0)
        cache.list(ListOptions(limit: 1, continueToken: token)) { _ in done.signal() }
        settle(done, clock: clock, tick: cache.tick)
    }

    // MARK: - Requests and connections

    /// A registry and API with a pod and a deployment in `default`.
    static func api(resources: [ResourceDescriptor], clock: ManualClock = ManualClock()) -> APIServer {
        let registry = try! Registry(clock: clock, logger: quiet)
        let api = try! APIServer(registry: registry, resources: resources, serverAddress: "fuzz", logger: quiet, namespaceLifecycle: false)
        _ = try! registry.create(try! JSONObject(parsing: #"{"metadata":{"name":"p0","labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"i"}]}}"#),
                                 in: .pods, namespace: "default")
        if resources.contains(.deployments) {
            _ = try! registry.create(try! JSONObject(parsing: #"{"metadata":{"name":"d0"},"spec":{"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}"#),
                                     in: .deployments, namespace: "default")
        }
        return api
    }

    /// Refused requests are what fuzzing makes all day: logging each would be most of the work.
    static let quiet: Logger = {
        var logger = Logger(label: "watchcache-fuzz")
        logger.logLevel = .critical
        return logger
    }()

    static let methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]
    static let contentTypes = ["application/json", "application/merge-patch+json", "application/strategic-merge-patch+json",
                               "application/json-patch+json", "application/vnd.kubernetes.protobuf", "application/apply-patch+yaml"]
    static let paths = ["/api/v1/namespaces/default/pods/p0", "/api/v1/namespaces/default/pods", "/api/v1/pods",
                        "/apis/apps/v1/namespaces/default/deployments/d0", "/apis/apps/v1/namespaces/default/deployments",
                        "/api/v1/namespaces/default/pods/p0/status", "/apis/apps/v1/namespaces/default/deployments/d0/scale",
                        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
                        "/apis/authentication.k8s.io/v1/selfsubjectreviews"]

    /// Input: method, content type, path (one byte each, modulo their lists), the query's length
    /// (one byte), the query, then the body.
    static func request(_ bytes: [UInt8]) {
        guard bytes.count >= 4 else { return }
        let method = methods[Int(bytes[0]) % methods.count]
        let contentType = contentTypes[Int(bytes[1]) % contentTypes.count]
        let path = paths[Int(bytes[2]) % paths.count]
        let queryLength = min(Int(bytes[3]), bytes.count - 4)
        let query = String(decoding: bytes[4..<(4 + queryLength)], as: UTF8.self)
        let body = Array(bytes[(4 + queryLength)...])
        let clock = ManualClock()
        let api = Self.api(resources: [.pods, .deployments], clock: clock)
        defer { api.registry.close() }
        let request = APIRequest(method: method, target: query.isEmpty ? path : path + "?" + query,
                                 headers: [("content-type", contentType), ("accept", "application/json")], body: body)
        let done = DispatchSemaphore(value: 0)
        api.handle(request) { response in
            if case .watch(let cache, let options, _, _) = response, let w = try? cache.watch(options, onReady: {}) {
                _ = w.next(maxEvents: 100)
                w.cancel()
            }
            done.signal()
        }
        settle(done, clock: clock, tick: api.registry.tick)
    }

    /// Feeds `prefix + bytes` to a new connection on an in-memory channel, runs what it asked for,
    /// reads what the server wrote, and closes it.
    static func connection(_ bytes: [UInt8], prefix: [UInt8]) {
        let api = Self.api(resources: [.pods])
        let channel = EmbeddedChannel()
        do {
            try Server.configureConnection(channel, api: api)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8080)).wait()
            // In pieces, as a network delivers them: every boundary is a place for a parser to go wrong.
            let all = prefix + bytes
            var offset = 0
            var piece = 1
            while offset < all.count, channel.isActive {
                let end = min(all.count, offset + piece)
                try channel.writeInbound(channel.allocator.buffer(bytes: all[offset..<end]))
                offset = end
                piece = piece * 3 + 1
            }
            channel.embeddedEventLoop.run()
            while (try channel.readOutbound(as: ByteBuffer.self)) != nil {}
            channel.embeddedEventLoop.advanceTime(by: .seconds(200))  // every timer fires: idle, header timeouts
            while (try channel.readOutbound(as: ByteBuffer.self)) != nil {}
        } catch {
            // Refused input (a pipeline error) is an answer, not a finding.
        }
        // As a server ends: the caches close (watches end, their last wake-ups are delivered on the
        // connection's loop), then the connection goes.
        api.registry.close()
        channel.embeddedEventLoop.run()
        _ = try? channel.finish(acceptAlreadyClosed: true)
        channel.embeddedEventLoop.run()
    }
}
