import Dispatch

extension ResourceCache {
    /// Starts a watch with Kubernetes' semantics for `options`.
    ///
    /// Invalid options throw a 400 BadRequest or 422 Invalid `Status` (an HTTP error, before the
    /// stream starts). A `resourceVersion` older than the history window is not thrown: the watcher
    /// delivers one ERROR event with the 410 Expired status and ends, as kube-apiserver's stream does.
    ///
    /// - Parameters:
    ///   - options: what to watch and from which version (``WatchOptions``).
    ///   - onReady: called (never under a lock) when the watcher has events again after a
    ///     pending ``Watcher/next(maxEvents:)``, or when it ends.
    public func watch(_ options: WatchOptions, onReady: @escaping @Sendable () -> Void) throws(Status) -> Watcher {
        try options.validate()
        let filter = try WatchFilter(resource: resource, namespace: options.namespace,
                                     labelSelector: options.labelSelector, fieldSelector: options.fieldSelector)
        let rvText = options.resourceVersion ?? ""
        let requested: ResourceVersion? = (rvText.isEmpty || rvText == "0") ? nil : try parseResourceVersion(rvText)
        let now = clock.now()
        // 0 is no deadline; a negative one has passed already (kube-apiserver's timer fires at once).
        let deadline = options.timeoutSeconds.flatMap { $0 == 0 ? nil : now + .seconds($0) }
        var loadArchive: (watcher: Watcher, after: ResourceVersion, through: ResourceVersion)?
        defer {
            // Read outside the lock and off the caller's thread (a transport's event loop), on
            // threads that wait for nothing else (see WorkerThreads).
            if let loadArchive {
                WorkerThreads.archive.submit { self.loadArchive(for: loadArchive.watcher, after: loadArchive.after, through: loadArchive.through) }
            }
        }

        return state.withLock { cs in
            let id = cs.nextWatcherID
            cs.nextWatcherID += 1
            let queueLimit = configuration.queueLimit(historyCapacity: cs.log.capacity, resourceIndexed: resource.indexedField != nil,
                                                      watcherIndexed: filter.indexValue != nil)
            var initial = WatcherState(phase: .live, lastVersion: cs.version, sendEndBookmark: false)
            var waitFor: ResourceVersion?
            var snapshot = false

            if cs.closed {
                _ = initial.finish(.cacheClosed, keepQueued: false)
            } else if let deadline, deadline <= now {
                _ = initial.finish(.timeout, keepQueued: false)
            } else if let sendInitialEvents = options.sendInitialEvents {
                if sendInitialEvents {
                    // Watch-list: the state at (at least) the requested version, then the end marker.
                    initial.sendEndBookmark = options.allowWatchBookmarks
                    if let requested, requested > cs.version { waitFor = requested } else { snapshot = true }
                } else if let requested {
                    initial = resumeState(after: requested, filter: filter, in: &cs)
                }
            } else if let requested {
                initial = resumeState(after: requested, filter: filter, in: &cs)
            } else {
                // Unset or "0": synthetic ADDED for the current state, then changes.
                snapshot = true
            }
            if let waitFor {
                initial.waitForVersion(waitFor, until: now + configuration.versionWaitTimeout)
            }

            let w = Watcher(id: id, filter: filter, allowBookmarks: options.allowWatchBookmarks, queueLimit: queueLimit,
                            deadline: deadline, cache: self, state: initial, onReady: onReady)
            if case .finished = initial.phase { return w }
            if case .loadingArchive(let after, let through) = initial.phase { loadArchive = (w, after, through) }

            metrics.watchersStarted.add(1)
            metrics.currentWatchers.add(1)
            if snapshot { startSnapshot(w, in: &cs) }
            if case .live = initial.phase, !snapshot {
                cs.watchers.insert(w)
                metrics.recordWatchInitEvents(0)  // resumed at the newest version: nothing to scan
            }
            if let waitFor {
                cs.waiters.append(VersionWaiter(target: waitFor, deadline: now + configuration.versionWaitTimeout, kind: .watch(w)))
            }
            if options.allowWatchBookmarks, let next = nextBookmarkTime(for: w, now: now) { cs.bookmarks.schedule(w, at: next) }
            if let deadline { cs.deadlines.schedule(w, at: deadline) }
            return w
        }
    }

    /// The state of a watcher resuming after `rv`: replay from the log, live if there is nothing to
    /// replay, loading from the archive if the log no longer reaches back to `rv` but the cache has
    /// one, or a 410 ERROR.
    private func resumeState(after rv: ResourceVersion, filter: WatchFilter, in cs: inout CacheState) -> WatcherState {
        let oldest = cs.log.resumableFrom
        if rv < oldest, archive != nil {
            return WatcherState(phase: .loadingArchive(after: rv, through: oldest), lastVersion: rv, sendEndBookmark: false)
        }
        if rv < oldest { return expiredState(rv, oldest: oldest) }
        var position = cs.log.firstPosition(after: rv)
        // An indexed replay starts at the pin's first event after `rv` (the end, if none: live at
        // once), so dropping older events of others from the log never ends it.
        if let index = cs.log.index, let positions = filter.replayPositions(in: index) {
            let i = positions.firstIndex(atLeast: position)
            position = i < positions.count ? positions[i] : cs.log.end
        }
        // A version ahead of the cache is not an error: the watch just waits for newer events.
        let phase: WatcherState.Phase = position == cs.log.end ? .live : .replay(position: position)
        return WatcherState(phase: phase, lastVersion: rv, sendEndBookmark: false)
    }

