import Foundation
import Testing
@testable import WatchCacheBench

/// Programs the tests and benchmarks start (etcd members, etcdctl, the server) inherit nothing
/// but their standard streams.
@Suite struct SpawnedProgramTests {
    /// A listening socket opened as SwiftNIO opens its own (no close-on-exec) is not passed on: an
    /// etcd member started while a test's server listened once kept that server's port taken
    /// after the server closed it, and the server could not bind it again on restart.
    @Test func aSpawnedProgramInheritsNoSocket() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let listening = withUnsafePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        } && listen(fd, 8) == 0
        try #require(listening)
        try #require(fcntl(fd, F_GETFD) & FD_CLOEXEC == 0)
        let ours = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)")
        #expect(ours.hasPrefix("socket:"))

        let theirs = try LocalEtcd.run("/bin/sh", ["-c", #"for f in /proc/$$/fd/*; do echo "${f##*/} $(readlink "$f")"; done"#])
        let descriptors = theirs.split(separator: "\n").map { $0.split(separator: " ", maxSplits: 1) }
        #expect(!descriptors.isEmpty)
        #expect(!theirs.contains("socket:"), "the child holds sockets: \(theirs)")
        #expect(descriptors.contains { $0[0] == "1" }, "\(theirs)")
    }
}
