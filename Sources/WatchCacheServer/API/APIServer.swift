import Logging
import Prometheus
import Synchronization
import WatchCache
import WatchCacheSchema

/// The Kubernetes REST API over a ``Registry``: routing, verbs, discovery and errors, independent
/// of any transport. Transports turn bytes into ``APIRequest``s and stream ``APIResponse``s.
public final class APIServer: Sendable {
    public let registry: Registry
    let resources: [String: ResourceDescriptor]
    /// kube-apiserver's write rules for the resources the schema describes.
    let strategies: [ResourceDescriptor: WriteStrategy]
    /// Pods deleted gracefully, until their grace period ends.
    let lifecycle = GracefulDeletions()
    /// Whether the system namespaces are made and creates are admitted by NamespaceLifecycle.
    let namespaceLifecycle: Bool
    /// Whether the system namespaces are stored (set once).
    let systemNamespacesReady = Atomic(false)
    let systemNamespacesSetup = Mutex(())
    let discovery: Discovery
    let openAPI: OpenAPI
    let openAPIV2: OpenAPIV2
    /// Watches without `timeoutSeconds` end after a random time in [T, 2T) (`--min-request-timeout`).
    let minRequestTimeout: Int
    /// When set, every request but health and version needs a valid bearer token (or, with
    /// ``acceptsClientCertificates``, a verified client certificate).
    let authenticator: TokenAuthenticator?
    /// Whether a verified client certificate authenticates a request (and so, whether requests
    /// must be authenticated even without a token file).
    let acceptsClientCertificates: Bool
    /// `/metrics`: the caches' metrics (when they report to it) and the server's own.
    let metrics: MetricsExposition
    let requestMetrics: RequestMetrics
    /// The connection handlers alive on the transports in front of it.
    let connections: ConnectionCensus
    let inFlight: InFlightLimiter
    private let clock = SystemClock()
    let logger: Logger
    /// Log one line per request (verb, path, code, duration), not only failures.
    let logRequests: Bool

    public init(registry: Registry, resources: [ResourceDescriptor], minRequestTimeout: Int = 1800, serverAddress: String,
                authenticator: TokenAuthenticator? = nil, acceptsClientCertificates: Bool = false, logger: Logger = Logger(label: "watchcache"),
                logRequests: Bool = false, maxRequestsInFlight: Int = 400, maxMutatingRequestsInFlight: Int = 200,
                namespaceLifecycle: Bool = true) throws(Status) {
        self.namespaceLifecycle = namespaceLifecycle
        self.registry = registry
        let metrics = MetricsExposition(caches: registry)
        self.metrics = metrics
        self.requestMetrics = RequestMetrics(registry: metrics.registry)
        self.connections = ConnectionCensus(metrics: metrics.registry)
        self.inFlight = InFlightLimiter(readOnly: maxRequestsInFlight, mutating: maxMutatingRequestsInFlight, metrics: metrics.registry)
        self.logger = logger
        self.logRequests = logRequests
        self.authenticator = authenticator
        self.acceptsClientCertificates = acceptsClientCertificates
        var byPath: [String: ResourceDescriptor] = [:]
        var strategies: [ResourceDescriptor: WriteStrategy] = [:]
        for r in resources {
            try registry.register(r)
            byPath["\(r.group)/\(r.version)/\(r.plural)"] = r
            strategies[r] = WriteStrategy(group: r.group, version: r.version, plural: r.plural)
        }
        self.resources = byPath
        self.strategies = strategies
        self.discovery = Discovery(resources: resources, serverAddress: serverAddress)
        self.openAPI = OpenAPI(resources: resources)
        self.openAPIV2 = OpenAPIV2(resources: resources)
        self.minRequestTimeout = minRequestTimeout
        ensureSystemNamespaces()
    }

    /// A swift-metrics factory for the ``Registry`` this server is built over: a swift-prometheus
    /// one over `registry`, with the caches' histogram buckets. The server's `/metrics` shows the
    /// caches' metrics when their registry reports to such a factory (given to the ``Registry``, or
    /// bootstrapped as the process's `MetricsSystem`); otherwise it shows the server's own only.
    public static func makeMetricsFactory(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) -> PrometheusMetricsFactory {
        MetricsExposition.makeFactory(registry: registry)
    }

