import Dispatch
import Logging
import Synchronization

/// The resources of one server (or embedding program): a ``ResourceCache`` per resource, one
/// global resource version across them, and the write path — create, update, delete with
/// kube-apiserver's checks and server-set metadata — in front of a ``Storage``.
///
/// Writes are ordered: each gets the next version, is persisted, then applied to its cache and
/// fanned out, and only then acknowledged; every other cache's version advances with it, so
/// bookmarks on quiet resources move. With a storage that waits for a disk, the checks and the
/// version happen on the writer's thread against the newest *staged* state (so concurrent writers
/// conflict as they should), and one committer persists the staged writes in groups — one disk
/// sync for many writers — then applies and acknowledges them in order.
public final class Registry: Sendable {
    public let configuration: CacheConfiguration
    let clock: any WatchClock
    let storage: any Storage
    let logger: Logger
    /// The random suffix of names made from `generateName`.
    let generatedNameSuffix: @Sendable () -> String
    private let state: Mutex<RegistryState>
    private let ready = Atomic(false)
    /// Runs ``drainCommits()`` for storages that do not persist inline.
    private let committer = DispatchQueue(label: "watchcache.registry.committer", qos: .userInitiated)
    /// The most writes one commit takes.
    static let maximumBatch = 1_000
    /// How many names a create from `generateName` tries.
    static let generateNameTries = 8

    private struct RegistryState {
        /// The newest version applied (persisted and fanned out).
        var version: ResourceVersion
        /// The newest version handed out; above ``version`` while writes wait for the committer.
        var assigned: ResourceVersion
        var caches: [String: ResourceCache] = [:]
        var order: [ResourceCache] = []
        /// What the storage held, for resources not registered yet; `nil` until recovered.
        var recovered: StorageRecovery?
        /// Writes waiting for the committer, in version order.
        var pending: [PendingWrite] = []
        /// The newest staged state of objects with pending writes (resource and key → state).
        var staged: [String: StagedObject] = [:]
        var committing = false
    }

    private struct PendingWrite {
        let write: StoredWrite
        let cache: ResourceCache
        let stagedKey: String
        let result: KubeObject
        let completion: @Sendable (Result<KubeObject, Status>) -> Void
    }

    private struct StagedObject {
        let version: ResourceVersion
        /// `nil` once a pending write deletes it.
        let object: KubeObject?
    }

    /// A registry over `storage`. With `recover` (the default) it loads what the storage holds
    /// now; otherwise it answers writes with 503 until ``recover()`` is called (a server that
    /// listens while it loads).
    /// `generatedNameSuffix` makes the random part of names from `generateName` (tests give their
    /// own to make names collide).
    public init(storage: any Storage = InMemoryStorage(), configuration: CacheConfiguration = CacheConfiguration(),
                clock: any WatchClock = SystemClock(), logger: Logger = Logger(label: "watchcache"), recover: Bool = true,
                generatedNameSuffix: (@Sendable () -> String)? = nil) throws {
        self.generatedNameSuffix = generatedNameSuffix ?? Registry.randomSuffix
        self.storage = storage
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        state = Mutex(RegistryState(version: .zero, assigned: .zero))
        if recover { try self.recover() }
    }

    /// Loads the objects, the version and the recent history from the storage into every cache
    /// (registered or to be), then accepts requests. Call once.
    public func recover() throws {
        let recovered = try storage.recover(historyLimit: configuration.history.maximumEvents)
        try state.withLock { (s: inout RegistryState) throws(Status) in
            precondition(s.recovered == nil, "recover() is called once")
            s.version = recovered.version
            s.assigned = recovered.version
            s.recovered = recovered
            for cache in s.order {
                let (objects, history, floor) = try Self.take(cache.resource, from: &s.recovered!)
                try cache.restore(version: s.version, objects: objects, history: history, historyFloor: floor)
            }
        }
        ready.store(true, ordering: .releasing)
    }

    /// Whether the storage has been recovered: until then the caches are empty and writes get
    /// ``loadingStatus``.
    public var isReady: Bool { ready.load(ordering: .acquiring) }

    /// 503 ServiceUnavailable with `Retry-After: 1`: what requests get while the storage loads.
    public static let loadingStatus = Status(code: 503, reason: .serviceUnavailable, message: "the server is loading its storage, please try again later",
                                      details: .init(retryAfterSeconds: 1))

