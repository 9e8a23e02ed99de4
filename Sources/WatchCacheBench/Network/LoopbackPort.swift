import Foundation
import Synchronization

/// Loopback ports for servers the benchmarks and tests start and restart.
///
/// A port from the kernel's ephemeral range (what binding port 0 gives) can be taken as the local
/// port of any outgoing connection while its server is down — during a restart, with many
/// connections opening elsewhere, that happens — and then the server cannot bind it again. These
/// ports are picked below that range, where the kernel never assigns local ports, and below the
/// ports ``LocalEtcd`` gives its members (20,000 and up). (A restarting server's port once stayed
/// taken in CI by an etcd member: not a collision, the member had inherited the server's
/// listening socket; see ``InheritedDescriptors``.)
public enum LoopbackPort {
    /// Where the picks come from (clipped to below the ephemeral range).
    public static let servers = 10_000..<20_000

    /// Ports handed out in this process: never handed out again, so a server that is down during
    /// its restart does not find its port given to another (tests run in parallel).
    private static let handedOut = Mutex<Set<Int>>([])

    /// A loopback port below the ephemeral range that nothing is bound to now and that this
    /// process has not handed out before.
    public static func outsideEphemeralRange() throws -> Int {
        let upper = min(servers.upperBound, ephemeralRange().lowerBound)
        guard upper > servers.lowerBound + 100 else { return try anyFree() }
        for _ in 0..<200 {
            let candidate = Int.random(in: servers.lowerBound..<upper)
            guard handedOut.withLock({ $0.insert(candidate).inserted }) else { continue }
            if isFree(candidate) { return candidate }
        }
        throw BenchError("no free loopback port between \(servers.lowerBound) and \(upper)")
    }

    /// The kernel's ephemeral port range (`net.ipv4.ip_local_port_range`; 32768–60999 if unreadable).
    public static func ephemeralRange() -> ClosedRange<Int> {
        let fallback = 32_768...60_999
        guard let text = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8) else { return fallback }
        let numbers = text.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        guard numbers.count == 2, numbers[0] <= numbers[1] else { return fallback }
        return numbers[0]...numbers[1]
    }

    /// Whether `port` can be bound on 127.0.0.1 now.
    public static func isFree(_ port: Int) -> Bool {
        (try? bind(port)) != nil
    }

    /// A free port the kernel picks (from the ephemeral range).
    public static func anyFree() throws -> Int {
        guard let port = try bind(0) else { throw BenchError("could not find a free port") }
        return port
    }

    /// Binds a TCP socket to 127.0.0.1:`port` and closes it; the port it got, or nil if the bind failed.
    private static func bind(_ port: Int) throws -> Int? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket() failed: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        return bound ? Int(UInt16(bigEndian: address.sin_port)) : nil
    }
}
