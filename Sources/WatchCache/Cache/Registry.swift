import Logging
import Synchronization

/// The resources of one server (or embedding program): a ``ResourceCache`` per resource, one
/// global resource version across them, and the write path — create, update, delete with
/// kube-apiserver's checks and server-set metadata — in front of a ``Storage``.
///
/// Writes are serialised: each gets the next version, is persisted, then applied to its cache and
/// fanned out; every other cache's version advances with it, so bookmarks on quiet resources move.
public final class Registry: Sendable {
    public let configuration: CacheConfiguration
    let clock: any WatchClock
    let storage: any Storage
    let logger: Logger
    private let state: Mutex<RegistryState>
    private let recovered: StorageRecovery

    private struct RegistryState {
        var version: ResourceVersion
        var caches: [String: ResourceCache] = [:]
        var order: [ResourceCache] = []
    }

    /// A registry over `storage`, starting from what it recovers.
    public init(storage: any Storage = InMemoryStorage(), configuration: CacheConfiguration = CacheConfiguration(),
                clock: any WatchClock = SystemClock(), logger: Logger = Logger(label: "watchcache")) throws {
        self.storage = storage
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        recovered = try storage.recover()
        state = Mutex(RegistryState(version: recovered.version))
    }

    /// The newest version written.
    public var currentVersion: ResourceVersion { state.withLock { $0.version } }

    /// Adds `resource` (idempotent) and returns its cache, holding whatever the storage recovered for it.
    @discardableResult
    public func register(_ resource: ResourceDescriptor) throws(Status) -> ResourceCache {
        try state.withLock { (s: inout RegistryState) throws(Status) -> ResourceCache in
            if let existing = s.caches[resource.description] { return existing }
            var objects: [KubeObject] = []
            for bytes in recovered.objects[resource.description] ?? [] {
                objects.append(try KubeObject(bytes: bytes, resource: resource))
            }
            let cache = ResourceCache(resource: resource, configuration: configuration, clock: clock,
                                      version: s.version, objects: objects, logger: logger)
            s.caches[resource.description] = cache
            s.order.append(cache)
            return cache
        }
    }

    /// The cache of `resource`, if registered.
    public func cache(for resource: ResourceDescriptor) -> ResourceCache? {
        state.withLock { $0.caches[resource.description] }
    }

    /// Every registered cache, in registration order.
    public var caches: [ResourceCache] { state.withLock { $0.order } }

    // MARK: - Writes

    /// Creates an object. Sets `metadata.resourceVersion`, `uid`, `creationTimestamp` and `generation`
    /// (and `name` from `generateName`). 409 AlreadyExists if the name is taken; 400 if the object
    /// sets `resourceVersion` or names another namespace than `namespace`.
    /// With `dryRun`, validates and answers but stores and emits nothing.
    public func create(_ json: JSONObject, in resource: ResourceDescriptor, namespace: String? = nil,
                       dryRun: Bool = false) throws(Status) -> KubeObject {
        let cache = try registeredCache(resource)
        var object = json
        var metadata = object["metadata"]?.objectValue ?? JSONObject()
        if let rv = metadata["resourceVersion"]?.stringValue, !rv.isEmpty {
            throw Status.badRequest("resourceVersion should not be set on objects to be created")
        }
        if (metadata["name"]?.stringValue ?? "").isEmpty, let prefix = metadata["generateName"]?.stringValue, !prefix.isEmpty {
            metadata["name"] = .string(prefix + Self.randomSuffix())
        }
        try Self.scope(&metadata, to: namespace, resource: resource)
        metadata["uid"] = .string(Self.randomUID())
        metadata["creationTimestamp"] = .string(WallClock.rfc3339Now())
        metadata["generation"] = .number("1")
        Self.setTypeMeta(&object, resource)

        var effects = DeferredEffects()
        defer { effects.run(logger: logger) }
        return try state.withLock { (s: inout RegistryState) throws(Status) -> KubeObject in
            let version = s.version.next
            metadata["resourceVersion"] = .string(version.description)
            object["metadata"] = .object(metadata)
            let stored = try KubeObject(json: object, resource: resource)
            if cache.get(namespace: stored.namespace, name: stored.name) != nil {
                throw Status.alreadyExists(resource, name: stored.name)
            }
            if dryRun { return stored }
            try commit(.put(stored), to: cache, version: version, in: &s, effects: &effects)
            return stored
        }
    }

