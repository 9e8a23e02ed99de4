import ServiceLifecycle

/// A server is a swift-service-lifecycle `Service`: put it in a `ServiceGroup` with the program's
/// other services, and the group's graceful shutdown (SIGTERM, SIGINT, or another service ending)
/// stops it as ``Server/shutdown(drain:)`` does — GOAWAY, every watch ended cleanly with its last
/// bookmark, connections drained.
extension Server: Service {
    /// Serves until the group shuts down gracefully or the task is cancelled, then shuts down.
    /// Binds the configured ports first unless ``start()`` already did (call it first to learn the
    /// ports before the group runs).
    public func run() async throws {
        if !isListening { try await start() }
        // Throws CancellationError when the task is cancelled instead: shut down all the same.
        try? await gracefulShutdown()
        try await shutdown()
    }
}
