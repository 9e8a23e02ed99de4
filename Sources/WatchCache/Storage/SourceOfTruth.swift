/// A store that assigns versions itself and that the caches follow through its change feed — etcd,
/// as kube-apiserver has it (its `storage.Interface` and the cacher's reflector), and the embedded
/// storages (SQLite, memory), which a ``Registry`` puts behind this protocol itself.
///
/// A write is sent with a precondition and either commits (the store gives it its version) or
/// fails the precondition and brings back the object as it is now, so the caller decides again
/// (kube-apiserver's `GuaranteedUpdate`). The caches learn of every write — this process's, other
/// replicas', other clients' — from ``follow(_:sink:)``, in the store's order.
public protocol SourceOfTruth: Sendable {
    /// Executes `write` if its precondition holds.
    func commit(_ write: GuardedWrite) async throws -> CommitOutcome
    /// How many objects of `resource` the store holds now (read through its quorum), and how many
    /// of them were written after `version`: a cache at `version` holding as many objects holds the
    /// store's current state when none was (a consistent read needs nothing more, so it never
    /// depends on progress notifications).
    func census(of resource: ResourceDescriptor, changedAfter version: ResourceVersion) async throws -> StoreCensus
    /// One object as the store holds it now (read through its quorum), `nil` if there is none: a
    /// write refused on the cache's word is decided again from it.
    func get(_ resource: ResourceDescriptor, namespace: String?, name: String) async throws -> KubeObject?
    /// Every object of `resource` read through the quorum, and the version they were read at: what
    /// a consistent read falls back to when the cache cannot reach that version in time.
    func list(_ resource: ResourceDescriptor) async throws -> StoreSnapshot
    /// Starts following `resource`: `sink` gets ``ChangeFeedSink/replace(_:)`` with everything
    /// stored (again after every relist), then every change in version order and progress while the
    /// resource is quiet, until the subscription is cancelled.
    func follow(_ resource: ResourceDescriptor, sink: any ChangeFeedSink) -> any FeedSubscription

    /// ``commit(_:)`` reporting to `completion` instead of returning. Stores that answer in-process
    /// implement it to answer on the caller's or their committer's thread, without a task; the
    /// default runs ``commit(_:)`` in one.
    func commit(_ write: GuardedWrite, completion: @escaping @Sendable (Result<CommitOutcome, any Error>) -> Void)
    /// ``get(_:namespace:name:)`` reporting to `completion` (see ``commit(_:completion:)``).
    func get(_ resource: ResourceDescriptor, namespace: String?, name: String,
             completion: @escaping @Sendable (Result<KubeObject?, any Error>) -> Void)
    /// Whether a committed write has reached the sinks of ``follow(_:sink:)`` before its commit
    /// is reported (an in-process feed): then a cache that has seen a write's acknowledgement holds
    /// it, and a consistent read needs no ``census(of:changedAfter:)``. `false` by default.
    var feedsBeforeAcknowledging: Bool { get }
}

extension SourceOfTruth {
    public func commit(_ write: GuardedWrite, completion: @escaping @Sendable (Result<CommitOutcome, any Error>) -> Void) {
        Task {
            do {
                completion(.success(try await commit(write)))
            } catch {
                completion(.failure(error))
            }
        }
    }

    public func get(_ resource: ResourceDescriptor, namespace: String?, name: String,
                    completion: @escaping @Sendable (Result<KubeObject?, any Error>) -> Void) {
        Task {
            do {
                completion(.success(try await get(resource, namespace: namespace, name: name)))
            } catch {
                completion(.failure(error))
            }
        }
    }

    public var feedsBeforeAcknowledging: Bool { false }
}

/// A write with the condition under which the store may make it.
public struct GuardedWrite: Sendable {
    public enum Precondition: Sendable, Equatable {
        /// Create: no object may have the key.
        case absent
        /// Replace or delete the object as it is at this version.
        case version(ResourceVersion)
    }

    public var resource: ResourceDescriptor
    /// `.put` stores the object (its `metadata.resourceVersion` is the store's to set); `.delete`
    /// removes the object with its key.
    public var change: Change
    public var precondition: Precondition

    public init(resource: ResourceDescriptor, change: Change, precondition: Precondition) {
        self.resource = resource
        self.change = change
        self.precondition = precondition
    }

    /// The object the write is about.
    public var object: KubeObject {
        switch change { case .put(let o), .delete(let o): o }
    }
}

/// What became of a ``GuardedWrite``.
public enum CommitOutcome: Sendable {
    /// Made, at this version. `stored`: the object as stored (the write's object at that version),
    /// when the store has it at hand — else the caller sets the version on its own copy.
    case committed(ResourceVersion, stored: KubeObject? = nil)
    /// The precondition did not hold: the object as the store holds it now (`nil`: it has none).
    case conflict(current: KubeObject?)
}

/// A count of one resource's objects in the store, read at one version.
public struct StoreCensus: Sendable, Equatable {
    /// The store's version when counted (its newest).
    public var version: ResourceVersion
    /// The objects stored.
    public var objects: Int
    /// The objects stored whose last write is newer than the version asked about.
    public var changed: Int

    public init(version: ResourceVersion, objects: Int, changed: Int) {
        self.version = version
        self.objects = objects
        self.changed = changed
    }
}

/// Objects of one resource read at one version.
public struct StoreSnapshot: Sendable {
    public var objects: [KubeObject]
    public var version: ResourceVersion

    public init(objects: [KubeObject], version: ResourceVersion) {
        self.objects = objects
        self.version = version
    }
}

/// What consumes a ``SourceOfTruth``'s feed of one resource: its cache.
public protocol ChangeFeedSink: Sendable {
    /// Everything the store holds at `snapshot.version`: the initial list, or a relist after the
    /// store compacted past the feed's position.
    func replace(_ snapshot: StoreSnapshot)
    /// The next change, newer than everything before it.
    func apply(_ change: Change)
    /// Every change up to `version` has been delivered.
    func progress(_ version: ResourceVersion)
}

/// A running ``SourceOfTruth/follow(_:sink:)``.
public protocol FeedSubscription: Sendable {
    func cancel()
}