    /// The newest version written (persisted and applied).
    public var currentVersion: ResourceVersion { state.withLock { $0.version } }

    /// Adds `resource` (idempotent) and returns its cache, holding whatever the storage recovered for it.
    @discardableResult
    public func register(_ resource: ResourceDescriptor) throws(Status) -> ResourceCache {
        try state.withLock { (s: inout RegistryState) throws(Status) -> ResourceCache in
            if let existing = s.caches[resource.description] { return existing }
            let cache = ResourceCache(resource: resource, configuration: configuration, clock: clock,
                                      version: s.version, archive: storage.keepsHistory ? storage : nil, logger: logger)
            if s.recovered != nil {
                let (objects, history, floor) = try Self.take(resource, from: &s.recovered!)
                // Registered after writes since the recovery: like a cache started later, its window
                // begins now (older versions replay from the archive, if any, or get 410).
                let fresh = s.version == s.recovered!.version
                try cache.restore(version: s.version, objects: objects, history: fresh ? history : [], historyFloor: fresh ? floor : s.version)
            }
            s.caches[resource.description] = cache
            s.order.append(cache)
            return cache
        }
    }

    /// Parses (and removes from `recovery`) what was stored for `resource`.
    private static func take(_ resource: ResourceDescriptor, from recovery: inout StorageRecovery) throws(Status)
        -> (objects: [KubeObject], history: [StoredEvent], floor: ResourceVersion) {
        let objects = try KubeObject.parseAll(recovery.objects.removeValue(forKey: resource.description) ?? [], resource: resource)
        let history = recovery.history.removeValue(forKey: resource.description) ?? []
        return (objects, history, recovery.historyFloor)
    }

    /// The cache of `resource`, if registered.
    public func cache(for resource: ResourceDescriptor) -> ResourceCache? {
        state.withLock { $0.caches[resource.description] }
    }

    /// Every registered cache, in registration order.
    public var caches: [ResourceCache] { state.withLock { $0.order } }

    // MARK: - Writes

    /// Creates an object. Sets `metadata.resourceVersion`, `uid`, `creationTimestamp` and `generation`
    /// (and `name` from `generateName`: a name taken is generated again, up to 8 tries, as
    /// kube-apiserver 1.32 does). 409 AlreadyExists if the name is taken; 400 if the object sets
    /// `resourceVersion` or names another namespace than `namespace`. Deletion fields
    /// (`deletionTimestamp`, `deletionGracePeriodSeconds`) are dropped.
    /// With `dryRun`, validates and answers but stores and emits nothing. Returns once the write is
    /// durable and fanned out.
    public func create(_ json: JSONObject, in resource: ResourceDescriptor, namespace: String? = nil,
                       dryRun: Bool = false) throws(Status) -> KubeObject {
        try Self.wait { create(json, in: resource, namespace: namespace, dryRun: dryRun, completion: $0) }
    }

    /// ``create(_:in:namespace:dryRun:)`` without waiting: `completion` gets the result once the
    /// write is durable and fanned out (at once for errors, dry runs and in-memory storage).
    public func create(_ json: JSONObject, in resource: ResourceDescriptor, namespace: String? = nil, dryRun: Bool = false,
                       completion: @escaping @Sendable (Result<KubeObject, Status>) -> Void) {
        var object = json
        var metadata = object["metadata"]?.objectValue ?? JSONObject()
        var generateFrom: String?
        let suffix = generatedNameSuffix
        do throws(Status) {
            if let rv = metadata["resourceVersion"]?.stringValue, !rv.isEmpty {
                throw Status.badRequest("resourceVersion should not be set on objects to be created")
            }
            if (metadata["name"]?.stringValue ?? "").isEmpty, let prefix = metadata["generateName"]?.stringValue, !prefix.isEmpty {
                generateFrom = prefix
                metadata["name"] = .string(prefix + suffix())
            }
            try Self.scope(&metadata, to: namespace, resource: resource)
        } catch {
            return completion(.failure(error))
        }
        metadata["uid"] = .string(Self.randomUID())
        metadata["creationTimestamp"] = .string(WallClock.rfc3339Now())
        metadata["generation"] = .number("1")
        metadata["deletionTimestamp"] = nil
        metadata["deletionGracePeriodSeconds"] = nil
        Self.setTypeMeta(&object, resource)

        submit(resource, dryRun: dryRun, completion: completion) { (current, version) throws(Status) in
            metadata["resourceVersion"] = .string(version.description)
            var tries = 1
            while true {
                object["metadata"] = .object(metadata)
                let stored = try KubeObject(json: object, resource: resource)
                guard current(stored.namespace, stored.name) != nil else { return (.put(stored), stored, nil) }
                // A generated name that is taken: another one, as kube-apiserver retries (8 tries).
                guard let prefix = generateFrom, tries < Self.generateNameTries else {
                    throw Status.alreadyExists(resource, name: stored.name)
                }
                tries += 1
                metadata["name"] = .string(prefix + suffix())
            }
        }
    }