    static let notFound = Status(code: 404, reason: .notFound, message: "the server could not find the requested resource",
                                 details: .init(causes: [.init(reason: "UnexpectedServerResponse", message: "404 page not found")]))
    static let methodNotAllowed = Status(code: 405, reason: .methodNotAllowed, message: "the server does not allow this method on the requested resource")

    /// Answers `request`; `respond` is called exactly once, maybe later and from another thread
    /// (a LIST at a version the cache has not reached waits for it).
    /// Who sent `request`: its bearer token's user, else its verified client certificate's.
    func authenticate(_ request: APIRequest) -> AuthenticatedUser? {
        if let authenticator, let user = authenticator.authenticate(authorization: request.header("authorization")) { return user }
        return acceptsClientCertificates ? request.certificateUser : nil
    }

    public func handle(_ request: APIRequest, respond: @escaping @Sendable (APIResponse) -> Void) {
        let started = clock.now()
        let route = ResourcePath(request.path)
        let verb = Self.verb(of: request, route: route)
        let metrics = requestMetrics
        let clock = self.clock
        let logger = self.logger
        let logRequests = self.logRequests
        let path = request.path
        // YAML is JSON re-written at the end, for every complete response (errors included).
        let yaml = (try? ResponseForm.negotiate(request.header("accept"), protobuf: true)) == .yaml
        let finish: @Sendable (APIResponse) -> Void = { response in
            var response = response
            if yaml, case .complete(let status, let type, let body, let headers) = response, type == "application/json",
               let converted = YAMLEncoding.convert(body) {
                response = .complete(status: status, contentType: "application/yaml", body: converted, headers: headers)
            }
            let code: Int
            var message: String?
            switch response {
            case .complete(let status, _, let body, _):
                code = status
                if status >= 500 { message = String(decoding: body.prefix(512), as: UTF8.self) }
            case .watch: code = 200
            }
            let seconds = (clock.now() - started).seconds
            metrics.record(verb: verb, code: code, seconds: seconds)
            if let message {
                logger.error("request failed", metadata: ["http.verb": "\(verb)", "http.path": "\(path)", "http.code": "\(code)", "status": "\(message)"])
            } else if logRequests {
                logger.info("request", metadata: ["http.verb": "\(verb)", "http.path": "\(path)", "http.code": "\(code)",
                                                  "duration_ms": "\(Int(seconds * 1000))"])
            }
            respond(response)
        }
        if authenticator != nil || acceptsClientCertificates, !TokenAuthenticator.isPublic(request.path), authenticate(request) == nil {
            finish(.error(TokenAuthenticator.unauthorized))
            return
        }
        // Watches are long-running, and health and metrics must answer under load: none is limited.
        let respond: @Sendable (APIResponse) -> Void
        switch route {
        case .health?, .metrics?:
            respond = finish
        case _ where verb == "WATCH":
            respond = finish
        default:
            let kind = InFlightLimiter.kind(of: request.method)
            guard inFlight.acquire(kind) else {
                finish(.error(InFlightLimiter.tooManyRequests))
                return
            }
            let inFlight = self.inFlight
            respond = { response in
                inFlight.release(kind)
                finish(response)
            }
        }
        do throws(Status) {
            if let immediate = try self.route(request, path: route, respond: respond) { respond(immediate) }
        } catch {
            respond(.error(error))
        }
    }

