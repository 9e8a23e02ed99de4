import Dispatch
import Logging
import Synchronization

/// An embedded ``Storage`` (SQLite, memory) as a ``SourceOfTruth``: the commit pipeline of a
/// single server, whose caches follow it in-process.
///
/// A write's precondition is checked against the newest *staged* state — the caches' objects
/// overlaid with the writes still waiting for the disk — so concurrent writers conflict as they
/// should; it gets the next version and is staged. Storages that persist inline (memory) persist,
/// apply and fan out at once; the others are committed by one background committer in groups (one
/// disk sync for many writers), then applied to their caches and fanned out in version order, and
/// acknowledged only then. The feed is the caches themselves, so a write reaches its watchers
/// without a round trip and a cache that has seen an acknowledgement holds the write
/// (``feedsBeforeAcknowledging``).
///
/// Its sinks are the ``Registry``'s caches (``CacheFeed``): the staged state overlays them, and the
/// first list of each refills its window from the stored history.
final class EmbeddedSourceOfTruth: SourceOfTruth {
    let storage: any Storage
    let historyLimit: Int
    let logger: Logger
    private let state = Mutex(State())
    /// Where the start-up's time went.
    private let loadTimings = Mutex(LoadTimings())
    /// Runs ``drainCommits()`` for storages that do not persist inline.
    private let committer = DispatchQueue(label: "watchcache.registry.committer", qos: .userInitiated)
    /// The most writes one commit takes.
    static let maximumBatch = 1_000

    private struct State {
        /// The newest version applied (persisted and fanned out).
        var version: ResourceVersion = .zero
        /// The newest version handed out; above ``version`` while writes wait for the committer.
        var assigned: ResourceVersion = .zero
        /// What the storage held, for resources not followed yet; `nil` until loaded.
        var recovered: StorageRecovery?
        /// The version the storage was loaded at: a resource followed later gets its stored history
        /// only if nothing was written since.
        var loadedVersion: ResourceVersion = .zero
        /// Whether writes are taken: set once the start-up's caches are filled.
        var open = false
        /// Resources whose stored objects could not be loaded: no write to them is taken (it
        /// would be decided against an empty cache, and overwrite what is stored).
        var failed: [String: Status] = [:]
        var feeds: [String: CacheFeed] = [:]
        var order: [CacheFeed] = []
        /// Writes waiting for the committer, in version order.
        var pending: [PendingWrite] = []
        /// The newest staged state of objects with pending writes (resource and key → state).
        var staged: [String: StagedObject] = [:]
        var committing = false
    }

    private struct PendingWrite {
        let write: StoredWrite
        let feed: CacheFeed
        let stagedKey: String
        let stored: KubeObject
        let completion: @Sendable (Result<CommitOutcome, any Error>) -> Void
    }

    private struct StagedObject {
        let version: ResourceVersion
        /// `nil` once a pending write deletes it.
        let object: KubeObject?
    }

    init(storage: any Storage, historyLimit: Int, logger: Logger) {
        self.storage = storage
        self.historyLimit = historyLimit
        self.logger = logger
    }

    /// Reads what the storage holds (objects, version, recent history). Call once, before the
    /// first ``follow(_:sink:)``.
    func load() throws {
        let started = ContinuousClock.now
        let recovered = try storage.recover(historyLimit: historyLimit)
        let read = (ContinuousClock.now - started).seconds
        loadTimings.withLock { $0.readSeconds += read }
        state.withLock { s in
            precondition(s.recovered == nil, "load() is called once")
            s.version = recovered.version
            s.assigned = recovered.version
            s.loadedVersion = recovered.version
            s.recovered = recovered
        }
    }

    /// Takes writes from now on: the caches followed so far are filled.
    func open() {
        state.withLock { $0.open = true }
    }

    /// The newest version written (persisted and applied).
    var version: ResourceVersion { state.withLock { $0.version } }

    /// Where the start-up's time went so far.
    var timings: LoadTimings { loadTimings.withLock { $0 } }

    // MARK: - Following

