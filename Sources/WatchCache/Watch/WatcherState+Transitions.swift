/// Every change of a watcher's phase (see the diagram on ``WatcherState``), in one place: the
/// cache and the consumer call these under the watcher's lock (and, where they touch the log or
/// the watcher index, under the cache's lock too) and never set `phase` themselves.
extension WatcherState {
    /// Start: wait for the cache to reach `version` (a watch-list ahead of it), until `deadline`.
    mutating func waitForVersion(_ version: ResourceVersion, until deadline: Timestamp) {
        precondition(!isFinished, "a finished watch does not wait")
        phase = .waitingForVersion(version, deadline: deadline)
    }

    /// Start, or the version waited for is reached: synthetic ADDED events for `objects` (the store
    /// at `version`), then the log from `resumeAt`.
    mutating func beginSnapshot(objects: [KubeObject], resumeAt: Int, version: ResourceVersion) {
        precondition(!isFinished, "a finished watch takes no snapshot")
        phase = .snapshot(objects: objects, next: 0, resumeAt: resumeAt, version: version)
    }

    /// The storage's history of the versions the log no longer holds has been read: replay it, then
    /// the log from `resumeAt`.
    mutating func archiveLoaded(_ events: [CacheEvent], resumeAt: Int) {
        guard case .loadingArchive = phase else { preconditionFailure("no archive was being loaded") }
        phase = .archive(events: events, next: 0, resumeAt: resumeAt)
    }

    /// The consumer's pull from the archive: queues up to `max` events (every one scanned is an
    /// init event, as from the log); the archive done, the log replay follows.
    mutating func pullArchive(max: Int, filter: WatchFilter, scanned: inout Int) {
        guard case .archive(let archived, var next, let resumeAt) = phase else { return }
        while next < archived.count, queue.count < max {
            _ = enqueue(archived[next], filter: filter)
            next += 1
            scanned += 1
            initScanned += 1
        }
        phase = next < archived.count ? .archive(events: archived, next: next, resumeAt: resumeAt) : .replay(position: resumeAt)
    }

    /// The consumer's pull from the snapshot: synthetic ADDED events for up to `max` objects that
    /// match (every object scanned is an init event); the snapshot done, the watch-list's end
    /// bookmark if asked for, then the log replay.
    mutating func pullSnapshot(max: Int, filter: WatchFilter, resource: ResourceDescriptor, scanned: inout Int) {
        guard case .snapshot(let objects, var next, let resumeAt, let version) = phase else { return }
        while next < objects.count, queue.count < max {
            let object = objects[next]
            next += 1
            scanned += 1
            initScanned += 1
            if filter.matches(object) { queue.append(WatchEvent(type: .added, object: object)) }
        }
        if next < objects.count {
            phase = .snapshot(objects: objects, next: next, resumeAt: resumeAt, version: version)
            return
        }
        lastVersion = Swift.max(lastVersion, version)
        if sendEndBookmark {
            queue.append(WatchEvent.bookmark(for: resource, at: version, initialEventsEnd: true))
            sendEndBookmark = false
        }
        phase = .replay(position: resumeAt)
    }

    /// One chunk of the log replay from `position` (at most `chunk` events, while the queue is
    /// under `queueLimit`). Returns the events scanned and whether the replay reached the log's
    /// end — the caller then registers the watcher and calls ``goLive(resource:)`` under the same
    /// cache lock, so no event falls between replay and dispatch.
    ///
    /// With the log's replay index and a filter pinned to an indexed value, an object or a
    /// namespace, only that pin's events are visited (and counted as scanned); the replay then
    /// waits at the pin's next event.
    mutating func replayChunk(of log: EventLog, from position: Int, chunk: Int, filter: WatchFilter,
                              queueLimit: Int) -> (scanned: Int, reachedEnd: Bool) {
        guard case .replay(let current) = phase, current == position else { return (0, false) }
        if let index = log.index, let positions = filter.replayPositions(in: index) {
            var i = positions.firstIndex(atLeast: position)
            var visited = 0
            while i < positions.count, visited < chunk, queue.count < queueLimit {
                _ = enqueue(log[positions[i]], filter: filter)
                i += 1
                visited += 1
            }
            initScanned += visited
            if i == positions.count { return (visited, true) }
            phase = .replay(position: positions[i])
            return (visited, false)
        }
        var p = position
        let stop = Swift.min(log.end, position + chunk)
        let required = filter.digestRequirement
        let labels = log.labels.scan(for: filter.labels)
        let fields = log.fieldValues.scan(for: filter.fields)
        let checksValues = labels.valueTerms > 0 || fields.terms > 0
        if !required.isEmpty || !labels.isEmpty || fields.terms > 0 {
            // Only the digests beside the events (and, for selectors on values, the value ids
            // beside them) are read: an event whose object cannot match before or after the
            // change is passed over (it still counts as examined).
            while p < stop, queue.count < queueLimit {
                let (now, before) = required.sides(log.digest(at: p), selector: labels)
                // The values beside the digests are read only for the events that pass them.
                if now || before, !checksValues || log.values(at: p).admit(labels: labels, fields: fields, now: now, before: before) {
                    _ = enqueue(log[p], filter: filter)
                }
                p += 1
            }
        } else {
            while p < stop, queue.count < queueLimit {
                _ = enqueue(log[p], filter: filter)
                p += 1
            }
        }
        initScanned += p - position
        if p == log.end { return (p - position, true) }
        phase = .replay(position: p)
        return (p - position, false)
    }

    /// Its queue is full and `event` (at log `position`) is for it: it stops taking live events
    /// and replays the log from `position` once its consumer has drained the queue (the caller
    /// unregisters it from dispatch under the same cache lock). Returns `false`, staying live, when
    /// the event is not for it.
    mutating func park(at position: Int, for event: CacheEvent, filter: WatchFilter) -> Bool {
        guard case .live = phase else { preconditionFailure("only a live watcher parks") }
        guard event.resourceVersion > lastVersion, Self.convert(event, filter: filter) != nil else { return false }
        phase = .replay(position: position)
        parked = true
        return true
    }

    /// The replay has caught up: the dispatcher delivers from now on; a bookmark that came due
    /// meanwhile is queued first.
    mutating func goLive(resource: ResourceDescriptor) {
        precondition(!isFinished, "a finished watch does not go live")
        phase = .live
        parked = false
        if let due = pendingBookmark, due > lastVersion {
            queue.append(WatchEvent.bookmark(for: resource, at: due))
            lastVersion = due
        }
        pendingBookmark = nil
    }
}