    /// Returns the response, or nil when `respond` will be called later.
    private func route(_ request: APIRequest, path: ResourcePath?, respond: @escaping @Sendable (APIResponse) -> Void) throws(Status) -> APIResponse? {
        guard let path else { throw Self.notFound }
        let get = request.method == "GET" || request.method == "HEAD"
        switch path {
        case .version:
            guard get else { throw Self.methodNotAllowed }
            return .json(Discovery.version)
        case .health(let check):
            guard get else { throw Self.methodNotAllowed }
            if check == "readyz", !registry.isReady {
                // Listening but still loading the storage: not ready for traffic (liveness is fine).
                return .complete(status: 503, contentType: "text/plain; charset=utf-8",
                                 body: Array("[-]storage-loaded failed: the server is loading its storage\nreadyz check failed\n".utf8),
                                 headers: [("retry-after", "1")])
            }
            return .complete(status: 200, contentType: "text/plain; charset=utf-8", body: Array("ok".utf8))
        case .metrics:
            guard get else { throw Self.methodNotAllowed }
            // Values kept elsewhere are reported now, so the page is of this moment.
            for cache in registry.caches { cache.reportSizes() }
            inFlight.reportInFlight()
            connections.report()
            return .complete(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: metrics.page())
        case .openAPI(let path):
            guard get else { throw Self.methodNotAllowed }
            guard let body = path.map(openAPI.document(at:)) ?? openAPI.root else { throw Self.notFound }
            return .complete(status: 200, contentType: "application/json", body: body)
        case .openAPIV2:
            guard get else { throw Self.methodNotAllowed }
            let form = try OpenAPIV2.negotiate(request.header("accept"))
            let (body, etag) = openAPIV2.body(form)
            return .complete(status: 200, contentType: form == .protobuf ? OpenAPIV2.protobufType : "application/json", body: body,
                             headers: [("vary", "Accept"), ("etag", etag), ("cache-control", "no-cache, private")])
        case .apiVersions, .groupList:
            guard get else { throw Self.methodNotAllowed }
            let core = path == .apiVersions
            if let version = Discovery.aggregatedVersion(request.header("accept")) {
                return .complete(status: 200, contentType: Discovery.aggregatedContentType(version),
                                 body: JSONWriter.encode(discovery.aggregated(core: core, version: version)), headers: [("vary", "Accept")])
            }
            return .json(core ? discovery.apiVersions : discovery.groupList)
        case .group(let name):
            guard get else { throw Self.methodNotAllowed }
            guard let doc = discovery.group(name) else { throw Self.notFound }
            return .json(doc)
        case .resourceList(let group, let version):
            guard get else { throw Self.methodNotAllowed }
            guard let doc = discovery.resourceList(group: group, version: version) else { throw Self.notFound }
            return .json(doc)
        case .resource(let group, let version, let plural, let namespace, let name, let subresource):
            if namespace == nil, name == nil, subresource == nil, AccessReviews.serves(group: group, version: version, plural: plural) {
                return try AccessReviews.answer(request, group: group, plural: plural, user: authenticate(request))
            }
            guard let resource = resources["\(group)/\(version)/\(plural)"], let cache = registry.cache(for: resource) else {
                throw Self.notFound
            }
            if namespace != nil, !resource.namespaced { throw Self.notFound }
            let strategy = strategies[resource]
            if registry.isReady { ensureSystemNamespaces() }
            if let subresource {
                guard let name, let strategy else { throw Self.notFound }
                guard registry.isReady else { throw Registry.loadingStatus }
                return try handleSubresource(subresource, request, resource: resource, strategy: strategy, cache: cache,
                                             namespace: namespace, name: name, respond: respond)
            }
            // Never an empty or partial answer while the storage loads: try again shortly.
            guard registry.isReady else { throw Registry.loadingStatus }
            return try handleResource(request, resource: resource, strategy: strategy, cache: cache, namespace: namespace, name: name,
                                      respond: respond)
        }
    }

