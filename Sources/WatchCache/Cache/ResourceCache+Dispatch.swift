/// Fan-out and the slow-watcher policy: an event goes to the candidate watchers of the trigger
/// index, each filtering and queueing the shared bytes. A watcher whose queue is full when an
/// event for it comes is parked (``SlowWatcherPolicy/park``): it leaves dispatch and reads the log
/// from that event once its consumer has drained the queue. Under ``SlowWatcherPolicy/terminate``
/// it is blocked instead, and the blocked ones share one time budget — drained in time they go
/// free (and the unused budget back), still full when it runs out (or at twice the limit) they are
/// ended, as kube-apiserver's cacher ends an unresponsive watcher.
extension ResourceCache {
    /// Queues `event` (the log's newest) for the watchers it concerns (the trigger index's
    /// candidates, filtered).
    func dispatch(_ event: CacheEvent, in cs: inout CacheState, now: Timestamp, effects: inout DeferredEffects) {
        var newlyBlocked: [Watcher] = []
        var parked: [Watcher] = []
        let parking = configuration.slowWatchers == .park
        let position = cs.log.end - 1
        cs.watchers.forEachCandidate(for: event) { w in
            w.state.withLock { ws in
                guard ws.isLive else { return }
                if parking, ws.queue.count >= w.queueLimit {
                    if ws.park(at: position, for: event, filter: w.filter) {
                        parked.append(w)
                        ws.inParkedList = true
                    }
                    return
                }
                guard ws.enqueue(event, filter: w.filter) else { return }
                if ws.takeWaiting() { effects.ready.append(w) }
                if ws.queue.count > w.queueLimit { newlyBlocked.append(w) }
            }
        }
        if !parked.isEmpty {
            for w in parked { cs.watchers.remove(w) }
            // Not listed already: a watcher leaves the list when it goes live or ends.
            cs.parked += parked
            cs.parkedLowest = min(cs.parkedLowest, position)
            metrics.watchersParked.add(UInt64(parked.count))
        }
        if !newlyBlocked.isEmpty {
            for w in newlyBlocked where !cs.blocked.contains(where: { $0 === w }) { cs.blocked.append(w) }
            if cs.blockedWindowEnd == nil {
                cs.blockedWindowEnd = now + cs.budget.takeAvailable(now: now)
            }
        }
        reviewBlocked(&cs, now: now, effects: &effects)
    }

    /// Ends the parked watchers whose next event the log has dropped (the consumer gets what it
    /// has queued, then ``WatchEndReason/historyLost``), so a client that stopped reading does not
    /// hold its stream open behind a window that moved on. Looks only when the log's start passed
    /// the lowest position a parked watcher was at.
    func endParkedBehindTheLog(_ cs: inout CacheState, effects: inout DeferredEffects) {
        guard cs.log.start > cs.parkedLowest else { return }
        var behind: [Watcher] = []
        var lowest = Int.max
        for w in cs.parked {
            let position: Int? = w.state.withLock { ws in
                guard ws.parked, case .replay(let p) = ws.phase else { return nil }
                return p
            }
            guard let position else { continue }
            if position < cs.log.start { behind.append(w) } else { lowest = min(lowest, position) }
        }
        for w in behind { finishLocked(w, in: &cs, reason: .historyLost, keepQueued: true, effects: &effects) }
        cs.parkedLowest = lowest
    }

    /// Ends every parked watcher (a relist, or the cache closing).
    func endParked(_ cs: inout CacheState, reason: WatchEndReason, effects: inout DeferredEffects) {
        for w in cs.parked { finishLocked(w, in: &cs, reason: reason, keepQueued: true, effects: &effects) }
        cs.parked.removeAll()
        cs.parkedLowest = .max
    }

    /// Called by a consumer whose queue went back under its limit, so the budget it did not need is
    /// returned now rather than at the next tick.
    func watcherDrained() {
        let now = clock.now()
        var effects = DeferredEffects()
        state.withLock { cs in reviewBlocked(&cs, now: now, effects: &effects) }
        effects.run(logger: logger)
    }

    /// Lets watchers that drained their queues off the blocked list (returning unused budget when
    /// all have) and terminates those still blocked when the window has ended or whose queue grew
    /// past twice its limit.
    func reviewBlocked(_ cs: inout CacheState, now: Timestamp, effects: inout DeferredEffects) {
        guard let windowEnd = cs.blockedWindowEnd else { return }
        var stillBlocked: [Watcher] = []
        var toTerminate: [(Watcher, Int)] = []
        for w in cs.blocked {
            let queued = w.state.withLock { $0.isFinished ? -1 : $0.queue.count }
            if queued < 0 || queued <= w.queueLimit { continue }
            if now >= windowEnd || queued > 2 * w.queueLimit + 100 { toTerminate.append((w, queued)) } else { stillBlocked.append(w) }
        }
        for (w, queued) in toTerminate {
            let graceful = w.state.withLock { $0.queue.contains { $0.isInitialEventsEnd } }
            finishLocked(w, in: &cs, reason: .terminatedSlow, keepQueued: graceful, effects: &effects)
            metrics.watchersTerminated.add(1)
            effects.terminated.append((w, queued, graceful))
        }
        cs.blocked = stillBlocked
        if stillBlocked.isEmpty {
            if now < windowEnd { cs.budget.returnUnused(windowEnd - now) }
            cs.blockedWindowEnd = nil
        }
    }
}
