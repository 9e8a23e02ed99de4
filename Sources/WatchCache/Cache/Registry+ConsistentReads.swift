import CoreMetrics
/// Reads with `resourceVersion` unset (KEP-2340): served from the cache once it holds the store's
/// current state.
extension Registry {
    /// How long a consistent read waits for the cache to catch up before reading the store itself.
    static let consistentReadWait: Duration = .seconds(3)

    /// Where a consistent read of `cache`'s resource (LIST or GET with `resourceVersion` unset) is
    /// served from: `cache` itself once it holds the store's current state, else — after
    /// three seconds — a snapshot read from the store. An in-process feed (the embedded
    /// storages) reaches the caches before a write is acknowledged, so there the cache is always
    /// current.
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
        guard consistent, !source.feedsBeforeAcknowledging else { return completion(.success(cache)) }
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
                // A holder of one read's snapshot, not a cache to report on.
                completion(.success(ResourceCache(resource: cache.resource, configuration: configuration, clock: clock,
                                                  version: snapshot.version, objects: snapshot.objects,
                                                  metricsFactory: NOOPMetricsHandler.instance, logger: logger)))
            } catch {
                completion(.failure(Self.storageStatus(error)))
            }
        }
    }
}

extension Registry {
    /// One object for a GET: with `consistent` (`resourceVersion` unset) and a store the caches
    /// follow remotely, read from the store itself — one key through its quorum, as kube-apiserver
    /// serves such a GET from etcd — instead of a census of the whole resource; otherwise from
    /// `cache`, at once. `nil`: there is no such object.
    public func consistentGet(of cache: ResourceCache, namespace: String?, name: String, consistent: Bool = true,
                              completion: @escaping @Sendable (Result<KubeObject?, Status>) -> Void) {
        guard consistent, !source.feedsBeforeAcknowledging else { return completion(.success(cache.get(namespace: namespace, name: name))) }
        guard isReady else { return completion(.failure(Self.loadingStatus)) }
        source.get(cache.resource, namespace: namespace, name: name) { result in
            completion(result.mapError { Self.storageStatus($0) })
        }
    }
}
