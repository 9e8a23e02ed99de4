/// The registry's writes for async code: each suspends its task until the write is durable and
/// fanned out, where the blocking forms of `Registry+Writes.swift` hold their thread that long.
///
/// In an async context Swift picks these over the blocking forms of the same name (and asks for
/// `await`): a thread of the concurrency pool — there are as many as cores — is never held for a
/// write's round trip to its storage. A task cancelled while it waits still waits: a write in
/// flight is not taken back, and its result is the store's.
extension Registry {
    /// Creates an object: ``create(_:in:namespace:dryRun:completion:)``, awaited.
    public func create(_ json: JSONObject, in resource: ResourceDescriptor, namespace: String? = nil,
                       dryRun: Bool = false) async throws(Status) -> KubeObject {
        try await Self.awaiting { create(json, in: resource, namespace: namespace, dryRun: dryRun, completion: $0) }
    }

    /// Replaces an object: ``update(_:in:namespace:dryRun:completion:)``, awaited.
    public func update(_ json: JSONObject, in resource: ResourceDescriptor, namespace: String? = nil,
                       dryRun: Bool = false) async throws(Status) -> KubeObject {
        try await Self.awaiting { update(json, in: resource, namespace: namespace, dryRun: dryRun, completion: $0) }
    }

    /// Changes an object from its newest state: ``modify(_:namespace:name:dryRun:transform:completion:)``, awaited.
    public func modify(_ resource: ResourceDescriptor, namespace: String?, name: String, dryRun: Bool = false,
                       transform: @escaping @Sendable (KubeObject) throws(Status) -> JSONObject) async throws(Status) -> KubeObject {
        try await Self.awaiting { modify(resource, namespace: namespace, name: name, dryRun: dryRun, transform: transform, completion: $0) }
    }

    /// Deletes an object: ``delete(_:namespace:name:precondition:dryRun:completion:)``, awaited.
    public func delete(_ resource: ResourceDescriptor, namespace: String?, name: String,
                       precondition: String? = nil, dryRun: Bool = false) async throws(Status) -> KubeObject {
        try await Self.awaiting { delete(resource, namespace: namespace, name: name, precondition: precondition, dryRun: dryRun, completion: $0) }
    }

    /// Deletes an object as kube-apiserver does (finalizers, grace periods, propagation):
    /// ``delete(_:namespace:name:options:graceful:completion:)``, awaited.
    public func delete(_ resource: ResourceDescriptor, namespace: String?, name: String, options: DeletionOptions,
                       graceful: GracefulDeletion? = nil) async throws(Status) -> KubeObject {
        try await Self.awaiting { delete(resource, namespace: namespace, name: name, options: options, graceful: graceful, completion: $0) }
    }

    /// Calls `start` with a completion and suspends until it is called.
    private static func awaiting(_ start: (@escaping @Sendable (Result<KubeObject, Status>) -> Void) -> Void) async throws(Status) -> KubeObject {
        let result: Result<KubeObject, Status> = await withCheckedContinuation { continuation in
            start { continuation.resume(returning: $0) }
        }
        return try result.get()
    }
}