    private func handleResource(_ request: APIRequest, resource: ResourceDescriptor, strategy: WriteStrategy?, cache: ResourceCache,
                                namespace: String?, name: String?,
                                respond: @escaping @Sendable (APIResponse) -> Void) throws(Status) -> APIResponse? {
        let dryRun = request.query.contains { $0.0 == "dryRun" && $0.1 == "All" }
        switch (request.method, name) {
        case ("GET", nil), ("HEAD", nil):
            let form = try ResponseForm.negotiate(request.header("accept"), protobuf: strategy != nil)
            let table = try Self.tableConvertor(form, request, resource: resource)
            let protobuf = form == .protobuf ? strategy.map(ProtobufForm.init) : nil
            if try RequestQuery.isWatch(request.query) {
                if form == .yaml { throw ResponseForm.yamlWatch }
                var options = try RequestQuery.watchOptions(request.query, namespace: namespace)
                // Unset or 0 gets the server's default; a negative one stands (the watch ends at once).
                if (options.timeoutSeconds ?? 0) == 0, minRequestTimeout > 0 {
                    options.timeoutSeconds = Int.random(in: minRequestTimeout..<(2 * minRequestTimeout))
                }
                if let protobuf {
                    return .watch(cache, options, transform: protobuf.watchTransform(), contentType: ProtobufResponse.watchContentType)
                }
                return .watch(cache, options, transform: table?.watchTransform())
            }
            let options = try RequestQuery.listOptions(request.query, namespace: namespace)
            // resourceVersion unset: a consistent read (KEP-2340), from a cache that has caught up.
            let consistent = (options.resourceVersion ?? "").isEmpty && (options.continueToken ?? "").isEmpty
            registry.consistentView(of: cache, consistent: consistent) { view in
                let cache: ResourceCache
                switch view {
                case .success(let c): cache = c
                case .failure(let status): return respond(.error(status))
                }
                cache.list(options) { result in
                    switch result {
                    case .success(let list):
                        if let protobuf {
                            do throws(Status) {
                                respond(try protobuf.list(list))
                            } catch {
                                respond(.error(error))
                            }
                            return
                        }
                        respond(.complete(status: 200, contentType: "application/json", body: table?.list(list) ?? list.encoded(for: resource)))
                    case .failure(let status): respond(.error(status))
                    }
                }
            }
            return nil
        case ("GET", let name?), ("HEAD", let name?):
            let form = try ResponseForm.negotiate(request.header("accept"), protobuf: strategy != nil)
            let table = try Self.tableConvertor(form, request, resource: resource)
            let consistent = (request.query.first { $0.0 == "resourceVersion" }?.1 ?? "").isEmpty
            registry.consistentGet(of: cache, namespace: namespace, name: name, consistent: consistent) { found in
                do throws(Status) {
                    guard let object = try found.get() else { throw Status.notFound(resource, name: name) }
                    if let table { return respond(.complete(status: 200, contentType: "application/json", body: table.object(object))) }
                    if form == .protobuf, let strategy { return respond(try ProtobufForm(strategy: strategy).object(object)) }
                    respond(.object(object))
                } catch {
                    respond(.error(error))
                }
            }
            return nil
        case ("POST", nil):
            let validation = try FieldValidationMode(request)
            var duplicates: [String] = []
            var object = try RequestBody.object(request, strategy: strategy, duplicates: &duplicates)
            try admitCreate(object, in: namespace, resource: resource)
            let warnings = WriteWarnings()
            if let strategy {
                warnings.add(try validation.apply(&object, strategy: strategy, duplicates: duplicates))
                strategy.prepareForCreate(&object)
            }
            registry.create(object, in: resource, namespace: namespace, dryRun: dryRun,
                            completion: Self.answer(respond, status: 201, warnings: warnings))
            return nil
        case ("PUT", let name?):
            let validation = try FieldValidationMode(request)
            var duplicates: [String] = []
            var object = try RequestBody.object(request, strategy: strategy, duplicates: &duplicates)
            try Self.checkName(&object, name)
            guard let strategy else {
                registry.update(object, in: resource, namespace: namespace, dryRun: dryRun, completion: Self.answer(respond))
                return nil
            }
            let warnings = WriteWarnings()
            warnings.add(try validation.apply(&object, strategy: strategy, duplicates: duplicates))
            // The strategy needs the current object (its status stays): decided under the write lock.
            registry.modify(resource, namespace: namespace, name: name, dryRun: dryRun,
                            transform: { [object] (current) throws(Status) in
                                var updated = object
                                strategy.prepareForUpdate(&updated, current: current.json)
                                return updated
                            },
                            completion: Self.answer(respond, warnings: warnings))
            return nil
        case ("PATCH", let name?):
            let validation = try FieldValidationMode(request)
            let patch = try RequestPatch(request, strategic: strategy != nil)
            let warnings = WriteWarnings()
            // Applied to the newest state under the write lock, as GuaranteedUpdate does: no lost updates.
            registry.modify(resource, namespace: namespace, name: name, dryRun: dryRun,
                            transform: { (current) throws(Status) in
                                var updated = try Self.patched(current, patch, type: strategy?.type)
                                if let strategy {
                                    warnings.add(try validation.apply(&updated, strategy: strategy, duplicates: patch.duplicates,
                                                                      patch: (name, request.body)))
                                    strategy.prepareForUpdate(&updated, current: current.json)
                                }
                                return updated
                            },
                            completion: Self.answer(respond, warnings: warnings))
            return nil
        case ("DELETE", let name?):
            try delete(resource, strategy: strategy, namespace: namespace, name: name, options: try Self.deletionOptions(request),
                       respond: respond)
            return nil
        case ("DELETE", nil):
            let options = try RequestQuery.listOptions(request.query, namespace: namespace)
            let deletion = try Self.deletionOptions(request)
            let registry = self.registry
            let graceful = strategy?.gracefulDeletion
            let lifecycle = self.lifecycle
            cache.list(ListOptions(labelSelector: options.labelSelector, fieldSelector: options.fieldSelector, namespace: namespace)) { result in
                switch result {
                case .success(let list):
                    Self.deleteAll(list, of: resource, in: registry, options: deletion, graceful: graceful, lifecycle: lifecycle, respond: respond)
                case .failure(let status):
                    respond(.error(status))
                }
            }
            return nil
        default:
            throw Self.methodNotAllowed
        }
    }