    /// Fills `sink`'s cache with what was stored for `resource` (and, when nothing was written
    /// since the load, its stored history), then feeds it every write. A resource followed during
    /// the start-up (before ``open()``) is parsed outside the lock, so requests are answered
    /// meanwhile; one followed later (registered while serving) is filled under it, before any
    /// write to it.
    func follow(_ resource: ResourceDescriptor, sink: any ChangeFeedSink) -> any FeedSubscription {
        guard let feed = sink as? CacheFeed else { preconditionFailure("an embedded source of truth feeds the registry's caches") }
        let (taken, loading) = state.withLock { s -> (Taken, Bool) in
            precondition(s.recovered != nil, "load() comes before follow(_:sink:)")
            return (Self.take(resource, from: &s), !s.open)
        }
        if loading {
            let failure = restore(feed, taken)
            state.withLock { s in
                if let failure { s.failed[resource.description] = failure }
                s.feeds[resource.description] = feed
                s.order.append(feed)
                // Registered while the start-up finished: the writes since then moved the others on.
                if s.version > taken.version { feed.progress(s.version) }
            }
        } else {
            state.withLock { s in
                var late = taken
                late.version = s.version
                if s.version != s.loadedVersion {
                    // Written since the load: like a cache started later, its window begins now
                    // (older versions replay from the storage's history, if kept, or get 410).
                    late.history = []
                    late.floor = s.version
                }
                if let failure = restore(feed, late) { s.failed[resource.description] = failure }
                s.feeds[resource.description] = feed
                s.order.append(feed)
            }
        }
        return Subscription(source: self, feed: feed)
    }

    private struct Taken {
        var version: ResourceVersion
        var objects: [[UInt8]]
        var history: [StoredEvent]
        var floor: ResourceVersion
    }

    private static func take(_ resource: ResourceDescriptor, from s: inout State) -> Taken {
        Taken(version: s.version,
              objects: s.recovered!.objects.removeValue(forKey: resource.description) ?? [],
              history: s.recovered!.history.removeValue(forKey: resource.description) ?? [],
              floor: s.recovered!.historyFloor)
    }

    /// Parses and fills; returns why it could not, if it could not (the caller records it).
    private func restore(_ feed: CacheFeed, _ taken: Taken) -> Status? {
        do throws(Status) {
            let started = ContinuousClock.now
            let objects = try KubeObject.parseAll(taken.objects, resource: feed.cache.resource)
            let parsed = ContinuousClock.now
            try feed.restore(version: taken.version, objects: objects, history: taken.history, historyFloor: taken.floor)
            let filled = ContinuousClock.now
            loadTimings.withLock { t in
                t.parseSeconds += (parsed - started).seconds
                t.fillSeconds += (filled - parsed).seconds
            }
            return nil
        } catch {
            // A stored object that no longer parses: the resource takes no write (the load fails,
            // see ``loadFailure``); its cache is left empty only so its first list is over.
            logger.error("stored objects could not be loaded", metadata: ["watchcache.resource": "\(feed.cache.resource.qualifiedPlural)",
                                                                          "error": "\(error.message)"])
            try? feed.restore(version: taken.version, objects: [], history: [], historyFloor: taken.version)
            return Status.internalError("the stored \(feed.cache.resource.qualifiedPlural) could not be loaded: \(error.message)")
        }
    }

    /// Why `resource` could not be loaded, if it could not.
    func failure(for resource: ResourceDescriptor) -> Status? {
        state.withLock { $0.failed[resource.description] }
    }

    /// The first load failure, if any resource failed.
    var loadFailure: Status? {
        state.withLock { s in s.failed.sorted { $0.key < $1.key }.first?.value }
    }

    private func unfollow(_ feed: CacheFeed) {
        state.withLock { s in
            s.order.removeAll { $0 === feed }
            if s.feeds[feed.cache.resource.description] === feed { s.feeds[feed.cache.resource.description] = nil }
        }
    }

    private struct Subscription: FeedSubscription {
        let source: EmbeddedSourceOfTruth
        let feed: CacheFeed
        func cancel() { source.unfollow(feed) }
    }

    // MARK: - Writes

    func commit(_ write: GuardedWrite) async throws -> CommitOutcome {
        try await withCheckedThrowingContinuation { continuation in
            commit(write) { continuation.resume(with: $0) }
        }
    }

