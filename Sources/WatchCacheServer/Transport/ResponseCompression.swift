/// When a response is gzipped, as kube-apiserver's `APIResponseCompression` decides: the client
/// sent `Accept-Encoding: gzip`, the response is not a watch, and its body is over 128 KiB.
/// Level 1, kube-apiserver's choice: the least CPU for a ratio within 1.1–1.3x of the best.
public enum ResponseCompression {
    /// Bodies up to this size are sent as they are.
    public static let thresholdBytes = 128 * 1024
    /// zlib's compression level.
    public static let level: Int32 = 1

    /// Whether a complete response of `bodyBytes` goes gzipped to a client that sent `acceptEncoding`.
    public static func gzips(acceptEncoding: String?, bodyBytes: Int) -> Bool {
        gzips(accepted: acceptsGzip(acceptEncoding), bodyBytes: bodyBytes)
    }

    /// The same, for a transport that read `Accept-Encoding` already (``acceptsGzip(_:)``).
    static func gzips(accepted: Bool, bodyBytes: Int) -> Bool {
        accepted && bodyBytes > thresholdBytes
    }

    /// Whether `Accept-Encoding` lists gzip (or `*`) without `q=0`.
    public static func acceptsGzip(_ acceptEncoding: String?) -> Bool {
        guard let acceptEncoding else { return false }
        for clause in acceptEncoding.split(separator: ",") {
            let parts = clause.split(separator: ";").map { $0.trimming(" ").lowercased() }
            guard let coding = parts.first, coding == "gzip" || coding == "*" else { continue }
            let refused = parts.dropFirst().contains { p in
                let kv = p.split(separator: "=", maxSplits: 1).map { $0.trimming(" ") }
                return kv.count == 2 && kv[0] == "q" && (Double(kv[1]) ?? 1) == 0
            }
            if !refused { return true }
        }
        return false
    }

    /// `body` gzipped as the server sends it (the whole of it at once; the transports compress as
    /// the connection takes the bytes). Nil if zlib cannot start.
    public static func gzip(_ body: [UInt8], level: Int32 = level) -> [UInt8]? {
        GzipBody.compress(body, level: level)
    }

    /// The headers a gzipped response adds (its length is not known in advance).
    static let headers = [("content-encoding", "gzip"), ("vary", "Accept-Encoding")]
}