    /// A write's completion that answers with the object, or its error.
    static func answer(_ respond: @escaping @Sendable (APIResponse) -> Void, status: Int = 200, warnings: WriteWarnings? = nil)
        -> @Sendable (Result<KubeObject, Status>) -> Void {
        { result in
            switch result {
            case .success(let object):
                respond(.complete(status: status, contentType: "application/json", body: object.encoded, headers: warnings?.headers ?? []))
            case .failure(let error): respond(.error(error))
            }
        }
    }

    /// DELETECOLLECTION: deletes every listed object (those already gone are skipped) and answers
    /// with the deleted ones once every delete is durable.
    private static func deleteAll(_ list: ListResult, of resource: ResourceDescriptor, in registry: Registry, options: DeletionOptions,
                                  graceful: GracefulDeletion?, lifecycle: GracefulDeletions,
                                  respond: @escaping @Sendable (APIResponse) -> Void) {
        let remaining = Atomic(list.items.count + 1)
        let deleted = Mutex<[(Int, KubeObject)]>([])
        let finish: @Sendable () -> Void = {
            guard remaining.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 else { return }
            var answer = list
            answer.items = deleted.withLock { $0.sorted { $0.0 < $1.0 }.map(\.1) }
            answer.resourceVersion = registry.currentVersion
            answer.continueToken = nil
            answer.remainingItemCount = nil
            respond(.complete(status: 200, contentType: "application/json", body: answer.encoded(for: resource)))
        }
        for (index, item) in list.items.enumerated() {
            var itemOptions = options
            itemOptions.resourceVersion = nil
            itemOptions.uid = nil
            registry.delete(resource, namespace: item.namespace.isEmpty ? nil : item.namespace, name: item.name, options: itemOptions,
                            graceful: graceful) { result in
                if case .success(let object) = result {
                    if graceful != nil { lifecycle.track(object) }
                    deleted.withLock { $0.append((index, object)) }
                }
                finish()
            }
        }
        finish()
    }

    /// The verb kube-apiserver's metrics would give the request.
    static func verb(of request: APIRequest, route: ResourcePath?) -> String {
        guard case .resource(_, _, _, _, let name, _)? = route else { return request.method }
        switch (request.method, name) {
        case ("GET", nil): return request.query.contains { $0.0 == "watch" && ($0.1 == "true" || $0.1 == "1") } ? "WATCH" : "LIST"
        case ("DELETE", nil): return "DELETECOLLECTION"
        case ("POST", _): return "CREATE"
        case ("PUT", _): return "UPDATE"
        default: return request.method
        }
    }

    /// The Table convertor when `Accept` asks for the Table form; `nil` for the objects themselves.
    private static func tableConvertor(_ form: ResponseForm, _ request: APIRequest, resource: ResourceDescriptor) throws(Status) -> TableConvertor? {
        guard case .table(let version) = form else { return nil }
        return try TableConvertor(resource: resource, version: version, query: request.query)
    }

    // MARK: - Bodies

    static func checkName(_ object: inout JSONObject, _ name: String) throws(Status) {
        var metadata = object["metadata"]?.objectValue ?? JSONObject()
        let given = metadata["name"]?.stringValue ?? ""
        if given.isEmpty {
            metadata["name"] = .string(name)
            object["metadata"] = .object(metadata)
        } else if given != name {
            throw Status.badRequest("the name of the object (\(given)) does not match the name on the URL (\(name))")
        }
    }

    /// The object after the patch, at the version it was read (a patch that names no version
    /// applies to the current one).
    static func patched(_ current: KubeObject, _ patch: RequestPatch, type: MessageSchema?) throws(Status) -> JSONObject {
        var object = try patch.apply(to: current.json, type: type)
        if var metadata = object["metadata"]?.objectValue, metadata["resourceVersion"] == current.json["metadata"]?["resourceVersion"] {
            metadata["resourceVersion"] = nil
            object["metadata"] = .object(metadata)
        }
        return object
    }

}

