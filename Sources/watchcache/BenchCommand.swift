import ArgumentParser
import Foundation
import WatchCache
import WatchCacheBench

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks that print figures: what reconnecting watchers cost the server.",
        subcommands: [RecoveryCommand.self]
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
            Every point runs with bookmarks off, then on.

            Scenarios: kep956 (N = 5,000, R = 62.5/s), sweep (N in 1k/5k/10k x R in 20/62.5/100/500), \
            control (unselective watchers: ~1x expected), server-restart (kep956 with a restart halfway), \
            compression (kep956 at compression 1 and 10: the ratio must not move), all.

            In-process mode runs the library on a virtual clock: deterministic for a seed.
            """
    )

    @Option(help: "kep956, sweep, control, server-restart, compression or all.")
    var scenario = "kep956"

    @Option(help: "in-process.")
    var mode = "in-process"

    @Option(help: "Time compression factor: durations divided by it, the write rate multiplied.")
    var compression: Double = 1

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

    @Option(help: "Write every figure, the parameters, the machine and the git revision to this JSON file.")
    var json: String?

    @Option(help: "Write a chart of the measured and predicted ratios to this SVG file.")
    var svg: String?

    @Flag(name: .customLong("no-progress"), help: "Do not draw the progress bar.")
    var noProgress = false

    func validate() throws {
        let names = RecoveryScenario.allCases.map(\.rawValue) + ["all"]
        guard names.contains(scenario) else { throw ValidationError("--scenario must be one of \(names.joined(separator: ", "))") }
        guard mode == "in-process" else { throw ValidationError("--mode must be in-process") }
        guard compression >= 1, compression <= 100 else { throw ValidationError("--compression must be between 1 and 100") }
        if let watchers, watchers < 1 { throw ValidationError("--watchers must be at least 1") }
        if let writesPerSecond, !(writesPerSecond > 0) { throw ValidationError("--writes-per-second must be positive") }
        if let measured, !(measured > 0) { throw ValidationError("--measured must be positive") }
        if let warmup, warmup < 0 { throw ValidationError("--warmup must not be negative") }
        if let windowEvents, windowEvents != "dynamic", (Int(windowEvents) ?? 0) < 1 {
            throw ValidationError("--window-events must be a positive number of events or 'dynamic'")
        }
    }

    func run() async throws {
        let scenarios = scenario == "all" ? RecoveryScenario.allCases : [RecoveryScenario(rawValue: scenario)!]
        var points: [(RecoveryScenario, RecoveryParameters)] = []
        for s in scenarios {
            for var p in s.points(compression: compression) {
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
                points.append((s, p))
            }
        }

        var bar = ProgressBar(enabled: !noProgress && isatty(2) == 1)
        var comparisons: [RecoveryComparison] = []
        let total = Double(points.count * 2)
        for (i, (_, p)) in points.enumerated() {
            var pair: [RecoveryMeasurement] = []
            for bookmarks in [false, true] {
                let done = Double(i * 2 + (bookmarks ? 1 : 0))
                let label = "\(p) compression \(Int(p.compression))x, bookmarks \(bookmarks ? "on" : "off")"
                let run = InProcessRecoveryRun(parameters: p, bookmarks: bookmarks)
                run.progress = { fraction in bar.update((done + fraction) / total, label: label) }
                pair.append(try run.run())
            }
            comparisons.append(RecoveryComparison(off: pair[0], on: pair[1]))
        }
        bar.finish()

        let report = RecoveryReport(scenario: scenario, mode: mode, comparisons: comparisons, machine: .current(),
                                    revision: Self.gitRevision(), date: ISO8601DateFormatter().string(from: Date()))
        print(report.table(), terminator: "")
        if let json {
            try Data(report.json()).write(to: URL(fileURLWithPath: json))
            print("JSON: \(json)")
        }
        if let svg {
            try RecoveryChart.svg(report).write(toFile: svg, atomically: true, encoding: .utf8)
            print("Chart: \(svg)")
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
        guard let head = git(["rev-parse", "HEAD"]) else { return "unknown" }
        let dirty = !(git(["status", "--porcelain", "--untracked-files=no"]) ?? "").isEmpty
        return dirty ? head + "-dirty" : head
    }
}
