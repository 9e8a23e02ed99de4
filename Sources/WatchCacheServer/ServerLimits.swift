/// Limits that keep one client from hurting the server.
public struct ServerLimits: Sendable {
    /// Largest request body (kube-apiserver: 3 MiB); larger gets 413.
    public var maxRequestBody: Int = 3 * 1024 * 1024
    /// HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS per connection.
    public var maxConcurrentStreams: Int = 1000
    /// Bytes a watch stream may have waiting for the peer (HTTP/2 window, socket) before the server
    /// stops pulling from its watcher; the watcher's own queue and the slow-watcher budget do the rest.
    public var maxPendingPerStream: Int = 256 * 1024
    /// A connection with no request or stream open for this long is closed (HTTP/2: after GOAWAY).
    /// Open watches keep a connection busy however quiet they are.
    public var idleConnectionTimeout: Duration = .seconds(120)
    /// Largest request header block (names and values); larger gets 431 (HTTP/1.1: the connection closes).
    public var maxHeaderBytes: Int = 64 * 1024
    /// HTTP/2 stream resets allowed per second (Rapid Reset defence) and burst.
    public var streamResetRate: (burst: UInt64, perSecond: UInt64) = (1000, 33)

    public init() {}
}
