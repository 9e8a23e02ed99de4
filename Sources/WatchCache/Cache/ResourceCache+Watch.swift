extension ResourceCache {
    /// Starts a watch with Kubernetes' semantics for `options`.
    ///
    /// Invalid options throw a 400 BadRequest or 422 Invalid `Status` (an HTTP error, before the
    /// stream starts). A `resourceVersion` older than the history window is not thrown: the watcher
    /// delivers one ERROR event with the 410 Expired status and ends, as kube-apiserver's stream does.
    ///
    /// - Parameter onReady: called (never under a lock) when the watcher has events again after a
    ///   pending ``Watcher/next(maxEvents:)``, or when it ends.
    public func watch(_ options: WatchOptions, onReady: @escaping @Sendable () -> Void) throws(Status) -> Watcher {
        try options.validate()
        let filter = try WatchFilter(resource: resource, namespace: options.namespace,
                                     labelSelector: options.labelSelector, fieldSelector: options.fieldSelector)
        let rvText = options.resourceVersion ?? ""
        let requested: ResourceVersion? = (rvText.isEmpty || rvText == "0") ? nil : try parseResourceVersion(rvText)
        let now = clock.now()
        let deadline = options.timeoutSeconds.flatMap { $0 > 0 ? now + .seconds($0) : nil }
        let resuming = options.sendInitialEvents != true ? requested : nil
        let archived = resuming.flatMap { readArchive(after: $0) }

        return state.withLock { cs in
            let id = cs.nextWatcherID
            cs.nextWatcherID += 1
            let queueLimit = configuration.queueLimit(historyCapacity: cs.log.capacity, resourceIndexed: resource.indexedField != nil,
                                                      watcherIndexed: filter.indexValue != nil)
            var initial = WatcherState(phase: .live, lastVersion: cs.version, sendEndBookmark: false)
            var waitFor: ResourceVersion?
            var snapshot = false

            if cs.closed {
                initial.phase = .finished(.cacheClosed)
            } else if let sendInitialEvents = options.sendInitialEvents {
                if sendInitialEvents {
                    // Watch-list: the state at (at least) the requested version, then the end marker.
                    initial.sendEndBookmark = options.allowWatchBookmarks
                    if let requested, requested > cs.version { waitFor = requested } else { snapshot = true }
                } else if let requested {
                    initial = resumeState(after: requested, archived: archived, in: &cs)
                }
            } else if let requested {
                initial = resumeState(after: requested, archived: archived, in: &cs)
            } else {
                // Unset or "0": synthetic ADDED for the current state, then changes.
                snapshot = true
            }
            if let waitFor {
                initial.phase = .waitingForVersion(waitFor, deadline: now + configuration.versionWaitTimeout)
            }

            let w = Watcher(id: id, filter: filter, allowBookmarks: options.allowWatchBookmarks, queueLimit: queueLimit,
                            deadline: deadline, cache: self, state: initial, onReady: onReady)
            if case .finished = initial.phase { return w }

            metrics.watchersStarted.add(1, ordering: .relaxed)
            metrics.currentWatchers.add(1, ordering: .relaxed)
            if snapshot { startSnapshot(w, in: &cs) }
            if case .live = initial.phase, !snapshot {
                cs.watchers.insert(w)
                metrics.watchInitEvents.withLock { $0.record(0) }  // resumed at the newest version: nothing to scan
            }
            if let waitFor {
                cs.waiters.append(VersionWaiter(target: waitFor, deadline: now + configuration.versionWaitTimeout, kind: .watch(w)))
            }
            if options.allowWatchBookmarks, let next = nextBookmarkTime(for: w, now: now) { cs.bookmarks.schedule(w, at: next) }
            if let deadline { cs.deadlines.schedule(w, at: deadline) }
            return w
        }
    }

    /// The state of a watcher resuming after `rv`: replay from the log (after the storage's
    /// `archived` events when the log no longer reaches back to `rv`), live if there is nothing to
    /// replay, or a 410 ERROR if neither holds the history after `rv`.
    private func resumeState(after rv: ResourceVersion, archived: ArchivedHistory?, in cs: inout CacheState) -> WatcherState {
        let oldest = cs.log.resumableFrom
        if rv < oldest, let archived, archived.after == rv, archived.through >= oldest {
            let resumeAt = cs.log.firstPosition(after: archived.through)
            return WatcherState(phase: .archive(events: archived.events, next: 0, resumeAt: resumeAt), lastVersion: rv, sendEndBookmark: false)
        }
        if rv < oldest {
            metrics.watchesExpired.add(1, ordering: .relaxed)
            let status = Status.tooOldResourceVersion(rv, oldest: oldest)
            var s = WatcherState(phase: .finished(.error(status)), lastVersion: rv, sendEndBookmark: false)
            s.queue.append(WatchEvent(error: status))
            return s
        }
        let position = cs.log.firstPosition(after: rv)
        // A version ahead of the cache is not an error: the watch just waits for newer events.
        let phase: WatcherState.Phase = position == cs.log.end ? .live : .replay(position: position)
        return WatcherState(phase: phase, lastVersion: rv, sendEndBookmark: false)
    }

    /// Events of this resource from the archive, in `(after, through]`.
    struct ArchivedHistory {
        var after: ResourceVersion
        var through: ResourceVersion
        var events: [CacheEvent]
    }

    /// The archive's events after `rv` up to where the log takes over — `nil` when the log still
    /// reaches back to `rv`, there is no archive, or the archive no longer holds them. Reads the
    /// storage outside the lock.
    private func readArchive(after rv: ResourceVersion) -> ArchivedHistory? {
        guard let archive else { return nil }
        let through = state.withLock { $0.log.resumableFrom }
        guard rv < through else { return nil }
        do {
            guard let stored = try archive.history(of: resource, after: rv, through: through) else { return nil }
            let events = try CacheEvent.fromStored(stored, resource: resource, now: clock.now(), wallNow: WallClock.secondsSince1970())
            metrics.archiveReads.add(1, ordering: .relaxed)
            return ArchivedHistory(after: rv, through: through, events: events)
        } catch {
            logger.error("reading the history archive failed; the watch gets 410", metadata: [
                "watchcache.resource": "\(resource.qualifiedPlural)", "error": "\(error)"])
            return nil
        }
    }

    /// Puts `w` in the snapshot phase: the objects it may select, in key order, as of now.
    func startSnapshot(_ w: Watcher, in cs: inout CacheState) {
        let objects = candidateObjects(for: w.filter, in: &cs)
        let version = cs.version
        let resumeAt = cs.log.end
        w.state.withLock { ws in
            ws.phase = .snapshot(objects: objects, next: 0, resumeAt: resumeAt, version: version)
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

    /// Copies the next chunk of `w`'s replay from the log (every event scanned is an init event),
    /// and registers it for live dispatch once the replay reaches the newest event.
    func replay(_ w: Watcher, from position: Int) {
        var effects = DeferredEffects()
        state.withLock { cs in
            guard position >= cs.log.start else {
                // The events it still had to see were dropped; the client resumes and gets its 410.
                finishLocked(w, in: &cs, reason: .historyLost, keepQueued: true, effects: &effects)
                return
            }
            var caughtUp: Int?
            // Read once: a property read per event would copy the filter (and retain its parts) each time.
            let filter = w.filter
            let queueLimit = w.queueLimit
            let scanned: Int = w.state.withLock { ws in
                guard case .replay(let current) = ws.phase, current == position else { return 0 }
                var p = position
                let stop = min(cs.log.end, position + configuration.replayChunk)
                while p < stop, ws.queue.count < queueLimit {
                    _ = ws.enqueue(cs.log[p], filter: filter)
                    p += 1
                }
                ws.initScanned += p - position
                if p == cs.log.end {
                    ws.phase = .live
                    caughtUp = ws.initScanned
                    cs.watchers.insert(w)
                    if let due = ws.pendingBookmark, due > ws.lastVersion {
                        ws.queue.append(WatchEvent.bookmark(for: resource, at: due))
                        ws.lastVersion = due
                    }
                    ws.pendingBookmark = nil
                } else {
                    ws.phase = .replay(position: p)
                }
                return p - position
            }
            metrics.initEvents.add(UInt64(scanned), ordering: .relaxed)
            if let caughtUp { metrics.watchInitEvents.withLock { $0.record(caughtUp) } }
        }
        effects.run(logger: logger)
    }
}
