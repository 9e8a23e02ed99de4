import Dispatch
import Logging
import Synchronization

/// A cache fed by a ``SourceOfTruth``.
final class CacheFeed: ChangeFeedSink {
    let cache: ResourceCache
    let logger: Logger
    let relists: ReportedCounter
    /// Signalled once, when the first list has filled the cache.
    let loaded = DispatchSemaphore(value: 0)
    private let first = Atomic(true)
    /// Tasks waiting for the first list, and whether it came.
    private let listed = Mutex<(done: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

    init(cache: ResourceCache, logger: Logger, relists: ReportedCounter) {
        self.cache = cache
        self.logger = logger
        self.relists = relists
    }

    func replace(_ snapshot: StoreSnapshot) {
        cache.replace(with: snapshot)
        filled(relist: true)
    }

    /// The first list of an embedded storage: its objects and the newest stored history, which
    /// refills the window (a client resumes across a restart without a 410).
    func restore(version: ResourceVersion, objects: [KubeObject], history: [StoredEvent], historyFloor: ResourceVersion) throws(Status) {
        try cache.restore(version: version, objects: objects, history: history, historyFloor: historyFloor)
        filled(relist: false)
    }

    private func filled(relist: Bool) {
        if first.exchange(false, ordering: .acquiringAndReleasing) {
            loaded.signal()
            let waiting = listed.withLock { l in
                l.done = true
                defer { l.waiting.removeAll() }
                return l.waiting
            }
            for continuation in waiting { continuation.resume() }
        } else if relist {
            relists.add(1)
            logger.warning("relisted: watchers of this resource were ended and resume from their versions",
                           metadata: ["watchcache.resource": "\(cache.resource.qualifiedPlural)", "resource_version": "\(cache.currentVersion)"])
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

    /// ``apply(_:)`` leaving the wake-ups to the caller (an in-process feed runs them once per group).
    func apply(_ change: Change, effects: inout DeferredEffects) throws(Status) {
        try cache.apply(change, effects: &effects)
    }

    /// ``progress(_:)`` leaving the wake-ups to the caller.
    func progress(_ version: ResourceVersion, effects: inout DeferredEffects) {
        cache.advance(to: version, effects: &effects)
    }
}
