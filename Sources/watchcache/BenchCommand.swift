import ArgumentParser
import Foundation
import WatchCache
import WatchCacheBench

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks that print figures: what reconnecting watchers cost the server, and what durability costs.",
        subcommands: [RecoveryCommand.self, StorageBenchCommand.self, FanoutBenchCommand.self, EncodingBenchCommand.self, CompressionBenchCommand.self, EtcdBenchCommand.self, GuaranteesCommand.self]
    )
}

struct RecoveryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recovery",
        abstract: "Measure watch restarts with bookmarks off and on (KEP-956's ~40x cut in init events).",
        discussion: """
            N node-scoped watchers (pods by spec.nodeName), 30 pods per node, R writes/s spread over \
            the pods; each watcher re-watches after a timeout drawn like client-go's ([T, 2T), T = 300 s) \
            from its last event's version (bookmarks off) or its last bookmark's (on), and relists on 410. \
            Every point runs with bookmarks off, then on — with the server's scan replay (kube-apiserver's) \
            and its indexed replay, side by side (--watch-replay).

            Scenarios: kep956 (N = 5,000, R = 62.5/s), sweep (N in 1k/5k/10k x R in 20/62.5/100/500), \
            control (unselective watchers: ~1x expected), server-restart (kep956 with a graceful restart halfway, on the durable storage in a scratch directory), \
            compression (kep956 at compression 1 and 10: the ratio must not move), all.

            In-process mode runs the library on a virtual clock: deterministic for a seed. Network mode \
            starts a real `watchcache serve` on loopback for each run and drives it through HTTP/2 \
            connections of up to 500 watch streams each; it runs in real time, so its default \
            compression is 10 (kep956: 3 minutes per run).

            Any Kubernetes API server (kube-apiserver, k3s, kwok, another watchcache): --kubeconfig \
            [--context], or --server URL with --token, --certificate-authority, --client-certificate \
            and --client-key, --insecure-skip-tls-verify (HTTP/2 over TLS, ALPN h2). Such a run goes in \
            real time (no compression: kep956 takes about an hour, two runs of 30 minutes; shorten it with --warmup, \
            --measured and --watchers), creates a namespace of its own and deletes it at the end, and \
            places its pods on nodes by a label, never scheduled. Init events come from the server's \
            apiserver_init_events_total when its /metrics is readable; per resume, and otherwise, from \
            the client's estimate.
            """
    )

    @Option(help: "kep956, sweep, control, server-restart, compression or all.")
    var scenario = "kep956"

    @Option(help: "in-process or network (the default with --server or --kubeconfig).")
    var mode: String?

    @Option(help: "Time compression factor: durations divided by it, the write rate multiplied (default: 1 in-process, 10 over the network).")
    var compression: Double?

    @OptionGroup(title: "Any Kubernetes API server (network mode)")
    var target: APIServerTargetOptions

    @Option(help: "Override the scenario's number of watchers (N).")
    var watchers: Int?

    @Option(name: .customLong("writes-per-second"), help: "Override the scenario's write rate (R, writes/s).")
    var writesPerSecond: Double?

    @Option(help: "Seconds counted, after the warm-up (real, uncompressed time).")
    var measured: Double?

    @Option(help: "Seconds run before counting starts.")
    var warmup: Double?

    @Option(name: .customLong("window-events"), help: "History window in events, fixed (default: 50 per watcher, kube-apiserver's 2019 sizing), or 'dynamic' for today's 75 s rule.")
    var windowEvents: String?

    @Option(help: "Seed of the random choices.")
    var seed: UInt64 = 1

    @Option(name: .customLong("watch-replay"), help: "The server's replay of resumed watches: scan (kube-apiserver's, what KEP-956 measured), indexed, or both (each point runs with both, side by side; the default). With --server, say which one that server does.")
    var watchReplay: String?

    @Option(help: "Write every figure, the parameters, the machine and the git revision to this JSON file.")
    var json: String?

    @Option(help: "Write a chart of the measured and predicted ratios to this SVG file.")
    var svg: String?

    @Flag(name: .customLong("no-progress"), help: "Do not draw the progress bar.")
    var noProgress = false

    func validate() throws {
        try CommandFailure.checkWritable(json, flag: "--json")
        try CommandFailure.checkWritable(svg, flag: "--svg")
        let names = RecoveryScenario.allCases.map(\.rawValue) + ["all"]
        guard names.contains(scenario) else { throw ValidationError("--scenario must be one of \(names.joined(separator: ", "))") }
        if let mode, mode != "in-process", mode != "network" { throw ValidationError("--mode must be in-process or network") }
        if let compression, !(1...100).contains(compression) { throw ValidationError("--compression must be between 1 and 100") }
        if hasTarget, mode == "in-process" { throw ValidationError("--server and --kubeconfig run over the network: not with --mode in-process") }
        if hasTarget, scenario == "server-restart" || scenario == "all" || scenario == "compression" {
            throw ValidationError("--scenario \(scenario) restarts or time-compresses the server it starts itself: it cannot run against --server or --kubeconfig")
        }
        if let watchers, watchers < 1 { throw ValidationError("--watchers must be at least 1") }
        if let writesPerSecond, !(writesPerSecond > 0) { throw ValidationError("--writes-per-second must be positive") }
        if let measured, !(measured > 0) { throw ValidationError("--measured must be positive") }
        if let warmup, warmup < 0 { throw ValidationError("--warmup must not be negative") }
        if let watchReplay, !["scan", "indexed", "both"].contains(watchReplay) { throw ValidationError("--watch-replay must be scan, indexed or both") }
        if hasTarget, watchReplay == "both" {
            throw ValidationError("--watch-replay both needs servers the run starts: a running server has one replay (scan: kube-apiserver's; indexed: watchcache serve's default)")
        }
        if let windowEvents, windowEvents != "dynamic", (Int(windowEvents) ?? 0) < 1 {
            throw ValidationError("--window-events must be a positive number of events or 'dynamic'")
        }
    }


    /// A server the run does not start: --server or --kubeconfig.
    var hasTarget: Bool { target.isSet }

    func run() async throws {
        let revision = Self.gitRevision()  // before the runs: the checkout may move while they go on
        let mode = self.mode ?? (hasTarget ? "network" : "in-process")
        // A running server: who it is decides the time compression and the replay it does.
        var endpoint: APIServerEndpoint?
        var targetIsWatchCache = false
        if hasTarget {
            let (resolved, version) = try await target.connect()
            targetIsWatchCache = version.contains("-watchcache")
            if let compression, compression != 1, !targetIsWatchCache {
                throw CommandFailure.usage("--compression \(compression): \(resolved.url) is \(version), which runs in real time; only a watchcache serve started with the same --time-compression can be compressed")
            }
            endpoint = resolved
        }
        let scenarios = scenario == "all" ? RecoveryScenario.allCases : [RecoveryScenario(rawValue: scenario)!]
        var points: [(RecoveryScenario, RecoveryParameters)] = []
        for s in scenarios {
            for var p in s.points(compression: compression ?? (mode == "network" && !hasTarget ? 10 : 1)) {
                if let watchers { p.watchers = watchers }
                if let writesPerSecond { p.writesPerSecond = writesPerSecond }
                if let measured {
                    p.measured = measured
                    if s == .serverRestart { p.restartAt = measured / 2 }
                }
                if let warmup { p.warmup = warmup }
                switch windowEvents {
                case "dynamic"?: p.windowEvents = nil
                case let events?: p.windowEvents = Int(events)
                case nil: p.windowEvents = RecoveryParameters.window2019(watchers: p.watchers)
                }
                p.seed = seed
                let defaultReplay = hasTarget ? (targetIsWatchCache ? "indexed" : "scan") : "both"
                let replays = (watchReplay ?? defaultReplay) == "both" ? WatchReplay.allCases : [WatchReplay(rawValue: watchReplay ?? defaultReplay)!]
                for replay in replays {
                    p.replay = replay
                    points.append((s, p))
                }
            }
        }

        if hasTarget {
            let seconds = points.reduce(0.0) { $0 + 2 * ($1.1.warmup + $1.1.measured) / $1.1.compression }
            print("This runs in real time: \(points.count * 2) runs of warm-up + counted time, about \(Int((seconds / 60).rounded(.up))) minutes, plus creating the pods.")
        }
        var bar = ProgressBar(enabled: !noProgress && isatty(2) == 1)
        var comparisons: [RecoveryComparison] = []
        let total = Double(points.count * 2)
        for (i, (_, p)) in points.enumerated() {
            var pair: [RecoveryMeasurement] = []
            for bookmarks in [false, true] {
                let done = Double(i * 2 + (bookmarks ? 1 : 0))
                let label = "\(p) compression \(Int(p.compression))x, bookmarks \(bookmarks ? "on" : "off")"
                let progress: (Double) -> Void = { fraction in bar.update((done + fraction) / total, label: label) }
                if mode == "network" {
                    pair.append(try await Self.runOverNetwork(p, bookmarks: bookmarks, target: endpoint, progress: progress))
                } else {
                    let run = InProcessRecoveryRun(parameters: p, bookmarks: bookmarks)
                    run.progress = progress
                    // A restart needs something to restart from: the durable storage, in a scratch directory.
                    let data = p.restartAt == nil ? nil : NSTemporaryDirectory() + "watchcache-bench-restart-\(UUID().uuidString)"
                    run.dataDirectory = data
                    defer { if let data { try? FileManager.default.removeItem(atPath: data) } }
                    pair.append(try run.run())
                }
            }
            comparisons.append(RecoveryComparison(off: pair[0], on: pair[1]))
        }
        bar.finish()

        var report = RecoveryReport(scenario: scenario, mode: mode, comparisons: comparisons, machine: .current(),
                                    revision: revision, date: ISO8601DateFormatter().string(from: Date()))
        report.target = endpoint.map { $0.url + ($0.context.map { " (context \($0))" } ?? "") }
        print(report.table(), terminator: "")
        if let json {
            try CommandFailure.write(report.json(), to: json, flag: "--json")
            print("JSON: \(json)")
        }
        if let svg {
            try CommandFailure.write(Array(RecoveryChart.svg(report).utf8), to: svg, flag: "--svg")
            print("Chart: \(svg)")
        }
    }

    /// One network run: against `server`, or a fresh `watchcache serve` (this executable) on loopback.
    /// A run with a restart uses the durable storage in a scratch data directory and restarts the
    /// server gracefully (SIGTERM, then a new process on the same port and directory).
    static func runOverNetwork(_ p: RecoveryParameters, bookmarks: Bool, target: APIServerEndpoint?, progress: @escaping (Double) -> Void) async throws -> RecoveryMeasurement {
        let endpoint: APIServerEndpoint
        let managed = ManagedServer()
        var data: String?
        if let target {
            endpoint = target
        } else {
            var arguments = ["--threads", "1", "--time-compression", String(p.compression), "--watch-replay", p.replay.rawValue,
                             "--max-requests-inflight", "0", "--max-mutating-requests-inflight", "0"]
            if p.restartAt != nil {
                data = NSTemporaryDirectory() + "watchcache-bench-restart-\(UUID().uuidString)"
                arguments += ["--data-dir", data!]
            } else {
                arguments += ["--in-memory"]
            }
            if let events = p.windowEvents {
                arguments += ["--window-min-events", String(events), "--window-max-events", String(events)]
            }
            try managed.start(arguments: arguments, port: nil)
            endpoint = .loopback(port: managed.port)
        }
        defer {
            managed.stop()
            if let data { try? FileManager.default.removeItem(atPath: data) }
        }
        let run = NetworkRecoveryRun(parameters: p, bookmarks: bookmarks, endpoint: endpoint, remote: target != nil)
        run.progress = progress
        if target == nil {
            run.restartServer = { try managed.restart() }
        }
        do {
            let result = try await run.run()
            await run.close()
            return result
        } catch let error as BenchError where target != nil {
            await run.close()
            throw CommandFailure.runtime(error.description)
        } catch {
            await run.close()
            throw error
        }
    }

    /// The checkout's commit (and `-dirty` with uncommitted changes), or "unknown" outside one.
    static func gitRevision() -> String {
        func git(_ arguments: [String]) -> String? {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/git")
            process.arguments = arguments
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            guard (try? process.run()) != nil else { return nil }
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else { return nil }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        // The checkout the executable was built in (.build/<config>/watchcache), else the working directory.
        let directory = URL(fileURLWithPath: Bundle.main.executablePath ?? CommandLine.arguments[0]).deletingLastPathComponent().path
        guard let head = git(["-C", directory, "rev-parse", "HEAD"]) ?? git(["rev-parse", "HEAD"]) else { return "unknown" }
        let dirty = !(git(["-C", directory, "status", "--porcelain", "--untracked-files=no"]) ?? "").isEmpty
        return dirty ? head + "-dirty" : head
    }
}

/// The `watchcache serve` process a network run starts, and restarts on the same port.
final class ManagedServer: @unchecked Sendable {  // guarded by `lock`
    private let lock = NSLock()
    private var process: ServerProcess?
    private var arguments: [String] = []
    private(set) var port = 0

    /// Starts the server and returns once `/readyz` says 200 (it listens before its storage is loaded).
    func start(arguments: [String], port requested: Int?) throws {
        let started = try ServerProcess(executable: Bundle.main.executablePath ?? CommandLine.arguments[0], arguments: arguments, port: requested)
        try started.waitUntilReady()
        lock.withLock {
            self.arguments = arguments
            process = started
            port = started.port
        }
    }

    /// SIGTERM (a graceful stop: watchers get their last bookmark), then the same command again.
    func restart() throws {
        let (old, arguments, port) = lock.withLock { (process, self.arguments, self.port) }
        old?.stop()
        try start(arguments: arguments, port: port)
    }

    func stop() {
        lock.withLock { process }?.stop()
    }
}
