/// Where acknowledged writes are kept, and the history of changes a watch may resume from.
///
/// A ``Registry`` puts it behind its own in-process ``SourceOfTruth``, which checks preconditions,
/// assigns versions and hands writes over in version order; a write is applied to its cache, fanned
/// out and acknowledged only after ``persist(_:)`` has returned for it.
public protocol Storage: Sendable {
    /// Everything stored before this process started, with at most `historyLimit` of the newest
    /// history events of each resource. Called once, before any write.
    ///
    /// Objects come back as the bytes ``persist(_:)`` was given (``KubeObject/encoded``), byte for
    /// byte, here and from ``history(of:after:through:)``: they are parsed but not written again,
    /// and served as they are.
    func recover(historyLimit: Int) throws -> StorageRecovery
    /// Makes `writes` (consecutive, in version order) durable before returning. On error none of
    /// them may be kept.
    func persist(_ writes: [StoredWrite]) throws
    /// Whether ``persist(_:)`` is cheap enough to run inside the commit pipeline's lock on the
    /// writer's thread (memory). Storages that wait for a disk say `false`: their writes are committed
    /// by one background committer, in groups.
    var persistsInline: Bool { get }
    /// Whether ``history(of:after:through:)`` can serve versions older than the caches' windows.
    var keepsHistory: Bool { get }
    /// The events of `resource` with versions in `(after, through]`, oldest first — or `nil` when the
    /// storage no longer holds all of them (compacted, or never kept).
    func history(of resource: ResourceDescriptor, after: ResourceVersion, through: ResourceVersion) throws -> [StoredEvent]?
}

extension Storage {
    public var persistsInline: Bool { false }
    public var keepsHistory: Bool { false }
    public func history(of resource: ResourceDescriptor, after: ResourceVersion, through: ResourceVersion) throws -> [StoredEvent]? { nil }
}

/// One write as the storage sees it.
public struct StoredWrite: Sendable {
    public var resource: ResourceDescriptor
    public var change: Change
    /// The object's state before the write (`nil` when the write creates it).
    public var previous: KubeObject?
    /// When the write was made (wall-clock seconds since 1970): kept with the history event.
    public var wallTime: Double

    public init(resource: ResourceDescriptor, change: Change, previous: KubeObject?, wallTime: Double) {
        self.resource = resource
        self.change = change
        self.previous = previous
        self.wallTime = wallTime
    }

    /// The write's version.
    public var version: ResourceVersion {
        switch change { case .put(let o), .delete(let o): o.resourceVersion }
    }
}

/// One change read back from a storage's history.
public struct StoredEvent: Sendable {
    /// `.added`, `.modified` or `.deleted`.
    public var type: EventType
    public var version: ResourceVersion
    /// The object's JSON after the change; for `.deleted`, its last state (the event carries ``version``).
    public var object: [UInt8]
    /// The object's JSON before the change, for `.modified` (`nil` otherwise). In a recovery's
    /// history it may be `nil` where an earlier event of the same object is in that history too:
    /// the state before is then that event's object.
    public var previous: [UInt8]?
    /// When the change was made (wall-clock seconds since 1970).
    public var wallTime: Double

    public init(type: EventType, version: ResourceVersion, object: [UInt8], previous: [UInt8]?, wallTime: Double) {
        self.type = type
        self.version = version
        self.object = object
        self.previous = previous
        self.wallTime = wallTime
    }
}

/// What a storage held at start-up.
public struct StorageRecovery: Sendable {
    /// The version of the newest stored write: new writes continue after it.
    public var version: ResourceVersion
    /// Stored objects' JSON bytes, by resource (``ResourceDescriptor/description``).
    public var objects: [String: [[UInt8]]]
    /// The newest history events of each resource, oldest first, to refill the caches' windows.
    public var history: [String: [StoredEvent]]
    /// The history holds every change after this version (for the resources of ``history``):
    /// the windows reach back to it.
    public var historyFloor: ResourceVersion

    public init(version: ResourceVersion = .zero, objects: [String: [[UInt8]]] = [:],
                history: [String: [StoredEvent]] = [:], historyFloor: ResourceVersion? = nil) {
        self.version = version
        self.objects = objects
        self.history = history
        self.historyFloor = historyFloor ?? version
    }
}

/// Keeps nothing beyond the caches themselves: state lives in memory and a restart starts empty.
/// For tests, benchmarks and `--in-memory` servers.
public struct InMemoryStorage: Storage {
    public init() {}
    public func recover(historyLimit: Int) throws -> StorageRecovery { StorageRecovery() }
    public func persist(_ writes: [StoredWrite]) throws {}
    public var persistsInline: Bool { true }
}
