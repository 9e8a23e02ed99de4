import Synchronization

/// How the caches follow the source of truth: one feed per resource, started at ``Registry/recover()``
/// (or at registration, for a resource registered later).
extension Registry {
    /// Starts the feed of every registered cache and waits for each to have its first list,
    /// blocking this thread (never call it on the Swift concurrency pool: etcd's feeds run there;
    /// an embedded storage's first lists are made on this thread).
    func followSource() throws {
        for feed in startFeeds() { feed.loaded.wait() }
        // An embedded storage whose objects could not be loaded does not open: nothing may be
        // written over what it holds.
        if let failure = embedded?.loadFailure { throw failure }
        open()
    }

    /// ``recover()`` without blocking a thread: with etcd, starts the feeds and returns once every
    /// registered cache has its first list; with an embedded storage, loads it.
    public func recoverWithoutBlocking() async throws {
        if embedded != nil { return try recover() }
        for feed in startFeeds() { await feed.firstList() }
        open()
    }

    private func startFeeds() -> [CacheFeed] {
        let caches = state.withLock { s in
            precondition(!s.started, "recover() is called once")
            s.started = true
            return s.order
        }
        return caches.map { follow($0) }
    }

    private func open() {
        embedded?.open()
        ready.store(true, ordering: .releasing)
    }

    /// Starts following the source for `cache`.
    func follow(_ cache: ResourceCache) -> CacheFeed {
        let feed = CacheFeed(cache: cache, logger: logger, relists: feedRelists)
        let subscription = source.follow(cache.resource, sink: feed)
        feeds.withLock { $0.append(subscription) }
        return feed
    }

    /// How many times a cache listed the source of truth again after its first list (its feed
    /// fell behind etcd's compaction): `watchcache_storage_relists_total`. Reconnections that resume
    /// from the last revision are not relists.
    public var storageRelists: Int { Int(feedRelists.load()) }
}
