/// Where acknowledged writes are kept. The ``Registry`` assigns versions and calls the storage in
/// version order; a write is acknowledged only after ``persist(_:)`` returns.
public protocol Storage: Sendable {
    /// Everything stored before this process started.
    func recover() throws -> StorageRecovery
    /// Makes `write` durable (or keeps it, for an in-memory storage) before it is acknowledged.
    func persist(_ write: StoredWrite) throws
}

/// One write as the storage sees it.
public struct StoredWrite: Sendable {
    public var resource: ResourceDescriptor
    public var change: Change
}

/// What a storage held at start-up.
public struct StorageRecovery: Sendable {
    /// The version of the newest stored write.
    public var version: ResourceVersion
    /// Stored objects' JSON bytes, by resource (`apiVersion` + " " + plural, as ``ResourceDescriptor/description``).
    public var objects: [String: [[UInt8]]]

    public init(version: ResourceVersion = .zero, objects: [String: [[UInt8]]] = [:]) {
        self.version = version
        self.objects = objects
    }
}

/// Keeps nothing beyond the caches themselves: state lives in memory and a restart starts empty.
/// For tests, benchmarks and `--in-memory` servers.
public struct InMemoryStorage: Storage {
    public init() {}
    public func recover() throws -> StorageRecovery { StorageRecovery() }
    public func persist(_ write: StoredWrite) throws {}
}
