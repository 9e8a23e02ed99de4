/// The commit pipeline: a write is decided under the lock against the newest staged state, then
/// persisted (inline, or by the committer in groups: one disk sync for many writers), applied to its
/// cache and fanned out, and acknowledged in version order.
extension Registry {
    /// A write's decision: the change, what the client gets back, and the object's state before.
    typealias Decision = (change: Change?, result: KubeObject, previous: KubeObject?)
    /// Decides a write from the newest state of objects (by namespace and name) and the version
    /// the write will have (with a source of truth: a placeholder, the store sets it).
    typealias Decider = (_ current: (String?, String) -> KubeObject?, _ version: ResourceVersion) throws(Status) -> Decision

    /// Runs `decide` under the lock with the next version and the newest (staged) objects, then
    /// persists, applies and acknowledges the change — inline, or through the committer.
    func submit(_ resource: ResourceDescriptor, dryRun: Bool, completion: @escaping @Sendable (Result<KubeObject, Status>) -> Void,
                decide: sending @escaping Decider) {
        guard let cache = cache(for: resource) else {
            return completion(.failure(Status(code: 404, reason: .notFound,
                                              message: "the server could not find the requested resource (\(resource.qualifiedPlural))")))
        }
        if let source {
            return submit(to: source, cache: cache, dryRun: dryRun, completion: completion, decide: decide)
        }
        let inline = storage.persistsInline
        var effects = DeferredEffects()
        var startCommitter = false
        let outcome: Result<KubeObject, Status>? = state.withLock { s in
            guard s.recovered != nil else { return .failure(Self.loadingStatus) }
            let version = s.assigned.next
            let decision: Decision
            do throws(Status) {
                let staged = s.staged
                decision = try decide({ namespace, name in
                    let key = resource.namespaced ? "\(namespace ?? "")/\(name)" : name
                    if let pending = staged[Self.stagedKey(resource, key)] { return pending.object }
                    return cache.get(namespace: namespace, name: name)
                }, version)
            } catch {
                return .failure(error)
            }
            // Nothing to write (a delete already pending): the answer is the object as it is.
            guard let change = decision.change else { return .success(decision.result) }
            if dryRun { return .success(decision.result) }
            let write = StoredWrite(resource: resource, change: change, previous: decision.previous, wallTime: WallClock.secondsSince1970())
            if inline {
                do {
                    try storage.persist([write])
                } catch {
                    return .failure(.internalError("storage did not persist the write: \(error)"))
                }
                s.assigned = version
                s.version = version
                do throws(Status) {
                    try cache.apply(change, effects: &effects)
                } catch {
                    return .failure(error)
                }
                for other in s.order where other !== cache { other.advance(to: version, effects: &effects) }
                return .success(decision.result)
            }
            s.assigned = version
            let key = Self.stagedKey(resource, decision.result.key)
            if case .delete = change {
                s.staged[key] = StagedObject(version: version, object: nil)
            } else {
                s.staged[key] = StagedObject(version: version, object: decision.result)
            }
            s.pending.append(PendingWrite(write: write, cache: cache, stagedKey: key, result: decision.result, completion: completion))
            if !s.committing {
                s.committing = true
                startCommitter = true
            }
            return nil
        }
        effects.run(logger: logger)
        if let outcome { completion(outcome) }
        if startCommitter { committer.async { self.drainCommits() } }
    }

    /// The committer: persists pending writes in groups, applies them in order, acknowledges them.
    private func drainCommits() {
        while true {
            let batch: [PendingWrite] = state.withLock { s in
                let n = min(s.pending.count, Self.maximumBatch)
                if n == 0 { s.committing = false }
                defer { s.pending.removeFirst(n) }
                return Array(s.pending.prefix(n))
            }
            if batch.isEmpty { return }
            var failure: Status?
            do {
                try storage.persist(batch.map(\.write))
            } catch {
                failure = .internalError("storage did not persist the write: \(error)")
                logger.error("storage did not persist \(batch.count) writes", metadata: ["error": "\(error)"])
            }
            var effects = DeferredEffects()
            if failure != nil {
                // Writes staged after the failed ones were checked against them: they fail too.
                let dependents: [PendingWrite] = state.withLock { s in
                    defer {
                        s.pending.removeAll()
                        s.staged.removeAll()
                    }
                    return s.pending
                }
                for p in batch + dependents { p.completion(.failure(failure!)) }
                continue
            }
            // Applied and fanned out outside the registry's lock (this committer is the only one
            // applying, in version order): writers keep staging meanwhile, deciding against the
            // staged state, which stays until its write is in the cache.
            for p in batch {
                do throws(Status) {
                    try p.cache.apply(p.write.change, effects: &effects)
                } catch {
                    logger.error("a persisted write could not be applied", metadata: ["error": "\(error)"])
                }
            }
            let version = batch[batch.count - 1].write.version
            let caches: [ResourceCache] = state.withLock { s in
                for p in batch where s.staged[p.stagedKey]?.version == p.write.version { s.staged[p.stagedKey] = nil }
                s.version = version
                return s.order
            }
            for cache in caches { cache.advance(to: version, effects: &effects) }
            effects.run(logger: logger)
            for p in batch { p.completion(.success(p.result)) }
        }
    }

    private static func stagedKey(_ resource: ResourceDescriptor, _ key: String) -> String {
        resource.description + "|" + key
    }
}
