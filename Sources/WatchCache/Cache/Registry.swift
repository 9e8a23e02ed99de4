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
    /// The store this registry follows instead of ordering writes itself (etcd), if any.
    let source: (any SourceOfTruth)?
    /// The running feeds from ``source``, one per resource.
    let feeds = Mutex<[any FeedSubscription]>([])
    let feedRelists = RelistCounter()
    let logger: Logger
    /// The random suffix of names made from `generateName`.
    let generatedNameSuffix: @Sendable () -> String
    let state: Mutex<RegistryState>
    /// The registered caches, for routing: a lock of their own, so finding a cache never waits on
    /// the write path or a load (taken after ``state`` when both are).
    let directory = Mutex<(byName: [String: ResourceCache], order: [ResourceCache])>(([:], []))
    let ready = Atomic(false)
    /// Runs ``drainCommits()`` for storages that do not persist inline.
    let committer = DispatchQueue(label: "watchcache.registry.committer", qos: .userInitiated)
    /// The most writes one commit takes.
    static let maximumBatch = 1_000
    /// How many names a create from `generateName` tries.
    static let generateNameTries = 8

    struct RegistryState {
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

    struct PendingWrite {
        let write: StoredWrite
        let cache: ResourceCache
        let stagedKey: String
        let result: KubeObject
        let completion: @Sendable (Result<KubeObject, Status>) -> Void
    }

    struct StagedObject {
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
        self.source = nil
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        state = Mutex(RegistryState(version: .zero, assigned: .zero))
        if recover { try self.recover() }
    }

    /// A registry whose caches follow `source` (etcd): writes are executed by it with a
    /// precondition, and every cache fills from its feed. ``recover()`` starts the feeds and
    /// returns once every registered cache has its first list.
    public init(source: any SourceOfTruth, configuration: CacheConfiguration = CacheConfiguration(),
                clock: any WatchClock = SystemClock(), logger: Logger = Logger(label: "watchcache"),
                generatedNameSuffix: (@Sendable () -> String)? = nil) {
        self.generatedNameSuffix = generatedNameSuffix ?? Registry.randomSuffix
        self.storage = InMemoryStorage()
        self.source = source
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        state = Mutex(RegistryState(version: .zero, assigned: .zero))
    }

    /// Loads the objects, the version and the recent history from the storage into every cache
    /// (registered or to be), then accepts requests. Call once. Following a source of truth it
    /// blocks until every cache has its first list: call it off the Swift concurrency pool, or
    /// `await` ``recoverWithoutBlocking()`` instead.
    public func recover() throws {
        if source != nil { return followSource() }
        var recovered = try storage.recover(historyLimit: configuration.history.maximumEvents)
        // Parsing and indexing happen outside the registry's lock, cache by cache: requests that
        // arrive meanwhile are routed and answered (503 until ready) instead of waiting for the load.
        // Nothing writes to the caches until `recovered` is set below.
        let loaded = caches
        for cache in loaded {
            let (objects, history, floor) = try Self.take(cache.resource, from: &recovered)
            try cache.restore(version: recovered.version, objects: objects, history: history, historyFloor: floor)
        }
        try state.withLock { (s: inout RegistryState) throws(Status) in
            precondition(s.recovered == nil, "recover() is called once")
            s.version = recovered.version
            s.assigned = recovered.version
            s.recovered = recovered
            for cache in s.order where !loaded.contains(where: { $0 === cache }) {  // registered during the load
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

    /// The newest version written (persisted and applied); following a source of truth, the newest
    /// version any cache has reached.
    public var currentVersion: ResourceVersion {
        if source != nil { return caches.map(\.currentVersion).max() ?? .zero }
        return state.withLock { $0.version }
    }

    /// Adds `resource` (idempotent) and returns its cache, holding whatever the storage recovered for it.
    @discardableResult
    public func register(_ resource: ResourceDescriptor) throws(Status) -> ResourceCache {
        var startFeed = false
        let cache = try state.withLock { (s: inout RegistryState) throws(Status) -> ResourceCache in
            if let existing = s.caches[resource.description] { return existing }
            let cache = ResourceCache(resource: resource, configuration: configuration, clock: clock,
                                      version: s.version, archive: storage.keepsHistory ? storage : nil, logger: logger)
            if source != nil {
                startFeed = s.recovered != nil  // registered after the start: its feed starts now
            } else if s.recovered != nil {
                let (objects, history, floor) = try Self.take(resource, from: &s.recovered!)
                // Registered after writes since the recovery: like a cache started later, its window
                // begins now (older versions replay from the archive, if any, or get 410).
                let fresh = s.version == s.recovered!.version
                try cache.restore(version: s.version, objects: objects, history: fresh ? history : [], historyFloor: fresh ? floor : s.version)
            }
            s.caches[resource.description] = cache
            s.order.append(cache)
            directory.withLock { d in
                d.byName[resource.description] = cache
                d.order.append(cache)
            }
            return cache
        }
        if startFeed { _ = follow(cache) }
        return cache
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
        directory.withLock { $0.byName[resource.description] }
    }

    /// Every registered cache, in registration order.
    public var caches: [ResourceCache] { directory.withLock { $0.order } }

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

    /// Closes every cache, ending their watches (and stops following the source of truth).
    public func close() {
        for feed in feeds.withLock({ $0 }) { feed.cancel() }
        for cache in caches { cache.close() }
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// One write's result, handed from the committer to a waiting caller.
final class ResultBox: Sendable {
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
