import Foundation
import NIOCore
import NIOPosix

/// A `watchcache serve` process the network benchmark starts on loopback, and stops.
public final class ServerProcess: @unchecked Sendable {  // `process` is only signalled and waited on after init
    public let port: Int
    /// The `serve` arguments it was started with (besides address and port).
    public let arguments: [String]
    private let process: Process

    /// Starts `executable serve` with `arguments` on `port` (default: a free loopback port below the
    /// ephemeral range, so a restart can bind it again) and waits until it accepts connections (at
    /// most 30 s).
    ///
    /// - Parameter cpus: pin the server to these CPUs (`taskset -c`, e.g. "0").
    public init(executable: String, arguments: [String], port requested: Int? = nil, cpus: String? = nil) throws {
        port = try requested ?? LoopbackPort.outsideEphemeralRange()
        self.arguments = arguments
        process = Process()
        let serve = ["serve", "--bind-address", "127.0.0.1", "--port", String(port)] + arguments
        if let cpus {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/taskset")
            process.arguments = ["-c", cpus, executable] + serve
        } else {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = serve
        }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while !Self.accepts(port: port) {
            guard process.isRunning else { throw BenchError("watchcache serve exited with status \(process.terminationStatus) at start-up") }
            guard Date() < deadline else {
                process.terminate()
                throw BenchError("watchcache serve did not accept connections on port \(port) within 30 s")
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// Waits until `/readyz` answers 200 (the storage loaded; over etcd, every cache listed).
    public func waitUntilReady(seconds: Double = 60) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while (try? PlainHTTP.get(host: "127.0.0.1", port: port, path: "/readyz")) == nil {
            guard process.isRunning else { throw BenchError("watchcache serve exited with status \(process.terminationStatus) while loading") }
            guard Date() < deadline else { throw BenchError("watchcache serve was not ready within \(Int(seconds)) s") }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// SIGTERM (graceful shutdown), then waits for the exit.
    public func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    /// SIGKILL — a crash, with no chance to flush or close anything — then waits for the exit.
    public func crash() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Whether the process still runs.
    public var isRunning: Bool { process.isRunning }

    deinit { stop() }

    /// The status code of `GET path` over HTTP/1.1 (nil if the server does not answer in 5 s).
    public func status(of path: String) -> Int? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { return nil }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        guard send(fd, request, request.count, 0) == request.count else { return nil }
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = recv(fd, &buffer, buffer.count, 0)
        guard n >= 12 else { return nil }
        // "HTTP/1.1 200 ..."
        return Int(String(decoding: buffer[9..<12], as: UTF8.self))
    }

    private static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