    /// One ERROR event with 410 Expired, then the end.
    private func expiredState(_ rv: ResourceVersion, oldest: ResourceVersion) -> WatcherState {
        metrics.watchesExpired.add(1)
        let status = Status.tooOldResourceVersion(rv, oldest: oldest)
        var s = WatcherState(phase: .finished(.error(status)), lastVersion: rv, sendEndBookmark: false)
        s.queue.append(WatchEvent(error: status))
        return s
    }

    /// Reads the events of `(after, through]` from the archive for `w`, then hands it to the
    /// archive-replay phase — or, when the archive no longer holds them (or the log moved past
    /// `through` meanwhile), ends it with 410 as the log alone would have.
    func loadArchive(for w: Watcher, after rv: ResourceVersion, through: ResourceVersion) {
        var events: [CacheEvent]?
        do {
            if let stored = try archive?.history(of: resource, after: rv, through: through) {
                events = try CacheEvent.fromStored(stored, resource: resource, now: clock.now(), wallNow: WallClock.secondsSince1970())
            }
        } catch {
            logger.error("reading the history archive failed; the watch gets 410", metadata: [
                "watchcache.resource": "\(resource.qualifiedPlural)", "error": "\(error)"])
        }
        var effects = DeferredEffects()
        state.withLock { cs in
            let expired: WatcherState? = w.state.withLock { ws in
                guard case .loadingArchive = ws.phase else { return nil }  // ended meanwhile
                if let events, cs.log.resumableFrom <= through {
                    ws.archiveLoaded(events, resumeAt: cs.log.firstPosition(after: through))
                    metrics.archiveReplays.add(1)
                    return nil
                }
                return expiredState(rv, oldest: cs.log.resumableFrom)
            }
            if let expired {
                w.state.withLock { ws in ws.queue.append(contentsOf: expired.queue) }
                finishLocked(w, in: &cs, reason: .error(expired.queue.first!.status!), keepQueued: true, effects: &effects)
            } else if w.state.withLock({ $0.takeWaiting() }) {
                effects.ready.append(w)
            }
        }
        effects.run(logger: logger)
    }

    /// Puts `w` in the snapshot phase: the objects it may select, in key order, as of now.
    func startSnapshot(_ w: Watcher, in cs: inout CacheState) {
        let objects = candidateObjects(for: w.filter, in: &cs)
        let version = cs.version
        let resumeAt = cs.log.end
        w.state.withLock { ws in
            ws.beginSnapshot(objects: objects, resumeAt: resumeAt, version: version)
        }
    }

    /// The objects a filter can select, narrowed by the index, the name or the namespace.
    func candidateObjects(for filter: WatchFilter, in cs: inout CacheState) -> [KubeObject] {
        candidateKeys(for: filter, in: &cs).compactMap { cs.store[$0] }
    }

    func candidateKeys(for filter: WatchFilter, in cs: inout CacheState) -> [String] {
        if let value = filter.indexValue { return cs.store.keys(indexedBy: value) }
        if let key = filter.key { return cs.store[key] == nil ? [] : [key] }
        if let namespace = filter.namespace, resource.namespaced { return cs.store.keys(inNamespace: namespace) }
        return cs.store.orderedKeys()
    }

    /// Copies the next chunk of `w`'s replay from the log (every event scanned is an init event,
    /// unless the watcher was parked: then it is catching up, not starting), and registers it for
    /// live dispatch once the replay reaches the newest event.
    func replay(_ w: Watcher, from position: Int) {
        var effects = DeferredEffects()
        state.withLock { cs in
            guard !cs.closed else {
                finishLocked(w, in: &cs, reason: .cacheClosed, keepQueued: true, effects: &effects)
                return
            }
            guard position >= cs.log.start else {
                // The events it still had to see were dropped; the client resumes and gets its 410.
                finishLocked(w, in: &cs, reason: .historyLost, keepQueued: true, effects: &effects)
                return
            }
            var caughtUp: Int?
            // Read once: a property read per event would copy the filter (and retain its parts) each time.
            let filter = w.filter
            let queueLimit = w.queueLimit
            let (scanned, parked, unlist): (Int, Bool, Bool) = w.state.withLock { ws in
                let parked = ws.parked
                let (scanned, reachedEnd) = ws.replayChunk(of: cs.log, from: position, chunk: configuration.replayChunk,
                                                            filter: filter, queueLimit: queueLimit)
                if reachedEnd {
                    ws.goLive(resource: resource)
                    if !parked { caughtUp = ws.initScanned }
                    cs.watchers.insert(w)
                }
                let unlist = reachedEnd && ws.inParkedList
                if unlist { ws.inParkedList = false }
                return (scanned, parked, unlist)
            }
            if unlist { cs.parked.removeAll { $0 === w } }
            metrics.initEvents.add(parked ? 0 : UInt64(scanned))
            if parked { metrics.parkedReplayEvents.add(UInt64(scanned)) }
            if let caughtUp { metrics.recordWatchInitEvents(caughtUp) }
        }
        effects.run(logger: logger)
    }
}