    /// Replaces an object. 404 if it does not exist; 409 Conflict if `metadata.resourceVersion` is
    /// set and not the current one (an empty one updates unconditionally). Keeps `uid` and
    /// `creationTimestamp`; bumps `generation` when anything outside `metadata` and `status` changed.
    public func update(_ json: JSONObject, in resource: ResourceDescriptor, namespace: String? = nil,
                       dryRun: Bool = false) throws(Status) -> KubeObject {
        try Self.wait { update(json, in: resource, namespace: namespace, dryRun: dryRun, completion: $0) }
    }

    /// ``update(_:in:namespace:dryRun:)`` without waiting (see ``create(_:in:namespace:dryRun:completion:)``).
    public func update(_ json: JSONObject, in resource: ResourceDescriptor, namespace: String? = nil, dryRun: Bool = false,
                       completion: @escaping @Sendable (Result<KubeObject, Status>) -> Void) {
        var object = json
        var metadata = object["metadata"]?.objectValue ?? JSONObject()
        let name: String
        do throws(Status) {
            try Self.scope(&metadata, to: namespace, resource: resource)
            guard let given = metadata["name"]?.stringValue, !given.isEmpty else {
                throw Status.invalid(kind: resource.kind, group: resource.group, name: "",
                                     errors: [FieldError(field: "metadata.name", type: .required, detail: "name or generateName is required")])
            }
            name = given
        } catch {
            return completion(.failure(error))
        }
        let expected = metadata["resourceVersion"]?.stringValue ?? ""
        Self.setTypeMeta(&object, resource)

        submit(resource, dryRun: dryRun, completion: completion) { (current, version) throws(Status) in
            guard let existing = current(metadata["namespace"]?.stringValue, name) else {
                throw Status.notFound(resource, name: name)
            }
            if !expected.isEmpty, expected != existing.resourceVersion.description {
                throw Status.conflict(resource, name: name)
            }
            return try Self.updateDecision(existing, object, metadata: metadata, version: version)
        }
    }

    /// ``modify(_:namespace:name:dryRun:transform:completion:)`` for the writes that run a
    /// deletion: `transform` may set `deletionTimestamp` (a namespace starting to terminate) where
    /// any other update keeps it as it was.
    public func terminate(_ resource: ResourceDescriptor, namespace: String?, name: String, dryRun: Bool = false,
                          transform: (KubeObject) throws(Status) -> JSONObject,
                          completion: @escaping @Sendable (Result<KubeObject, Status>) -> Void) {
        modify(resource, namespace: namespace, name: name, dryRun: dryRun, setsDeletion: true, transform: transform, completion: completion)
    }

    /// Changes an object starting from its newest state, as kube-apiserver's `GuaranteedUpdate`
    /// does for PATCH: `transform` gets that state (staged writes included, so concurrent writers
    /// never lose an update) and returns the new object; the rest is ``update(_:in:namespace:dryRun:)``.
    /// A `metadata.resourceVersion` left in the result must still be the current one (409 otherwise).
    public func modify(_ resource: ResourceDescriptor, namespace: String?, name: String, dryRun: Bool = false,
                       transform: (KubeObject) throws(Status) -> JSONObject,
                       completion: @escaping @Sendable (Result<KubeObject, Status>) -> Void) {
        modify(resource, namespace: namespace, name: name, dryRun: dryRun, setsDeletion: false, transform: transform, completion: completion)
    }

