import Foundation

/// What the replica benchmarks read from etcd's own `/metrics` (on its client port): how many
/// watchers and watch streams it serves, its CPU and its memory.
public struct EtcdMetrics: Sendable {
    /// `etcd_debugging_mvcc_watcher_total`: watchers (one per watched range per stream).
    public var watchers = 0.0
    /// `etcd_debugging_mvcc_watch_stream_total`: gRPC watch streams.
    public var watchStreams = 0.0
    public var cpuSeconds = 0.0
    public var residentBytes = 0.0

    public init() {}

    public init(parsing text: String) {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            switch line[..<space] {
            case "etcd_debugging_mvcc_watcher_total": watchers = value
            case "etcd_debugging_mvcc_watch_stream_total": watchStreams = value
            case "process_cpu_seconds_total": cpuSeconds = value
            case "process_resident_memory_bytes": residentBytes = value
            default: break
            }
        }
    }

    /// Reads the metrics of the etcd member at `url` (`http://host:port`).
    public static func scrape(_ url: String) throws -> EtcdMetrics {
        guard let schemeEnd = url.range(of: "://") else { throw BenchError("\(url) is not a URL") }
        let authority = url[schemeEnd.upperBound...].split(separator: "/").first ?? ""
        guard let colon = authority.lastIndex(of: ":"), let port = Int(authority[authority.index(after: colon)...]) else {
            throw BenchError("\(url) has no port")
        }
        return EtcdMetrics(parsing: try PlainHTTP.get(host: String(authority[..<colon]), port: port, path: "/metrics"))
    }
}

/// A blocking HTTP/1.0 GET over a plain socket: for a server's metrics page, where pulling in an
/// HTTP client would be too much.
enum PlainHTTP {
    static func get(host: String, port: Int, path: String) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &address.sin_addr) == 1 else {
            throw BenchError("\(host) is not an IPv4 address")
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw BenchError("cannot connect to \(host):\(port)") }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: \(host)\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.count else {
            throw BenchError("cannot send to \(host):\(port)")
        }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            response.append(contentsOf: buffer[0..<n])
        }
        let text = String(decoding: response, as: UTF8.self)
        guard text.hasPrefix("HTTP/1."), text.split(separator: " ", maxSplits: 2).dropFirst().first == "200" else {
            throw BenchError("GET \(path) on \(host):\(port) did not answer 200")
        }
        return text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
    }
}
