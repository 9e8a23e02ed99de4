import WatchCache

/// One HTTP request as the API layer sees it, whatever the transport.
public struct APIRequest: Sendable {
    public var method: String
    /// The path without the query string, percent-decoded.
    public var path: String
    /// Query parameters in order, percent-decoded (`+` is a space, as Go's `url.ParseQuery` reads it).
    public var query: [(String, String)]
    /// Header names in lower case.
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// The subject of the client certificate the connection presented and the TLS handshake
    /// verified (``ClientCertificateAuthority``), if any.
    public var certificateUser: AuthenticatedUser?

    public init(method: String, target: String, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.method = method
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        self.path = PercentEncoding.decode(String(parts[0]), plusIsSpace: false)
        self.query = parts.count > 1 ? PercentEncoding.parseQuery(String(parts[1])) : []
        self.headers = headers.map { ($0.0.lowercased(), $0.1) }
        self.body = body
    }

    /// The first value of header `name` (lower case).
    public func header(_ name: String) -> String? {
        headers.first { $0.0 == name }?.1
    }
}

/// What the API layer answers.
public enum APIResponse: Sendable {
    /// A complete response.
    case complete(status: Int, contentType: String, body: [UInt8], headers: [(String, String)] = [])
    /// A watch: the transport starts it with its own wake-up callback and streams its events,
    /// each passed through `transform` when there is one (the Table form re-encodes them, protobuf
    /// frames them), under `contentType`.
    case watch(ResourceCache, WatchOptions, transform: WatchEventTransform? = nil, contentType: String = "application/json")

    /// A `Status` error response (with `Retry-After` when the status asks for one).
    static func error(_ status: Status) -> APIResponse {
        var headers: [(String, String)] = []
        if let retry = status.details?.retryAfterSeconds { headers.append(("retry-after", String(retry))) }
        return .complete(status: status.code, contentType: "application/json", body: status.encoded, headers: headers)
    }

    static func json(_ value: JSONValue, status: Int = 200) -> APIResponse {
        .complete(status: status, contentType: "application/json", body: JSONWriter.encode(value))
    }

    static func object(_ object: KubeObject, status: Int = 200) -> APIResponse {
        .complete(status: status, contentType: "application/json", body: object.encoded)
    }
}

/// Re-encodes a watch's events for the representation the client asked for; called in order, once per event.
public typealias WatchEventTransform = @Sendable (WatchEvent) -> WatchEvent

/// Percent-decoding of paths and query strings.
enum PercentEncoding {
    static func decode(_ s: String, plusIsSpace: Bool) -> String {
        guard s.utf8.contains(where: { $0 == UInt8(ascii: "%") || (plusIsSpace && $0 == UInt8(ascii: "+")) }) else { return s }
        var out: [UInt8] = []
        var bytes = Array(s.utf8)[...]
        while let b = bytes.popFirst() {
            if b == UInt8(ascii: "%"), bytes.count >= 2, let hi = hex(bytes[bytes.startIndex]), let lo = hex(bytes[bytes.startIndex + 1]) {
                out.append(hi << 4 | lo)
                bytes = bytes.dropFirst(2)
            } else if plusIsSpace, b == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
            } else {
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func parseQuery(_ query: String) -> [(String, String)] {
        query.split(whereSeparator: { $0 == "&" || $0 == ";" }).map { pair in
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (decode(String(kv[0]), plusIsSpace: true), kv.count > 1 ? decode(String(kv[1]), plusIsSpace: true) : "")
        }
    }

    private static func hex(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