    private func modify(_ resource: ResourceDescriptor, namespace: String?, name: String, dryRun: Bool, setsDeletion: Bool,
                        transform: (KubeObject) throws(Status) -> JSONObject,
                        completion: @escaping @Sendable (Result<KubeObject, Status>) -> Void) {
        submit(resource, dryRun: dryRun, completion: completion) { (current, version) throws(Status) in
            guard let existing = current(namespace, name) else {
                throw Status.notFound(resource, name: name)
            }
            var object = try transform(existing)
            var metadata = object["metadata"]?.objectValue ?? JSONObject()
            try Self.scope(&metadata, to: namespace, resource: resource)
            let given = metadata["name"]?.stringValue ?? ""
            if given.isEmpty {
                metadata["name"] = .string(name)
            } else if given != name {
                throw Status.badRequest("the name of the object (\(given)) does not match the name on the URL (\(name))")
            }
            if let expected = metadata["resourceVersion"]?.stringValue, !expected.isEmpty, expected != existing.resourceVersion.description {
                throw Status.conflict(resource, name: name)
            }
            Self.setTypeMeta(&object, resource)
            return try Self.updateDecision(existing, object, metadata: metadata, version: version, setsDeletion: setsDeletion)
        }
    }

    /// An update of `existing` to `object` at `version`: `uid`, `creationTimestamp` and the deletion
    /// fields kept, `generation` bumped when anything outside `metadata` and `status` changed. On
    /// an object being deleted no finalizer may be added, and the update that removes the last
    /// finalizer deletes it (kube-apiserver's `ShouldDeleteDuringUpdate`; a namespace also waits
    /// for its `spec.finalizers`).
    private static func updateDecision(_ existing: KubeObject, _ object: JSONObject, metadata: JSONObject,
                                       version: ResourceVersion, setsDeletion: Bool = false) throws(Status) -> Decision {
        var object = object
        var metadata = metadata
        let existingJSON = existing.json
        let existingMetadata = existingJSON["metadata"]?.objectValue ?? JSONObject()
        for key in ["uid", "creationTimestamp"] { metadata[key] = existingMetadata[key] }
        if !setsDeletion {
            for key in ["deletionTimestamp", "deletionGracePeriodSeconds"] { metadata[key] = existingMetadata[key] }
        }
        let deleting = existingMetadata["deletionTimestamp"] != nil && existingMetadata["deletionTimestamp"] != .null
        let finalizers = Self.finalizers(metadata)
        if deleting {
            let existingFinalizers = Set(Self.finalizers(existingMetadata))
            let added = finalizers.filter { !existingFinalizers.contains($0) }
            if !added.isEmpty {
                throw Status.invalid(kind: existing.resource.kind, group: existing.resource.group, name: existing.name, errors: [
                    FieldError(field: "metadata.finalizers", type: .forbidden,
                               detail: "no new finalizers can be added if the object is being deleted, found new finalizers \(Self.goStrings(added))"),
                ])
            }
            let grace = existingMetadata["deletionGracePeriodSeconds"].flatMap { Int64($0.fieldText ?? "") } ?? 0
            let namespaceFinalizers = existing.resource.isNamespaceKind
                ? (object["spec"]?["finalizers"]?.arrayValue ?? []).isEmpty : true
            if finalizers.isEmpty && grace == 0 && namespaceFinalizers {
                let final = existing.withResourceVersion(version)
                return (.delete(final), final, existing)
            }
        }
        let generation = existing.generation ?? 1
        metadata["generation"] = .number(String(specChanged(existingJSON, object) ? generation + 1 : generation))
        metadata["resourceVersion"] = .string(version.description)
        object["metadata"] = .object(metadata)
        let stored = try KubeObject(json: object, resource: existing.resource)
        return (.put(stored), stored, existing)
    }

    /// `metadata.finalizers`.
    static func finalizers(_ metadata: JSONObject) -> [String] {
        (metadata["finalizers"]?.arrayValue ?? []).compactMap(\.stringValue)
    }

    /// A list of strings as Go's `%#v` writes it: `[]string{"a", "b"}`.
    static func goStrings(_ values: [String]) -> String {
        "[]string{" + values.map { "\"\($0)\"" }.joined(separator: ", ") + "}"
    }