    /// Checks the precondition against the staged state and stages the write with the next
    /// version; conflicts and inline storages answer before returning, the others from the
    /// committer once the write is durable and applied.
    func commit(_ write: GuardedWrite, completion: @escaping @Sendable (Result<CommitOutcome, any Error>) -> Void) {
        let inline = storage.persistsInline
        var effects = DeferredEffects()
        var startCommitter = false
        let outcome: Result<CommitOutcome, any Error>? = state.withLock { s in
            if let failed = s.failed[write.resource.description] { return .failure(failed) }
            guard s.open, let feed = s.feeds[write.resource.description] else { return .failure(Registry.loadingStatus) }
            let object = write.object
            let key = Self.stagedKey(write.resource, object.key)
            let current = s.staged[key].map(\.object) ?? feed.cache.get(namespace: object.namespace, name: object.name)
            switch write.precondition {
            case .absent where current != nil:
                return .success(.conflict(current: current))
            case .version(let expected) where current?.resourceVersion != expected:
                return .success(.conflict(current: current))
            default:
                break
            }
            let version = s.assigned.next
            let stored = object.withResourceVersion(version)
            let change: Change
            switch write.change {
            case .put: change = .put(stored)
            case .delete: change = .delete(stored)
            }
            let storedWrite = StoredWrite(resource: write.resource, change: change, previous: current, wallTime: WallClock.secondsSince1970())
            if inline {
                do {
                    try storage.persist([storedWrite])
                } catch {
                    return .failure(Status.internalError("storage did not persist the write: \(error)"))
                }
                s.assigned = version
                s.version = version
                do throws(Status) {
                    try feed.apply(change, effects: &effects)
                } catch {
                    return .failure(error)
                }
                for other in s.order where other !== feed { other.progress(version, effects: &effects) }
                return .success(.committed(version, stored: stored))
            }
            s.assigned = version
            if case .delete = change {
                s.staged[key] = StagedObject(version: version, object: nil)
            } else {
                s.staged[key] = StagedObject(version: version, object: stored)
            }
            s.pending.append(PendingWrite(write: storedWrite, feed: feed, stagedKey: key, stored: stored, completion: completion))
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
            do {
                try storage.persist(batch.map(\.write))
            } catch {
                logger.error("storage did not persist \(batch.count) writes", metadata: ["error": "\(error)"])
                // Writes staged after the failed ones were checked against them: they fail too.
                let dependents: [PendingWrite] = state.withLock { s in
                    defer {
                        s.pending.removeAll()
                        s.staged.removeAll()
                    }
                    return s.pending
                }
                let failure = Status.internalError("storage did not persist the write: \(error)")
                for p in batch + dependents { p.completion(.failure(failure)) }
                continue
            }
            // Applied and fanned out outside the lock (this committer is the only one applying,
            // in version order): writers keep staging meanwhile, checked against the staged state,
            // which stays until its write is in the cache.
            var effects = DeferredEffects()
            for p in batch {
                do throws(Status) {
                    try p.feed.apply(p.write.change, effects: &effects)
                } catch {
                    logger.error("a persisted write could not be applied", metadata: ["error": "\(error.message)"])
                }
            }
            let version = batch[batch.count - 1].write.version
            let feeds: [CacheFeed] = state.withLock { s in
                for p in batch where s.staged[p.stagedKey]?.version == p.write.version { s.staged[p.stagedKey] = nil }
                s.version = version
                return s.order
            }
            for feed in feeds { feed.progress(version, effects: &effects) }
            effects.run(logger: logger)
            for p in batch { p.completion(.success(.committed(p.write.version, stored: p.stored))) }
        }
    }

    private static func stagedKey(_ resource: ResourceDescriptor, _ key: String) -> String {
        resource.description + "|" + key
    }

    // MARK: - Reads

    /// The object as the newest staged state has it.
    func get(_ resource: ResourceDescriptor, namespace: String?, name: String) async throws -> KubeObject? {
        try current(resource, namespace: namespace, name: name)
    }

    func get(_ resource: ResourceDescriptor, namespace: String?, name: String,
             completion: @escaping @Sendable (Result<KubeObject?, any Error>) -> Void) {
        completion(Result { try current(resource, namespace: namespace, name: name) })
    }

    private func current(_ resource: ResourceDescriptor, namespace: String?, name: String) throws -> KubeObject? {
        try state.withLock { s throws -> KubeObject? in
            guard let feed = s.feeds[resource.description] else { throw Registry.loadingStatus }
            let key = resource.namespaced ? "\(namespace ?? "")/\(name)" : name
            if let staged = s.staged[Self.stagedKey(resource, key)] { return staged.object }
            return feed.cache.get(namespace: namespace, name: name)
        }
    }

    /// The caches hold every applied write: their count, at the applied version.
    func census(of resource: ResourceDescriptor, changedAfter version: ResourceVersion) async throws -> StoreCensus {
        let snapshot = try await list(resource)
        return StoreCensus(version: snapshot.version, objects: snapshot.objects.count,
                           changed: snapshot.objects.count { $0.resourceVersion > version })
    }

    func list(_ resource: ResourceDescriptor) async throws -> StoreSnapshot {
        try state.withLock { s throws -> StoreSnapshot in
            guard let feed = s.feeds[resource.description] else { throw Registry.loadingStatus }
            return StoreSnapshot(objects: feed.cache.snapshot(), version: s.version)
        }
    }

    var feedsBeforeAcknowledging: Bool { true }
}
