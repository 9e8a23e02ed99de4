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
    /// How long a new connection may take to show its protocol (the first bytes), and an HTTP/2
    /// request its header block (HEADERS to the last CONTINUATION), before the connection is
    /// closed: kube-apiserver's `ReadHeaderTimeout` (32 s). Slow-loris clients hold nothing longer.
    /// (An HTTP/1.1 request head that never ends is bounded by ``idleConnectionTimeout``.)
    public var requestHeaderTimeout: Duration = .seconds(32)
    /// Largest request header block (names and values); larger gets 431 (HTTP/1.1: the connection closes).
    public var maxHeaderBytes: Int = 64 * 1024
    /// Bytes of complete responses an HTTP/2 connection may hold unsent (a peer that does not read,
    /// or keeps its windows shut): past it, the connection's next requests wait until the peer has
    /// taken some — so requests for large lists cannot pile their answers up in the server.
    public var maxPendingResponseBytesPerConnection: Int = 32 * 1024 * 1024
    /// Bytes of request bodies an HTTP/2 connection may have in flight at once (bodies of
    /// requests not yet handed to the API): a stream that would go past it is refused
    /// (RST_STREAM REFUSED_STREAM: nothing was done, the client may retry).
    public var maxRequestBodyBytesPerConnection: Int = 64 * 1024 * 1024
    /// HTTP/2 frames in a row with an empty payload that carry no end (DATA without END_STREAM,
    /// HEADERS or CONTINUATION without END_HEADERS) before the connection is closed with
    /// ENHANCE_YOUR_CALM (the empty-frames flood, CVE-2019-9518).
    public var maxConsecutiveEmptyFrames: Int = 16
    /// HTTP/2 stream resets allowed per second (Rapid Reset defence) and burst.
    public var streamResetRate: (burst: UInt64, perSecond: UInt64) = (1000, 33)

    public init() {}
}