    /// Deletes an object and returns its last state (with the deletion's version). 404 if it does
    /// not exist; 409 Conflict if `precondition` (a resourceVersion) does not match.
    public func delete(_ resource: ResourceDescriptor, namespace: String?, name: String,
                       precondition: String? = nil, dryRun: Bool = false) throws(Status) -> KubeObject {
        try Self.wait { delete(resource, namespace: namespace, name: name, precondition: precondition, dryRun: dryRun, completion: $0) }
    }

    /// ``delete(_:namespace:name:precondition:dryRun:)`` without waiting (see ``create(_:in:namespace:dryRun:completion:)``).
    public func delete(_ resource: ResourceDescriptor, namespace: String?, name: String, precondition: String? = nil, dryRun: Bool = false,
                       completion: @escaping @Sendable (Result<KubeObject, Status>) -> Void) {
        delete(resource, namespace: namespace, name: name, options: DeletionOptions(resourceVersion: precondition, dryRun: dryRun),
               completion: completion)
    }

    /// Deletes an object as kube-apiserver does, and returns its state: gone (with the deletion's
    /// version), or kept and marked deleting.
    ///
    /// - An object with finalizers is kept: it gets `deletionTimestamp` (now) and
    ///   `deletionGracePeriodSeconds` 0 (a MODIFIED event), and goes when an update removes its last
    ///   finalizer. A DELETE while it waits changes nothing.
    /// - A kind deleted gracefully (`graceful`: pods) gets `deletionTimestamp` = now + its grace
    ///   period; a later DELETE may shorten the period, never lengthen it; a period of 0 deletes at
    ///   once (when no finalizers remain).
    /// - `propagationPolicy` (or `orphanDependents`) adds the `orphan` or `foregroundDeletion`
    ///   finalizer that tells the garbage collector what to do first.
    ///
    /// 404 if the object does not exist; 409 Conflict if a precondition does not match.
    public func delete(_ resource: ResourceDescriptor, namespace: String?, name: String, options: DeletionOptions,
                       graceful: GracefulDeletion? = nil, completion: @escaping @Sendable (Result<KubeObject, Status>) -> Void) {
        // A graceful deletion with a period of 0 is two writes, as in kube-apiserver: the object
        // marked (MODIFIED), then gone (DELETED); the caller gets the second.
        let thenDelete = Atomic(false)
        let finish: @Sendable (Result<KubeObject, Status>) -> Void = { [self] result in
            guard case .success = result, thenDelete.load(ordering: .acquiring), !options.dryRun else { return completion(result) }
            var again = options
            again.resourceVersion = nil
            delete(resource, namespace: namespace, name: name, options: again, graceful: graceful, completion: completion)
        }
        submit(resource, dryRun: options.dryRun, completion: finish) { (current, version) throws(Status) in
            guard let existing = current(namespace, name) else {
                throw Status.notFound(resource, name: name)
            }
            if let uid = options.uid, !uid.isEmpty, uid != existing.uid {
                throw Status(code: 409, reason: .conflict,
                             message: "Operation cannot be fulfilled on \(resource.qualifiedPlural) \"\(name)\": the UID in the precondition (\(uid)) does not match the UID in record (\(existing.uid ?? "")). The object might have been deleted and then recreated",
                             details: Status.Details(name: name, group: resource.group, kind: resource.plural))
            }
            if let expected = options.resourceVersion, !expected.isEmpty, expected != existing.resourceVersion.description {
                throw Status.preconditionFailed(resource, name: name, expected: expected, actual: existing.resourceVersion)
            }
            let decision = try Self.deletionDecision(existing, options: options, graceful: graceful, version: version)
            if case .put(let marked)? = decision.change, marked.deletionTimestamp != nil,
               marked.json["metadata"]?["deletionGracePeriodSeconds"] == .number("0"), Self.finalizers(marked.json["metadata"]?.objectValue ?? JSONObject()).isEmpty {
                thenDelete.store(true, ordering: .releasing)
            }
            return decision
        }
    }