    /// Replaces an object. 404 if it does not exist; 409 Conflict if `metadata.resourceVersion` is
    /// set and not the current one (an empty one updates unconditionally). Keeps `uid` and
    /// `creationTimestamp`; bumps `generation` when anything outside `metadata` and `status` changed.
    public func update(_ json: JSONObject, in resource: ResourceDescriptor, namespace: String? = nil,
                       dryRun: Bool = false) throws(Status) -> KubeObject {
        let cache = try registeredCache(resource)
        var object = json
        var metadata = object["metadata"]?.objectValue ?? JSONObject()
        try Self.scope(&metadata, to: namespace, resource: resource)
        guard let name = metadata["name"]?.stringValue, !name.isEmpty else {
            throw Status.invalid(kind: resource.kind, group: resource.group, name: "",
                                 errors: [FieldError(field: "metadata.name", type: .required, detail: "name or generateName is required")])
        }
        let expected = metadata["resourceVersion"]?.stringValue ?? ""
        Self.setTypeMeta(&object, resource)

        var effects = DeferredEffects()
        defer { effects.run(logger: logger) }
        return try state.withLock { (s: inout RegistryState) throws(Status) -> KubeObject in
            guard let current = cache.get(namespace: metadata["namespace"]?.stringValue, name: name) else {
                throw Status.notFound(resource, name: name)
            }
            if !expected.isEmpty, expected != current.resourceVersion.description {
                throw Status.conflict(resource, name: name)
            }
            let currentJSON = current.json
            let currentMetadata = currentJSON["metadata"]?.objectValue ?? JSONObject()
            for key in ["uid", "creationTimestamp"] { metadata[key] = currentMetadata[key] }
            let generation = current.generation ?? 1
            metadata["generation"] = .number(String(Self.specChanged(currentJSON, object) ? generation + 1 : generation))
            let version = s.version.next
            metadata["resourceVersion"] = .string(version.description)
            object["metadata"] = .object(metadata)
            let stored = try KubeObject(json: object, resource: resource)
            if dryRun { return stored }
            try commit(.put(stored), to: cache, version: version, in: &s, effects: &effects)
            return stored
        }
    }

    /// Deletes an object and returns its last state (with the deletion's version). 404 if it does
    /// not exist; 409 Conflict if `precondition` (a resourceVersion) does not match.
    public func delete(_ resource: ResourceDescriptor, namespace: String?, name: String,
                       precondition: String? = nil, dryRun: Bool = false) throws(Status) -> KubeObject {
        let cache = try registeredCache(resource)
        var effects = DeferredEffects()
        defer { effects.run(logger: logger) }
        return try state.withLock { (s: inout RegistryState) throws(Status) -> KubeObject in
            guard let current = cache.get(namespace: namespace, name: name) else {
                throw Status.notFound(resource, name: name)
            }
            if let precondition, !precondition.isEmpty, precondition != current.resourceVersion.description {
                throw Status.preconditionFailed(resource, name: name, expected: precondition, actual: current.resourceVersion)
            }
            let version = s.version.next
            let final = current.withResourceVersion(version)
            if dryRun { return final }
            try commit(.delete(final), to: cache, version: version, in: &s, effects: &effects)
            return final
        }
    }

    private func commit(_ change: Change, to cache: ResourceCache, version: ResourceVersion,
                        in s: inout RegistryState, effects: inout DeferredEffects) throws(Status) {
        do {
            try storage.persist(StoredWrite(resource: cache.resource, change: change))
        } catch {
            throw Status.internalError("storage did not persist the write: \(error)")
        }
        s.version = version
        try cache.apply(change, effects: &effects)
        for other in s.order where other !== cache { other.advance(to: version, effects: &effects) }
    }

    private func registeredCache(_ resource: ResourceDescriptor) throws(Status) -> ResourceCache {
        guard let cache = cache(for: resource) else {
            throw Status(code: 404, reason: .notFound, message: "the server could not find the requested resource (\(resource.qualifiedPlural))")
        }
        return cache
    }

    // MARK: - Time

    /// Runs every cache's time-driven work (bookmarks, deadlines, slow watchers, waiting reads).
    public func tick() {
        for cache in caches { cache.tick() }
    }

    /// Calls ``tick()`` every `interval` until the task is cancelled.
    public func run(every interval: Duration = .milliseconds(100)) async {
        while !Task.isCancelled {
            tick()
            try? await Task.sleep(for: interval)
        }
    }

    /// Closes every cache, ending their watches.
    public func close() {
        for cache in caches { cache.close() }
    }

    // MARK: - Metadata helpers

    private static func scope(_ metadata: inout JSONObject, to namespace: String?, resource: ResourceDescriptor) throws(Status) {
        guard resource.namespaced else {
            metadata["namespace"] = nil
            return
        }
        let given = metadata["namespace"]?.stringValue ?? ""
        if let namespace, !namespace.isEmpty {
            if !given.isEmpty, given != namespace {
                throw Status.badRequest("the namespace of the provided object does not match the namespace sent on the request")
            }
            metadata["namespace"] = .string(namespace)
        } else if given.isEmpty {
            metadata["namespace"] = .string("default")
        }
    }

    private static func setTypeMeta(_ object: inout JSONObject, _ resource: ResourceDescriptor) {
        if object["kind"] == nil { object["kind"] = .string(resource.kind) }
        if object["apiVersion"] == nil { object["apiVersion"] = .string(resource.apiVersion) }
    }

    /// Whether anything but `metadata` and `status` differs.
    private static func specChanged(_ a: JSONObject, _ b: JSONObject) -> Bool {
        var a = a, b = b
        for key in ["metadata", "status", "kind", "apiVersion"] { a[key] = nil; b[key] = nil }
        return Set(a.keys) != Set(b.keys) || a.keys.contains { a[$0] != b[$0] }
    }

    private static func randomUID() -> String {
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255) }
        bytes[6] = bytes[6] & 0x0F | 0x40
        bytes[8] = bytes[8] & 0x3F | 0x80
        let hex = bytes.map { String($0, radix: 16).leftPadded(to: 2) }.joined()
        let h = Array(hex)
        return [h[0..<8], h[8..<12], h[12..<16], h[16..<20], h[20..<32]].map { String($0) }.joined(separator: "-")
    }

    private static func randomSuffix() -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return String((0..<5).map { _ in alphabet.randomElement()! })
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
