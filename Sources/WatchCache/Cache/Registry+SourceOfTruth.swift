import Dispatch
import Logging
import Synchronization

/// A registry in front of a ``SourceOfTruth`` (etcd): the caches fill from its feed, writes are
/// decided against the newest state the cache knows and committed with a precondition — decided
/// again from the store's state when it fails, as kube-apiserver's `GuaranteedUpdate` does — and
/// reads with `resourceVersion` unset are consistent (KEP-2340).
extension Registry {
    /// How many times a write is decided again after its precondition failed (kube-apiserver's
    /// `GuaranteedUpdate` keeps trying until its request times out; every attempt here is one
    /// etcd round trip, and each failed one means another writer's attempt succeeded).
    static let maximumAttempts = 100
    /// How long a consistent read waits for the cache to catch up before reading the store itself.
    static let consistentReadWait: Duration = .seconds(3)

    // MARK: - Following

    /// Starts the feed of every registered cache and waits for each to have its first list,
    /// blocking this thread (never call it on the Swift concurrency pool: the feeds run there).
    func followSource() {
        for feed in startFeeds() { feed.loaded.wait() }
        ready.store(true, ordering: .releasing)
    }

    /// ``recover()`` without blocking a thread: with a source of truth, starts the feeds and
    /// returns once every registered cache has its first list; with an embedded storage, loads it.
    public func recoverWithoutBlocking() async throws {
        guard source != nil else { return try recover() }
        for feed in startFeeds() { await feed.firstList() }
        ready.store(true, ordering: .releasing)
    }

    private func startFeeds() -> [CacheFeed] {
        let caches = state.withLock { s in
            precondition(s.recovered == nil, "recover() is called once")
            s.recovered = StorageRecovery()
            return s.order
        }
        return caches.map { follow($0) }
    }

    /// Starts following the source for `cache`.
    func follow(_ cache: ResourceCache) -> CacheFeed {
        let feed = CacheFeed(cache: cache, logger: logger, relists: feedRelists)
        let subscription = source!.follow(cache.resource, sink: feed)
        feeds.withLock { $0.append(subscription) }
        return feed
    }

    /// How many times a cache listed the source of truth again after its first list (its feed
    /// fell behind etcd's compaction): `watchcache_storage_relists_total`. Reconnections that resume
    /// from the last revision are not relists.
    public var storageRelists: Int { feedRelists.count.load(ordering: .relaxed) }

    // MARK: - Writes

    /// Decides the write against what the cache holds (or what the store answered to a failed
    /// attempt), commits it with the matching precondition, and answers once the cache has seen it
    /// (so a client reads its own write from this replica at any `resourceVersion`).
    func submit(to source: any SourceOfTruth, cache: ResourceCache, dryRun: Bool,
                completion: @escaping @Sendable (Result<KubeObject, Status>) -> Void, decide: sending @escaping Decider) {
        guard isReady else { return completion(.failure(Self.loadingStatus)) }
        let decider = DeciderBox(decide)
        let resource = cache.resource
        Task {
            // Objects as the store answered (a failed attempt, or a read): newer than the cache's.
            var fresh: [String: KubeObject?] = [:]
            for _ in 0..<Self.maximumAttempts {
                let known = fresh
                let asked = Mutex<[(namespace: String?, name: String)]>([])
                let decided = decider.decide { namespace, name in
                    let key = resource.namespaced ? "\(namespace ?? "")/\(name)" : name
                    if let answered = known[key] { return answered }
                    asked.withLock { $0.append((namespace, name)) }
                    return cache.get(namespace: namespace, name: name)
                }
                let decision: Decision
                switch decided {
                case .failure(let error):
                    // Refused on the cache's word (not found, exists, another version): the cache
                    // may trail the store (a write through another replica a moment ago), so the
                    // decision is made again from the store's own answer before it stands.
                    let unverified = asked.withLock { $0 }
                    guard [404, 409].contains(error.code), !unverified.isEmpty else { return completion(.failure(error)) }
                    do {
                        for (namespace, name) in unverified {
                            let key = resource.namespaced ? "\(namespace ?? "")/\(name)" : name
                            fresh[key] = .some(try await source.get(resource, namespace: namespace, name: name))
                        }
                    } catch {
                        return completion(.failure(Self.storageStatus(error)))
                    }
                    continue
                case .success(let d): decision = d
                }
                guard let change = decision.change, !dryRun else { return completion(.success(decision.result)) }
                let write = GuardedWrite(resource: resource, change: change,
                                         precondition: decision.previous.map { .version($0.resourceVersion) } ?? .absent)
                let outcome: CommitOutcome
                do {
                    outcome = try await source.commit(write)
                } catch {
                    return completion(.failure(Self.storageStatus(error)))
                }
                switch outcome {
                case .committed(let version):
                    let result = decision.result.withResourceVersion(version)
                    // Visible here before it is acknowledged; the write stands even if the feed is late.
                    cache.whenReached(version) { _ in completion(.success(result)) }
                    return
                case .conflict(let current):
                    fresh[write.object.key] = .some(current)
                }
            }
            let object = decider.lastObject
            completion(.failure(Status.conflict(resource, name: object ?? "")))
        }
    }