    /// kube-apiserver's `BeforeDelete` and `Store.Delete` as one decision: mark the object
    /// deleting, shorten its grace period, leave it, or delete it.
    private static func deletionDecision(_ existing: KubeObject, options: DeletionOptions, graceful: GracefulDeletion?,
                                         version: ResourceVersion) throws(Status) -> Decision {
        var object = existing.json
        var metadata = object["metadata"]?.objectValue ?? JSONObject()
        let requested = options.gracePeriodSeconds.map { $0 < 0 ? 1 : $0 }
        let now = Int64(WallClock.secondsSince1970())
        let deletingSince = metadata["deletionTimestamp"]?.stringValue.flatMap(WallClock.secondsSince1970(rfc3339:))
        let currentGrace = metadata["deletionGracePeriodSeconds"].flatMap { Int64($0.fieldText ?? "") }

        // BeforeDelete: is the deletion graceful, or already pending?
        var isGraceful = false
        var gracePeriod: Int64 = 0
        if graceful != nil, let since = deletingSince {
            if let currentGrace, currentGrace > 0 {
                guard let requested, requested < currentGrace else {
                    return (nil, existing, existing)  // pending: only a shorter period changes anything
                }
                metadata["deletionTimestamp"] = .string(WallClock.rfc3339(secondsSince1970: since - currentGrace + requested))
                metadata["deletionGracePeriodSeconds"] = .number(String(requested))
                isGraceful = true
                gracePeriod = requested
            }
        } else if let graceful, deletingSince == nil {
            gracePeriod = graceful(object, requested)
            metadata["deletionTimestamp"] = .string(WallClock.rfc3339(secondsSince1970: now + gracePeriod))
            metadata["deletionGracePeriodSeconds"] = .number(String(gracePeriod))
            if let generation = existing.generation, generation > 0 { metadata["generation"] = .number(String(generation + 1)) }
            isGraceful = true
        }

        let oldFinalizers = finalizers(metadata)
        let newFinalizers = options.finalizers(oldFinalizers)
        let finalizersChange = Set(oldFinalizers) != Set(newFinalizers)
        if isGraceful || !oldFinalizers.isEmpty || finalizersChange {
            if finalizersChange { metadata["finalizers"] = .array(newFinalizers.map { .string($0) }) }
            let pendingFinalizers = !newFinalizers.isEmpty
            if !isGraceful && pendingFinalizers {
                // markAsDeleting: now, grace 0; the generation moves on the first mark.
                if deletingSince == nil, let generation = existing.generation, generation > 0 {
                    metadata["generation"] = .number(String(generation + 1))
                }
                if deletingSince == nil || deletingSince! > now {
                    metadata["deletionTimestamp"] = .string(WallClock.rfc3339(secondsSince1970: now))
                }
                metadata["deletionGracePeriodSeconds"] = .number("0")
            }
            if pendingFinalizers || isGraceful {
                // Marked already, nothing new: no write, as kube-apiserver skips an update that changes nothing.
                if metadata == existing.json["metadata"]?.objectValue { return (nil, existing, existing) }
                metadata["resourceVersion"] = .string(version.description)
                object["metadata"] = .object(metadata)
                let marked = try KubeObject(json: object, resource: existing.resource)
                return (.put(marked), marked, existing)
            }
        }
        let final = existing.withResourceVersion(version)
        return (.delete(final), final, existing)
    }

    /// A write's decision: the change, what the client gets back, and the object's state before.
    typealias Decision = (change: Change?, result: KubeObject, previous: KubeObject?)

