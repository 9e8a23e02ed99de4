import Synchronization

/// The commit pipeline, one for every storage: a write is decided against the newest state its
/// cache knows, committed to the ``SourceOfTruth`` with the matching precondition, decided again
/// from the store's own answer when the precondition fails (kube-apiserver's `GuaranteedUpdate`),
/// and acknowledged once its cache has seen it — so a client reads its own write from this server
/// at any `resourceVersion`.
extension Registry {
    /// A write's decision: the change, what the client gets back, and the object's state before.
    typealias Decision = (change: Change?, result: KubeObject, previous: KubeObject?)
    /// Decides a write from the newest state of objects (by namespace and name) and the version
    /// the write will have (a placeholder: the store sets it).
    typealias Decider = (_ current: (String?, String) -> KubeObject?, _ version: ResourceVersion) throws(Status) -> Decision

    /// How many times a write is decided again after its precondition failed (kube-apiserver's
    /// `GuaranteedUpdate` keeps trying until its request times out; every failed attempt means
    /// another writer's attempt succeeded).
    static let maximumAttempts = 100

    /// Decides, commits and acknowledges one write (see ``WriteAttempts``).
    func submit(_ resource: ResourceDescriptor, dryRun: Bool, completion: @escaping @Sendable (Result<KubeObject, Status>) -> Void,
                decide: sending @escaping Decider) {
        guard let cache = cache(for: resource) else {
            return completion(.failure(Status(code: 404, reason: .notFound,
                                              message: "the server could not find the requested resource (\(resource.qualifiedPlural))")))
        }
        guard isReady else { return completion(.failure(Self.loadingStatus)) }
        WriteAttempts(source: source, cache: cache, dryRun: dryRun, decider: DeciderBox(decide), completion: completion).next()
    }

    /// A storage failure as clients see it: a `Status` the storage made, or 500.
    static func storageStatus(_ error: any Error) -> Status {
        (error as? Status) ?? .internalError("storage: \(error)")
    }
}

/// One write on its way through the pipeline: its attempts, and what the store answered to the
/// earlier ones. Each step continues in the completion of the last (no task of its own: with an
/// embedded storage a write runs on its writer's and the committer's threads).
final class WriteAttempts: Sendable {
    let source: any SourceOfTruth
    let cache: ResourceCache
    let dryRun: Bool
    let decider: DeciderBox
    let completion: @Sendable (Result<KubeObject, Status>) -> Void
    /// Objects as the store answered (to a failed attempt, or a read): newer than the cache's.
    private let answers = Mutex<(objects: [String: KubeObject?], attempts: Int)>(([:], 0))

    init(source: any SourceOfTruth, cache: ResourceCache, dryRun: Bool, decider: DeciderBox,
         completion: @escaping @Sendable (Result<KubeObject, Status>) -> Void) {
        self.source = source
        self.cache = cache
        self.dryRun = dryRun
        self.decider = decider
        self.completion = completion
    }

    /// Decides the write against what the cache holds, overlaid with the store's answers, and
    /// commits it.
    func next() {
        let resource = cache.resource
        let (known, attempt) = answers.withLock { a in
            a.attempts += 1
            return (a.objects, a.attempts)
        }
        guard attempt <= Registry.maximumAttempts else {
            return completion(.failure(Status.conflict(resource, name: decider.lastObject ?? "")))
        }
        let asked = Mutex<[(namespace: String?, name: String)]>([])
        let decided = decider.decide { [cache] namespace, name in
            if let answered = known[Self.key(resource, namespace, name)] { return answered }
            asked.withLock { $0.append((namespace, name)) }
            return cache.get(namespace: namespace, name: name)
        }
        let decision: Registry.Decision
        switch decided {
        case .failure(let error):
            // Refused on the cache's word (not found, exists, another version): the cache may
            // trail the store (a write through another replica a moment ago, or one waiting for
            // the disk), so the decision is made again from the store's own answer before it stands.
            let unverified = asked.withLock { $0 }
            guard [404, 409].contains(error.code), !unverified.isEmpty else { return completion(.failure(error)) }
            return verify(unverified[...])
        case .success(let d):
            decision = d
        }
        guard let change = decision.change, !dryRun else { return completion(.success(decision.result)) }
        let write = GuardedWrite(resource: resource, change: change,
                                 precondition: decision.previous.map { .version($0.resourceVersion) } ?? .absent)
        source.commit(write) { [self] outcome in
            switch outcome {
            case .failure(let error):
                completion(.failure(Registry.storageStatus(error)))
            case .success(.committed(let version, let stored)):
                let result = if let stored, decision.result === write.object { stored } else { decision.result.withResourceVersion(version) }
                // Visible here before it is acknowledged; the write stands even if the feed is late.
                cache.whenReached(version) { [completion] _ in completion(.success(result)) }
            case .success(.conflict(let current)):
                answers.withLock { $0.objects[write.object.key] = .some(current) }
                next()
            }
        }
    }

    /// Reads `objects` from the store, then decides again.
    private func verify(_ objects: ArraySlice<(namespace: String?, name: String)>) {
        guard let (namespace, name) = objects.first else { return next() }
        let resource = cache.resource
        source.get(resource, namespace: namespace, name: name) { [self] result in
            switch result {
            case .failure(let error):
                completion(.failure(Registry.storageStatus(error)))
            case .success(let object):
                answers.withLock { $0.objects[Self.key(resource, namespace, name)] = .some(object) }
                verify(objects.dropFirst())
            }
        }
    }

    private static func key(_ resource: ResourceDescriptor, _ namespace: String?, _ name: String) -> String {
        resource.namespaced ? "\(namespace ?? "")/\(name)" : name
    }
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

