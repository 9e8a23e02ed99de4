import Foundation
import WatchCache
import WatchCacheServer

/// What gzip costs and saves on a large LIST, as the server sends it to a client that sends
/// `Accept-Encoding: gzip` (kube-apiserver's rule: bodies over 128 KiB, level 1).
///
/// The server runs in-process on loopback with `pods` pods of a running Deployment (the encoding
/// benchmark's fixture, each with its own name, uid, IPs and container ID). curl fetches the list
/// with and without `--compressed`, over HTTP/1.1 and HTTP/2, optionally rate-limited to a link
/// speed; the compressor's CPU per MB is measured on the same body, on this thread.
public struct CompressionBenchmark {
    public var pods = 10_000
    /// Fetches per case; the median is reported.
    public var repeats = 5
    /// curl's `--limit-rate` for a second set of fetches (bytes per second), nil for none.
    public var linkBytesPerSecond: Int?

    public init() {}

    public struct Fetch: Sendable {
        public var transport: String
        public var gzip: Bool
        public var limited: Bool
        /// Bytes on the wire (the body as sent: compressed when gzipped).
        public var bytes: Int
        /// Median seconds from connect to the last byte, of `repeats` fetches.
        public var seconds: Double
    }

    public struct Result: Sendable {
        public var pods: Int
        public var bodyBytes: Int
        public var gzippedBytes: Int
        /// Thread CPU milliseconds per MB (10^6 bytes) of body, at level 1 and at zlib's default 6.
        public var level1MillisecondsPerMB: Double
        public var level6MillisecondsPerMB: Double
        public var level6Bytes: Int
        public var fetches: [Fetch]
    }

    public func run() async throws -> Result {
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.threads = 1
        configuration.maxRequestsInFlight = 0
        configuration.maxMutatingRequestsInFlight = 0
        let server = try Server(configuration: configuration, registry: try Registry())
        let port = try await server.start().cleartext!
        do {
            let result = try await measure(server: server, port: port)
            try await server.shutdown()
            return result
        } catch {
            try? await server.shutdown()
            throw error
        }
    }

    private func measure(server: Server, port: Int) async throws -> Result {
        guard case .object(let base) = try JSONParser.parse(Array(EncodingBenchmark.pod.utf8)) else {
            throw BenchError("the pod fixture is not an object")
        }
        var generator = SystemRandomNumberGenerator()
        func hex(_ n: Int) -> String { String((0..<n).map { _ in "0123456789abcdef".randomElement(using: &generator)! }) }
        for i in 0..<pods {
            var pod = base
            var metadata = pod["metadata"]!.objectValue!
            metadata["name"] = .string("web-7d9c5b8f4d-\(hex(5))-\(i)")
            metadata["uid"] = nil
            metadata["resourceVersion"] = nil
            metadata["creationTimestamp"] = nil
            metadata["namespace"] = nil
            pod["metadata"] = .object(metadata)
            var status = pod["status"]!.objectValue!
            let ip = "10.244.\(i / 250 % 250).\(i % 250 + 2)"
            status["podIP"] = .string(ip)
            status["podIPs"] = .array([.object(JSONObject([("ip", .string(ip))]))])
            var container = status["containerStatuses"]!.arrayValue![0].objectValue!
            container["containerID"] = .string("containerd://" + hex(64))
            status["containerStatuses"] = .array([.object(container)])
            pod["status"] = .object(status)
            _ = try await server.registry.create(pod, in: .pods, namespace: "bench")
        }
        let url = "http://127.0.0.1:\(port)/api/v1/namespaces/bench/pods"

        // The body as sent without gzip, and the compressor on it.
        let path = NSTemporaryDirectory() + "compression-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = try await offPool { commandOutput("/usr/bin/curl", ["-s", "-o", path, url]) }
        let body = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        guard body.count > ResponseCompression.thresholdBytes else {
            throw BenchError("the list is \(body.count) bytes, under the 128 KiB threshold: use more --pods")
        }
        func cpuPerMB(level: Int32) throws -> (Double, Int) {
            var size = 0
            let rounds = max(1, 50_000_000 / body.count)
            let start = CPUTime.thread()
            for _ in 0..<rounds {
                guard let out = ResponseCompression.gzip(body, level: level) else { throw BenchError("zlib failed") }
                size = out.count
            }
            let seconds = CPUTime.thread() - start
            return (seconds * 1000 / (Double(body.count * rounds) / 1e6), size)
        }
        let (level1, gzipped) = try cpuPerMB(level: ResponseCompression.level)
        let (level6, level6Bytes) = try cpuPerMB(level: 6)

        var fetches: [Fetch] = []
        let limits: [Int?] = linkBytesPerSecond.map { [nil, $0] } ?? [nil]
        for limit in limits {
            for (transport, flags) in [("HTTP/1.1", ["--http1.1"]), ("HTTP/2", ["--http2-prior-knowledge"])] {
                for gzip in [false, true] {
                    var samples: [(bytes: Int, seconds: Double)] = []
                    for _ in 0..<repeats {
                        var arguments = ["-s", "-o", "/dev/null", "-w", "%{size_download} %{time_total}"] + flags
                        if gzip { arguments.append("--compressed") }
                        if let limit { arguments += ["--limit-rate", String(limit)] }
                        let fetch = arguments + [url]
                        let output = try await offPool { commandOutput("/usr/bin/curl", fetch) } ?? ""
                        let parts = output.split(separator: " ")
                        guard parts.count == 2, let bytes = Int(parts[0]), let seconds = Double(parts[1]) else {
                            throw BenchError("curl printed \(output.prefix(200))")
                        }
                        samples.append((bytes, seconds))
                    }
                    samples.sort { $0.seconds < $1.seconds }
                    let median = samples[samples.count / 2]
                    fetches.append(Fetch(transport: transport, gzip: gzip, limited: limit != nil, bytes: median.bytes, seconds: median.seconds))
                }
            }
        }
        return Result(pods: pods, bodyBytes: body.count, gzippedBytes: gzipped, level1MillisecondsPerMB: level1,
                      level6MillisecondsPerMB: level6, level6Bytes: level6Bytes, fetches: fetches)
    }
}