    /// Runs `decide` under the lock with the next version and the newest (staged) objects, then
    /// persists, applies and acknowledges the change — inline, or through the committer.
    func submit(_ resource: ResourceDescriptor, dryRun: Bool, completion: @escaping @Sendable (Result<KubeObject, Status>) -> Void,
                        decide: (_ current: (String?, String) -> KubeObject?, _ version: ResourceVersion) throws(Status) -> Decision) {
        guard let cache = cache(for: resource) else {
            return completion(.failure(Status(code: 404, reason: .notFound,
                                              message: "the server could not find the requested resource (\(resource.qualifiedPlural))")))
        }
        let inline = storage.persistsInline
        var effects = DeferredEffects()
        var startCommitter = false
        let outcome: Result<KubeObject, Status>? = state.withLock { s in
            guard s.recovered != nil else { return .failure(Self.loadingStatus) }
            let version = s.assigned.next
            let decision: Decision
            do throws(Status) {
                let staged = s.staged
                decision = try decide({ namespace, name in
                    let key = resource.namespaced ? "\(namespace ?? "")/\(name)" : name
                    if let pending = staged[Self.stagedKey(resource, key)] { return pending.object }
                    return cache.get(namespace: namespace, name: name)
                }, version)
            } catch {
                return .failure(error)
            }
            // Nothing to write (a delete already pending): the answer is the object as it is.
            guard let change = decision.change else { return .success(decision.result) }
            if dryRun { return .success(decision.result) }
            let write = StoredWrite(resource: resource, change: change, previous: decision.previous, wallTime: WallClock.secondsSince1970())
            if inline {
                do {
                    try storage.persist([write])
                } catch {
                    return .failure(.internalError("storage did not persist the write: \(error)"))
                }
                s.assigned = version
                s.version = version
                do throws(Status) {
                    try cache.apply(change, effects: &effects)
                } catch {
                    return .failure(error)
                }
                for other in s.order where other !== cache { other.advance(to: version, effects: &effects) }
                return .success(decision.result)
            }
            s.assigned = version
            let key = Self.stagedKey(resource, decision.result.key)
            if case .delete = change {
                s.staged[key] = StagedObject(version: version, object: nil)
            } else {
                s.staged[key] = StagedObject(version: version, object: decision.result)
            }
            s.pending.append(PendingWrite(write: write, cache: cache, stagedKey: key, result: decision.result, completion: completion))
            if !s.committing {
                s.committing = true
                startCommitter = true
            }
            return nil
        }
        effects.run(logger: logger)
        if let outcome { completion(outcome) }
        if startCommitter { committer.async { self.drainCommits() } }
    }

    /// The committer: persists pending writes in groups, applies them in order, acknowledges them.
    private func drainCommits() {
        while true {
            let batch: [PendingWrite] = state.withLock { s in
                let n = min(s.pending.count, Self.maximumBatch)
                if n == 0 { s.committing = false }
                defer { s.pending.removeFirst(n) }
                return Array(s.pending.prefix(n))
            }
            if batch.isEmpty { return }
            var failure: Status?
            do {
                try storage.persist(batch.map(\.write))
            } catch {
                failure = .internalError("storage did not persist the write: \(error)")
                logger.error("storage did not persist \(batch.count) writes", metadata: ["error": "\(error)"])
            }
            var effects = DeferredEffects()
            var dependents: [PendingWrite] = []
            state.withLock { s in
                if failure != nil {
                    // Writes staged after the failed ones were checked against them: they fail too.
                    dependents = s.pending
                    s.pending.removeAll()
                    s.staged.removeAll()
                    return
                }
                for p in batch {
                    do throws(Status) {
                        try p.cache.apply(p.write.change, effects: &effects)
                    } catch {
                        logger.error("a persisted write could not be applied", metadata: ["error": "\(error)"])
                    }
                    if s.staged[p.stagedKey]?.version == p.write.version { s.staged[p.stagedKey] = nil }
                }
                s.version = batch[batch.count - 1].write.version
                for cache in s.order { cache.advance(to: s.version, effects: &effects) }
            }
            effects.run(logger: logger)
            for p in batch { p.completion(failure.map { .failure($0) } ?? .success(p.result)) }
            for p in dependents { p.completion(.failure(failure!)) }
        }
    }

    private static func stagedKey(_ resource: ResourceDescriptor, _ key: String) -> String {
        resource.description + "|" + key
    }

    /// Calls `start` with a completion and waits for it (at once when it completes inline).
    private static func wait(_ start: (@escaping @Sendable (Result<KubeObject, Status>) -> Void) -> Void) throws(Status) -> KubeObject {
        let box = ResultBox()
        start { box.set($0) }
        return try box.wait().get()
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

    static func randomSuffix() -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return String((0..<5).map { _ in alphabet.randomElement()! })
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// One write's result, handed from the committer to a waiting caller.
private final class ResultBox: Sendable {
    private let result = Mutex<Result<KubeObject, Status>?>(nil)
    private let done = DispatchSemaphore(value: 0)

    func set(_ value: Result<KubeObject, Status>) {
        result.withLock { $0 = value }
        done.signal()
    }

    func wait() -> Result<KubeObject, Status> {
        if let ready = result.withLock({ $0 }) { return ready }
        done.wait()
        return result.withLock { $0! }
    }
}
