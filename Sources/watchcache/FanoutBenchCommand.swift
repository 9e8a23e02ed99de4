import ArgumentParser
import Foundation
import WatchCache
import WatchCacheBench

struct FanoutBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fanout",
        abstract: "Measure watch fan-out: streams held, time to open them, memory per stream, delivered events/s, latency.",
        discussion: """
            Starts `watchcache serve --in-memory` (this binary) on loopback — pinned to --server-cpus \
            with taskset, with --server-threads event loops — opens the watch streams multiplexed over \
            HTTP/2 connections (libnghttp2 client sessions on SwiftNIO), writes pods carrying their \
            send time, and reads the server's RSS and CPU from its /metrics. Pin the load generator \
            itself with taskset, on other CPUs than the server: \
            `taskset -c 1 watchcache bench fanout --server-cpus 0`.

            Scenarios: idle (100,000 idle node-indexed streams over 1,000 connections), latency \
            (9,990 node-indexed watchers over 5,000 nodes + 10 unselective, 1,000 writes/s for 60 s), \
            throughput (1,000 unselective watchers over 10 connections, writes as fast as the server \
            delivers them, ~1 KiB pods), slow (latency with 10% of the streams never reading and 1% of \
            the connections stalled), storm (latency, then every watcher reconnects at once from the \
            newest version it saw; with bookmarks, then without), restart (latency on SQLite storage, \
            then a graceful restart of the server under its streams, which all resume from the newest \
            version each saw — its last event's or the server's shutdown bookmark — on the new process; \
            time, CPU, init events and relists; with bookmarks, then without), all.

            Any Kubernetes API server instead: --kubeconfig [--context], or --server with --token, \
            --certificate-authority, --client-certificate and --client-key (HTTP/2 over TLS). The run \
            works in a namespace of its own, deleted at the end, with pods that are never scheduled \
            and belong to their node by a label; every stream watches that namespace. Server memory \
            and CPU come from its /metrics when readable.
            """
    )

    @Option(help: "idle, latency, throughput, slow, storm, restart or all.")
    var scenario = "all"

    @Option(name: .customLong("server-cpus"), help: "CPUs for the server (taskset -c), e.g. 0. Default: not pinned.")
    var serverCPUs: String?

    @Option(name: .customLong("server-threads"), help: "Event-loop threads of the server.")
    var serverThreads = 1

    @Option(name: .customLong("client-threads"), help: "Event-loop threads of the load generator.")
    var clientThreads = 1

    @Option(help: "Override the scenario's number of watch streams (kinds keep their shares).")
    var watchers: Int?

    @Option(help: "Override the kinds of watch stream, as shares: node=0.9,namespace=0.05,label=0.04,all=0.01 (node-indexed, namespace-scoped, label-selected, unselective).")
    var mix: String?

    @Option(help: "Override the scenario's number of nodes (the node watchers and the pods spread over them).")
    var nodes: Int?

    @Option(help: "Override the scenario's number of pods written.")
    var objects: Int?

    @Option(help: "Override the scenario's number of HTTP/2 connections.")
    var connections: Int?

    @Option(name: .customLong("writes-per-second"), help: "Override the scenario's write rate; 0 for as fast as the server takes them.")
    var writesPerSecond: Double?

    @Option(help: "Override the scenario's seconds of writing.")
    var seconds: Double?

    @Option(help: "Write every figure, the machine and the git revision to this JSON file.")
    var json: String?

    @Option(name: .customLong("protocol"), help: "h2 (streams multiplexed over --connections) or http1 (a TCP connection per stream; at most 15,000 streams with this machine's open-files limit).")
    var transport = "h2"

    @Option(help: "Write a chart of the latencies and the memory per stream to this SVG file.")
    var svg: String?

    @Option(name: .customLong("etcd-servers"), help: "Run the servers over this etcd (scripts/etcd.sh starts one) instead of in memory: --replicas of them, the streams and writes spread over them, etcd's own watchers, CPU and memory read from its /metrics.")
    var etcdServers: String?

    @Option(help: "Servers over --etcd-servers (each run uses a key prefix of its own).")
    var replicas = 1

    @Flag(help: "With --replicas 2 or more: after the writes, kill the first replica (SIGKILL) and move its streams to the second from their last versions; time it, count 410s, then check every event of 3 s of writes arrives.")
    var failover = false

    @Option(help: "The servers' storage without --etcd-servers: memory (--in-memory) or sqlite (a fresh --data-dir, removed afterwards: writes go through the durable group commit).")
    var storage = "memory"

    @Option(name: .customLong("server-executable"), help: "The watchcache binary to start as the server (default: this one), e.g. another build to compare with.")
    var serverExecutable: String?

    @Flag(name: .customLong("no-progress"), help: "Do not draw the progress bar.")
    var noProgress = false

    @OptionGroup(title: "Any Kubernetes API server (instead of starting watchcache serve)")
    var target: APIServerTargetOptions

    func validate() throws {
        try CommandFailure.checkWritable(json, flag: "--json")
        try CommandFailure.checkWritable(svg, flag: "--svg")
        let names = FanoutScenario.allCases.map(\.rawValue) + ["all"]
        guard names.contains(scenario) else { throw ValidationError("--scenario must be one of \(names.joined(separator: ", "))") }
        guard transport == "h2" || transport == "http1" else { throw ValidationError("--protocol must be h2 or http1") }
        if let serverCPUs, !CPUAffinity.isList(serverCPUs) { throw ValidationError("--server-cpus must look like 0, 1-3 or 0,2") }
        guard serverThreads >= 1, clientThreads >= 1 else { throw ValidationError("--server-threads and --client-threads must be at least 1") }
        if let watchers, watchers < 1 { throw ValidationError("--watchers must be at least 1") }
        guard replicas >= 1 else { throw ValidationError("--replicas must be at least 1") }
        guard storage == "memory" || storage == "sqlite" else { throw ValidationError("--storage must be memory or sqlite") }
        if storage != "memory", etcdServers != nil { throw ValidationError("--storage is for a single server; with --etcd-servers the storage is etcd") }
        if let serverExecutable, !FileManager.default.isExecutableFile(atPath: serverExecutable) {
            throw ValidationError("--server-executable \(serverExecutable): not an executable file")
        }
        if replicas > 1, etcdServers == nil { throw ValidationError("--replicas needs --etcd-servers: replicas share one etcd") }
        if failover, replicas < 2 || transport != "h2" { throw ValidationError("--failover needs --replicas 2 or more over --etcd-servers, and HTTP/2") }
        if scenario == "restart", etcdServers != nil || transport != "h2" {
            throw ValidationError("--scenario restart restarts one server on its SQLite storage, over HTTP/2: not with --etcd-servers or --protocol http1")
        }
        if target.isSet {
            let local = [("--etcd-servers", etcdServers != nil), ("--replicas", replicas != 1), ("--storage", storage != "memory"),
                         ("--server-cpus", serverCPUs != nil), ("--server-threads", serverThreads != 1),
                         ("--server-executable", serverExecutable != nil), ("--failover", failover), ("--protocol http1", transport == "http1"),
                         ("--scenario restart", scenario == "restart")]
            if let flag = local.first(where: \.1)?.0 {
                throw ValidationError("\(flag) is about servers this benchmark starts: not with --server or --kubeconfig")
            }
        }
        if let connections, connections < 1 { throw ValidationError("--connections must be at least 1") }
        if let nodes, nodes < 1 { throw ValidationError("--nodes must be at least 1") }
        if let objects, objects < 1 { throw ValidationError("--objects must be at least 1") }
        if let writesPerSecond, writesPerSecond < 0 { throw ValidationError("--writes-per-second must not be negative") }
        if let seconds, seconds < 0 { throw ValidationError("--seconds must not be negative") }
        if let mix {
            var probe = FanoutParameters(nodeWatchers: 100, nodes: 1, connections: 1, objects: 1, seconds: 0)
            do { try probe.mix(mix, total: 100) } catch { throw ValidationError("\(error)") }
        }
    }

    func run() async throws {
        let revision = RecoveryCommand.gitRevision()
        let remote = target.isSet ? try await target.connect().endpoint : nil
        // `all` leaves out the restart where it cannot run (replicas over etcd, HTTP/1.1, a server it did not start).
        let scenarios = scenario == "all"
            ? FanoutScenario.allCases.filter { $0 != .restart || (etcdServers == nil && transport == "h2" && remote == nil) }
            : [FanoutScenario(rawValue: scenario)!]
        var bar = ProgressBar(enabled: !noProgress && isatty(2) == 1)
        var runs: [(scenario: String, measurement: FanoutMeasurement)] = []
        // The storm runs twice: bookmarks on, then off.
        let points: [(name: String, scenario: FanoutScenario, bookmarks: Bool)] = scenarios.flatMap { s in
            s == .storm || s == .restart ? [("\(s.rawValue) (bookmarks on)", s, true), ("\(s.rawValue) (bookmarks off)", s, false)]
                : [(s.rawValue, s, true)]
        }
        for (i, point) in points.enumerated() {
            let s = point.scenario
            var p = s.parameters
            p.bookmarks = point.bookmarks
            if let watchers { p.scale(to: watchers) }
            if let mix {
                do { try p.mix(mix, total: p.watchers) } catch { throw ValidationError("\(error)") }
            }
            if let connections { p.connections = connections }
            if let nodes { p.nodes = nodes }
            if let objects { p.objects = objects }
            if let writesPerSecond { p.writesPerSecond = writesPerSecond == 0 ? nil : writesPerSecond }
            if let seconds { p.seconds = seconds }
            p.tracksVersions = failover || s == .restart
            if transport == "http1" {
                p.http1 = true
                guard p.watchers <= 15_000 else {
                    throw ValidationError("--protocol http1 opens a TCP connection per stream: \(p.watchers) streams for \(point.name) exceed the 15,000 this machine's open-files limit allows; lower --watchers")
                }
            }
            let limits = ["--threads", String(serverThreads), "--max-requests-inflight", "0", "--max-mutating-requests-inflight", "0"]
            var servers: [ServerProcess] = []
            let executable = serverExecutable ?? Bundle.main.executablePath ?? CommandLine.arguments[0]
            let dataDirectory = NSTemporaryDirectory() + "/watchcache-bench-fanout-\(UUID().uuidString)"
            defer {
                for server in servers { server.stop() }
                try? FileManager.default.removeItem(atPath: dataDirectory)
            }
            if remote != nil {
                // Nothing to start.
            } else if let etcdServers {
                let prefix = "/watchcache-bench-\(UUID().uuidString.prefix(8))"
                for _ in 0..<replicas {
                    servers.append(try ServerProcess(executable: executable,
                                                     arguments: ["--etcd-servers", etcdServers, "--etcd-prefix", prefix,
                                                                 "--etcd-compaction-interval", "0"] + limits, cpus: serverCPUs))
                }
            } else {
                // A restart needs storage that outlives the process.
                let storageFlags = storage == "sqlite" || s == .restart ? ["--data-dir", dataDirectory] : ["--in-memory"]
                servers.append(try ServerProcess(executable: executable, arguments: storageFlags + limits, cpus: serverCPUs))
            }
            for server in servers { try server.waitUntilReady() }
            let etcdURL = etcdServers?.split(separator: ",").first.map(String.init)
            let etcdBefore = try etcdURL.map(EtcdMetrics.scrape)
            let run = remote.map { FanoutRun(parameters: p, endpoints: [$0], remote: true, clientThreads: clientThreads) }
                ?? FanoutRun(parameters: p, ports: servers.map(\.port), clientThreads: clientThreads)
            run.etcdMetricsURL = etcdURL
            run.progress = { fraction, phase in
                bar.update((Double(i) + fraction) / Double(points.count), label: "\(point.name): \(phase)")
            }
            do {
                var measurement = try await run.run()
                measurement.replicas = servers.count
                measurement.etcdBefore = etcdBefore
                measurement.etcdAfter = try etcdURL.map(EtcdMetrics.scrape)
                if failover {
                    let victim = servers[0]
                    run.progress?(1, "failover")
                    measurement.failover = try await run.failover { victim.crash() }
                }
                if s == .restart {
                    run.progress?(1, "restarting the server")
                    measurement.restart = try await run.restart {
                        let old = servers.removeFirst()
                        let stopping = CPUTime.wall()
                        old.stop()
                        let spawned = CPUTime.wall()
                        let restarted = try ServerProcess(executable: executable, arguments: old.arguments, port: old.port, cpus: serverCPUs)
                        servers.append(restarted)
                        try restarted.waitUntilReady(seconds: 300)
                        return (spawned - stopping, CPUTime.wall() - spawned)
                    }
                }
                runs.append((point.name, measurement))
                await run.close()
            } catch let error as BenchError where remote != nil {
                await run.close()
                throw CommandFailure.runtime(error.description)
            } catch {
                await run.close()
                throw error
            }
        }
        bar.finish()
        let storageName = storage == "sqlite" || scenarios == [.restart] ? "SQLite"
            : scenarios.contains(.restart) ? "in memory; the restart on SQLite" : "in memory"
        let servers = etcdServers == nil ? "server (\(storageName))" : "\(replicas) replica(s) over etcd"
        let client = "client on CPU \(CPUAffinity.current() ?? "?") with \(clientThreads)"
        let placement = remote.map { "HTTP/2 to \($0.url)\($0.context.map { " (context \($0))" } ?? ""), " + client }
            ?? (transport == "http1" ? "HTTP/1.1, " : "HTTP/2, ") + "\(servers) \(serverCPUs.map { "on CPU \($0)" } ?? "not pinned") with \(serverThreads) event loop(s), "
            + client
        let report = FanoutReport(runs: runs, machine: .current(), revision: revision,
                                  date: ISO8601DateFormatter().string(from: Date()), placement: placement)
        print(report.table(), terminator: "")
        if let json {
            try CommandFailure.write(report.json(), to: json, flag: "--json")
            print("JSON: \(json)")
        }
        if let svg {
            try CommandFailure.write(Array(FanoutChart.svg(report).utf8), to: svg, flag: "--svg")
            print("Chart: \(svg)")
        }
    }
}
