import Foundation
import Synchronization

/// A real etcd on this machine for tests and benchmarks, started and stopped with the project's
/// `scripts/etcd.sh` (which installs Debian's etcd when it is missing): one member or three, on
/// loopback ports of its own, data in a scratch directory.
public final class LocalEtcd: Sendable {
    /// Ports handed out in this process (suites run in parallel).
    /// Below Linux's ephemeral range (32768 and up), where clients' own ports could collide.
    /// From 20,000 up: above the ports ``LoopbackPort`` gives servers that restart.
    private static let nextPort = Mutex(LoopbackPort.servers.upperBound + Int(ProcessInfo.processInfo.processIdentifier % 400) * 30)

    public let directory: String
    public let urls: [String]
    public let basePort: Int
    let script: String

    /// The client URLs, as `--etcd-servers` takes them.
    public var servers: String { urls.joined(separator: ",") }

    /// With TLS: the CA, and the client certificate and key etcd requires.
    public var caFile: String { directory + "/tls/ca.pem" }
    public var clientCertFile: String { directory + "/tls/client.pem" }
    public var clientKeyFile: String { directory + "/tls/client-key.pem" }

    /// Starts `members` members (1 or 3) with `script` (the path of `scripts/etcd.sh`) and returns
    /// once every one answers; with `tls`, clients speak TLS and need a client certificate.
    public init(script: String, members: Int = 1, tls: Bool = false) throws {
        self.script = script
        directory = NSTemporaryDirectory() + "watchcache-etcd-test-\(UUID().uuidString.prefix(8))"
        // A port someone else took in the meantime: the next ones.
        var attempt = 0
        var started: (port: Int, output: String)?
        while started == nil {
            let port = Self.nextPort.withLock { p in
                defer { p += 8 }
                return p
            }
            do {
                started = (port, try Self.run(script, ["start", "--members", String(members), "--port", String(port), "--dir", directory]
                                                        + (tls ? ["--tls"] : [])))
            } catch {
                attempt += 1
                if attempt == 3 { throw error }
            }
        }
        basePort = started!.port
        let output = started!.output
        urls = output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",").map(String.init)
        guard urls.count == members else { throw BenchError("scripts/etcd.sh printed \(output)") }
    }

    /// The client URL of member `n` (1-based).
    public func url(member n: Int) -> String { urls[n - 1] }

    /// Stops every member and removes the data.
    public func stop() {
        _ = try? Self.run(script, ["stop", "--dir", directory])
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// `kill -9` of member `n`.
    public func kill(member n: Int) throws {
        let pid = try String(contentsOfFile: "\(directory)/n\(n).pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        _ = try Self.run("/bin/kill", ["-9", pid])
    }

    /// Sends `signal` (STOP, CONT, KILL) to member `n`.
    public func signal(member n: Int, _ signal: String) throws {
        let pid = try String(contentsOfFile: "\(directory)/n\(n).pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        _ = try Self.run("/bin/kill", ["-\(signal)", pid])
    }

    /// Runs `etcdctl` against member `n` alone.
    public func etcdctlOne(member n: Int, _ arguments: [String]) throws -> String {
        try Self.run("/usr/bin/etcdctl", ["--endpoints", url(member: n), "--command-timeout=2s"] + arguments, environment: ["ETCDCTL_API": "3"])
    }

    /// Runs `etcdctl` against the cluster.
    @discardableResult
    public func etcdctl(_ arguments: [String]) throws -> String {
        try Self.run("/usr/bin/etcdctl", ["--endpoints", servers] + arguments, environment: ["ETCDCTL_API": "3"])
    }

    /// Runs a program to its end and returns its standard output (its standard error goes into the
    /// error when it fails). posix_spawn and waitpid, not Foundation's Process: its
    /// `waitUntilExit` was seen to hang here after the program had exited. The program inherits
    /// no descriptor past standard error (see ``InheritedDescriptors``).
    @discardableResult
    public static func run(_ path: String, _ arguments: [String], environment: [String: String] = [:]) throws -> String {
        let output = NSTemporaryDirectory() + "watchcache-run-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: output + ".out"); try? FileManager.default.removeItem(atPath: output + ".err") }
        var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output + ".out", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, output + ".err", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        InheritedDescriptors.closeAll(in: &actions)
        let env = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0.key)=\($0.value)" }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup($0) } + [nil]
        defer { for p in argv + envp { free(p) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, envp)
        guard spawned == 0 else { throw BenchError("cannot run \(path): error \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let out = (try? String(contentsOfFile: output + ".out", encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: output + ".err", encoding: .utf8)) ?? ""
        guard status == 0 else {
            throw BenchError("\(path) \(arguments.joined(separator: " ")) failed (\(status)): \(err)")
        }
        return out
    }
}