    /// A storage failure as clients see it: a `Status` the storage made, or 500.
    static func storageStatus(_ error: any Error) -> Status {
        (error as? Status) ?? .internalError("storage: \(error)")
    }

    // MARK: - Consistent reads

    /// Where a consistent read of `cache`'s resource (LIST or GET with `resourceVersion` unset) is
    /// served from: `cache` itself once it holds the store's current state, else — after
    /// ``consistentReadWait`` — a snapshot read from the store. Embedded storages order every
    /// write through the caches, so there the cache is always current.
    ///
    /// With a source of truth the check is a census of the store (one quorum read): when no object
    /// of the resource was written after the cache's version and the store holds as many objects
    /// as the cache, the two hold the same state — whatever the rest of the store did since. That
    /// makes a quiet resource's read immediate without a progress request (whose ordering etcd
    /// 3.4.23 does not guarantee, etcd #15220); a busy one waits for its feed to bring the changes.
    ///
    /// With `consistent` false (a read at a given version) the answer is `cache`, at once.
    public func consistentView(of cache: ResourceCache, consistent: Bool = true,
                               completion: @escaping @Sendable (Result<ResourceCache, Status>) -> Void) {
        guard consistent, let source else { return completion(.success(cache)) }
        guard isReady else { return completion(.failure(Self.loadingStatus)) }
        let deadline = ContinuousClock.now + Self.consistentReadWait
        Task {
            do {
                while true {
                    let (version, objects) = cache.versionAndCount
                    let census = try await source.census(of: cache.resource, changedAfter: version)
                    if census.changed == 0 && census.objects == objects { return completion(.success(cache)) }
                    let remaining = deadline - ContinuousClock.now
                    if remaining <= .zero { break }
                    // Changes are on their way through the feed: wait for the cache to move.
                    let moved = await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
                        cache.whenReached(version.next, timeout: remaining) { c.resume(returning: (try? $0.get()) != nil) }
                    }
                    if !moved { break }
                }
                let snapshot = try await source.list(cache.resource)
                logger.debug("consistent read served from the store", metadata: ["watchcache.resource": "\(cache.resource.qualifiedPlural)"])
                completion(.success(ResourceCache(resource: cache.resource, configuration: configuration, clock: clock,
                                                  version: snapshot.version, objects: snapshot.objects, logger: logger)))
            } catch {
                completion(.failure(Self.storageStatus(error)))
            }
        }
    }
}

/// How many times the caches listed their source of truth again after the first list.
final class RelistCounter: Sendable {
    let count = Atomic(0)
}

/// A write's decider, called by one attempt at a time.
final class DeciderBox: Sendable {
    private let decider: Mutex<Registry.Decider>
    private let name = Mutex<String?>(nil)

    init(_ decide: sending @escaping Registry.Decider) {
        decider = Mutex(decide)
    }

    /// Runs the decider with `current` (the version is the store's to set: zero until then).
    func decide(_ current: (String?, String) -> KubeObject?) -> Result<Registry.Decision, Status> {
        let result: Result<Registry.Decision, Status> = decider.withLock { decide in
            do throws(Status) {
                return .success(try decide(current, .zero))
            } catch {
                return .failure(error)
            }
        }
        if case .success(let d) = result { name.withLock { $0 = d.result.name } }
        return result
    }

    /// The name of the object the last decision was about.
    var lastObject: String? { name.withLock { $0 } }
}

/// A cache fed by a ``SourceOfTruth``.
final class CacheFeed: ChangeFeedSink {
    let cache: ResourceCache
    let logger: Logger
    let relists: RelistCounter
    /// Signalled once, when the first list has filled the cache.
    let loaded = DispatchSemaphore(value: 0)
    private let first = Atomic(true)
    /// Tasks waiting for the first list, and whether it came.
    private let listed = Mutex<(done: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

    init(cache: ResourceCache, logger: Logger, relists: RelistCounter) {
        self.cache = cache
        self.logger = logger
        self.relists = relists
    }

    func replace(_ snapshot: StoreSnapshot) {
        cache.replace(with: snapshot)
        if first.exchange(false, ordering: .acquiringAndReleasing) {
            loaded.signal()
            let waiting = listed.withLock { l in
                l.done = true
                defer { l.waiting.removeAll() }
                return l.waiting
            }
            for continuation in waiting { continuation.resume() }
        } else {
            relists.count.add(1, ordering: .relaxed)
            logger.warning("relisted: watchers of this resource were ended and resume from their versions",
                           metadata: ["watchcache.resource": "\(cache.resource.qualifiedPlural)", "resource_version": "\(snapshot.version)"])
        }
    }

    /// Returns once the first list has filled the cache.
    func firstList() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done: Bool = listed.withLock { l in
                if !l.done { l.waiting.append(continuation) }
                return l.done
            }
            if done { continuation.resume() }
        }
    }

    func apply(_ change: Change) {
        do {
            try cache.apply(change)
        } catch {
            logger.error("a change from the storage could not be applied", metadata: ["error": "\(error.message)"])
        }
    }

    func progress(_ version: ResourceVersion) {
        cache.advance(to: version)
    }
}
