import CoreMetrics
import Dispatch
import Logging
import Synchronization

/// The resources of one server (or embedding program): a ``ResourceCache`` per resource, one
/// global resource version across them, and the write path — create, update, delete with
/// kube-apiserver's checks and server-set metadata — in front of a ``SourceOfTruth``.
///
/// Every write goes to the source of truth, which checks its precondition, gives it its version
/// and makes it durable; the caches learn of it from the source's change feed, in version order,
/// and every other cache's version advances with it, so bookmarks on quiet resources move. With
/// etcd the feed is etcd's watch (writes of other replicas and clients included); an embedded
/// ``Storage`` (SQLite, memory) is put behind an in-process source whose feed is the caches
/// themselves, so a write is fanned out before it is acknowledged, without a round trip — and its
/// writes to disk are committed in groups, one sync for many writers.
public final class Registry: Sendable {
    public let configuration: CacheConfiguration
    let clock: any WatchClock
    /// Where the caches and the registry report their metrics (``ReportedMetric``); `nil`: the
    /// bootstrapped `MetricsSystem`.
    public let metricsFactory: (any MetricsFactory)?
    /// Where old versions are replayed from, when it keeps history beyond the caches' windows.
    let storage: any Storage
    /// The store the caches follow and writes go to.
    let source: any SourceOfTruth
    /// ``source`` when it is an embedded ``Storage`` behind this registry's own source.
    let embedded: EmbeddedSourceOfTruth?
    /// The running feeds from ``source``, one per resource.
    let feeds = Mutex<[any FeedSubscription]>([])
    /// How many times the caches listed their source of truth again after the first list.
    let feedRelists: ReportedCounter
    let logger: Logger
    /// The random suffix of names made from `generateName`.
    let generatedNameSuffix: @Sendable () -> String
    let state = Mutex(RegistryState())
    /// The registered caches, for routing: a lock of their own, so finding a cache never waits on
    /// the write path or a load (taken after ``state`` when both are).
    let directory = Mutex<(byName: [String: ResourceCache], order: [ResourceCache])>(([:], []))
    let ready = Atomic(false)
    /// How many names a create from `generateName` tries.
    static let generateNameTries = 8

    struct RegistryState {
        var caches: [String: ResourceCache] = [:]
        var order: [ResourceCache] = []
        /// Whether the feeds have started: a cache registered from then on follows at once.
        var started = false
    }

    /// A registry over `storage`. With `recover` (the default) it loads what the storage holds
    /// now; otherwise it answers writes with 503 until ``recover()`` is called (a server that
    /// listens while it loads).
    /// `generatedNameSuffix` makes the random part of names from `generateName` (tests give their
    /// own to make names collide). The caches report their counters and sizes to `metricsFactory`
    /// (swift-metrics; by default the bootstrapped `MetricsSystem`).
    public init(storage: any Storage = InMemoryStorage(), configuration: CacheConfiguration = CacheConfiguration(),
                clock: any WatchClock = SystemClock(), logger: Logger = Logger(label: "watchcache"), recover: Bool = true,
                metricsFactory: (any MetricsFactory)? = nil, generatedNameSuffix: (@Sendable () -> String)? = nil) throws {
        self.generatedNameSuffix = generatedNameSuffix ?? Registry.randomSuffix
        self.metricsFactory = metricsFactory
        self.feedRelists = ReportedCounter(.storageRelists, dimensions: [], factory: metricsFactory ?? MetricsSystem.factory)
        self.storage = storage
        let embedded = EmbeddedSourceOfTruth(storage: storage, historyLimit: configuration.history.maximumEvents, logger: logger)
        self.embedded = embedded
        self.source = embedded
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        if recover { try self.recover() }
    }

    /// A registry whose caches follow `source` (etcd): writes are executed by it with a
    /// precondition, and every cache fills from its feed. ``recover()`` starts the feeds and
    /// returns once every registered cache has its first list.
    public init(source: any SourceOfTruth, configuration: CacheConfiguration = CacheConfiguration(),
                clock: any WatchClock = SystemClock(), logger: Logger = Logger(label: "watchcache"),
                metricsFactory: (any MetricsFactory)? = nil, generatedNameSuffix: (@Sendable () -> String)? = nil) {
        self.generatedNameSuffix = generatedNameSuffix ?? Registry.randomSuffix
        self.metricsFactory = metricsFactory
        self.feedRelists = ReportedCounter(.storageRelists, dimensions: [], factory: metricsFactory ?? MetricsSystem.factory)
        self.storage = InMemoryStorage()
        self.source = source
        self.embedded = nil
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
    }

    /// Loads the objects, the version and the recent history from the storage into every cache
    /// (registered or to be), then accepts requests. Call once. Following a source of truth it
    /// blocks until every cache has its first list: call it off the Swift concurrency pool, or
    /// `await` ``recoverWithoutBlocking()`` instead.
    public func recover() throws {
        // Parsing and indexing happen outside the registry's lock, cache by cache: requests that
        // arrive meanwhile are routed and answered (503 until ready) instead of waiting for the load.
        try embedded?.load()
        try followSource()
    }

    /// Where loading an embedded storage spent its time (`nil` following etcd).
    public var loadTimings: LoadTimings? { embedded?.timings }

    /// Whether the storage has been recovered: until then the caches are empty and writes get
    /// ``loadingStatus``.
    public var isReady: Bool { ready.load(ordering: .acquiring) }

    /// 503 ServiceUnavailable with `Retry-After: 1`: what requests get while the storage loads.
    public static let loadingStatus = Status(code: 503, reason: .serviceUnavailable, message: "the server is loading its storage, please try again later",
                                      details: .init(retryAfterSeconds: 1))

    /// The newest version written (persisted and applied); following etcd, the newest version
    /// any cache has reached.
    public var currentVersion: ResourceVersion {
        if let embedded { return embedded.version }
        return caches.map(\.currentVersion).max() ?? .zero
    }

    /// Adds `resource` (idempotent) and returns its cache, holding whatever the storage holds for it.
    @discardableResult
    public func register(_ resource: ResourceDescriptor) throws(Status) -> ResourceCache {
        var startFeed = false
        let cache = try state.withLock { (s: inout RegistryState) throws(Status) -> ResourceCache in
            if let existing = s.caches[resource.description] { return existing }
            let cache = ResourceCache(resource: resource, configuration: configuration, clock: clock,
                                      version: .zero, archive: storage.keepsHistory ? storage : nil, metricsFactory: metricsFactory, logger: logger)
            if s.started {
                // Registered after the start: its feed starts now — an embedded one fills the
                // cache before it can be found, so no request sees it empty.
                if let embedded {
                    _ = follow(cache)
                    if let failure = embedded.failure(for: resource) { throw failure }
                } else {
                    startFeed = true
                }
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
