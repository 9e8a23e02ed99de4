import ArgumentParser
import Foundation
import WatchCache
import WatchCacheBench
import WatchCacheSQLite

struct StorageBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage",
        abstract: "Measure the durable storage: write throughput (--sync always and batch), start-up time, disk per 100k history events.",
        discussion: """
            Writes go through the registry, the path the server's handlers use, without HTTP: each \
            writer thread creates 1 KiB config maps and waits for each to be committed (synced) and \
            applied. Start-up fills a data directory with --startup-objects objects and compacts its \
            history to --startup-events events, then times a cold load in-process and a real \
            `watchcache serve` from spawn to /readyz 200. Disk: --disk-events updates of 1,000 \
            objects, file size after a WAL checkpoint.
            """
    )

    @Option(help: "throughput, startup, disk or all.")
    var measure = "all"

    @Option(help: "Writer threads for the throughput runs.")
    var writers = 32

    @Option(help: "Seconds per throughput run.")
    var seconds = 5.0

    @Option(name: .customLong("startup-objects"), help: "Objects in the start-up data directory.")
    var startupObjects = 150_000

    @Option(name: .customLong("startup-events"), help: "History events kept in the start-up data directory.")
    var startupEvents = 100_000

    @Option(name: .customLong("disk-events"), help: "History events written for the disk measurement.")
    var diskEvents = 100_000

    @Option(help: "Where the scratch data directories go (removed afterwards).")
    var scratch = NSTemporaryDirectory()

    @Option(name: .customLong("startup-data-dir"), help: "The start-up's data directory, kept afterwards: filled first if it holds no database, measured as it is otherwise (e.g. one `watchcache serve` wrote).")
    var startupDataDir: String?

    @Flag(name: .customLong("startup-probes"), inversion: .prefixedNo,
          help: "While the real server loads, send it a LIST and a /metrics request every 10 ms and report their latency; with --no-startup-probes only /readyz is polled.")
    var startupProbes = true

    @Option(help: "Write every figure to this JSON file.")
    var json: String?

    @Option(name: .customLong("server-executable"), help: "The watchcache binary timed from spawn to ready (default: this one), e.g. another build to compare with.")
    var serverExecutable: String?

    func validate() throws {
        try CommandFailure.checkWritable(json, flag: "--json")
        if let serverExecutable, !FileManager.default.isExecutableFile(atPath: serverExecutable) {
            throw ValidationError("--server-executable \(serverExecutable): not an executable file")
        }
        guard ["throughput", "startup", "disk", "all"].contains(measure) else {
            throw ValidationError("--measure must be throughput, startup, disk or all")
        }
        guard writers >= 1, seconds > 0, startupObjects >= 1, startupEvents >= 1, diskEvents >= 1 else {
            throw ValidationError("--writers, --seconds and the sizes must be positive")
        }
    }

    func run() async throws {
        var bench = StorageBenchmark()
        bench.writers = writers
        bench.seconds = seconds
        bench.startupObjects = startupObjects
        bench.startupEvents = startupEvents
        bench.diskEvents = diskEvents
        bench.scratch = scratch
        bench.startupDirectory = startupDataDir
        bench.probeWhileLoading = startupProbes
        let revision = RecoveryCommand.gitRevision()
        var bar = ProgressBar(enabled: isatty(2) == 1)
        var results: [String: JSONValue] = [:]
        var rows: [[String]] = []

        if measure == "throughput" || measure == "all" {
            rows.append(["writes (1 KiB objects)", "writers", "objects/s", "p50 ms", "p99 ms"])
            for sync in [SyncMode.always, .batch] {
                bar.update(0, label: "throughput, --sync \(sync.rawValue)")
                let t = try bench.throughput(sync: sync)
                rows.append(["--sync \(sync.rawValue)", "\(t.writers)", String(format: "%.0f", t.objectsPerSecond),
                             String(format: "%.2f", t.p50Milliseconds), String(format: "%.2f", t.p99Milliseconds)])
                results["throughput-\(sync.rawValue)"] = try Self.encode(t)
            }
        }
        if measure == "startup" || measure == "all" {
            let s = try bench.startup(executable: serverExecutable ?? Bundle.main.executablePath ?? CommandLine.arguments[0]) { bar.update($0, label: "start-up: filling") }
            rows.append([])
            rows.append(["start-up", "objects", "history", "load s", "serve→ready s"])
            rows.append([String(format: "%.0f MiB on disk", Double(s.fileBytes) / 1_048_576), "\(s.objects)", "\(s.historyEvents)",
                         String(format: "%.2f", s.loadSeconds), s.serverReadySeconds.map { String(format: "%.2f", $0) } ?? "-"])
            if let t = s.loadTimings {
                rows.append(["  load: read / parse / fill s", String(format: "%.2f", t.readSeconds), String(format: "%.2f", t.parseSeconds),
                             String(format: "%.2f", t.fillSeconds), s.serverListeningSeconds.map { String(format: "listening %.2f", $0) } ?? ""])
            }
            rows.append(["compaction to \(s.historyEvents) events", "", "\(s.compactedEvents) removed", "",
                         String(format: "longest txn %.1f ms", s.longestCompactionMilliseconds)])
            if let answered = s.requestsWhileLoading {
                rows.append(["requests while loading", "\(answered) answered",
                             String(format: "p50 %.1f ms", s.whileLoadingP50Milliseconds ?? 0),
                             String(format: "p99 %.1f ms", s.whileLoadingP99Milliseconds ?? 0),
                             String(format: "max %.1f ms", s.whileLoadingMaxMilliseconds ?? 0)])
            }
            results["startup"] = try Self.encode(s)
        }
        if measure == "disk" || measure == "all" {
            let d = try bench.disk { bar.update($0, label: "disk: writing history") }
            rows.append([])
            rows.append(["disk", "objects", "history", "file MiB", "MiB per 100k events"])
            rows.append(["1 KiB objects, updated", "\(d.objects)", "\(d.historyEvents)", String(format: "%.1f", Double(d.fileBytes) / 1_048_576),
                         String(format: "%.1f", d.bytesPerHundredThousandEvents / 1_048_576)])
            results["disk"] = try Self.encode(d)
        }
        bar.finish()
        let machine = MachineInfo.current()
        print("watchcache bench storage — \(machine.summary), revision \(revision)")
        print(TextTable.render(rows.map { $0.isEmpty ? [""] : $0 }), terminator: "")
        if let json {
            results["machine"] = .string(machine.summary)
            results["revision"] = .string(revision)
            try CommandFailure.write(JSONWriter.encode(.object(JSONObject(results.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))), to: json, flag: "--json")
            print("JSON: \(json)")
        }
    }

    static func encode(_ value: some Encodable) throws -> JSONValue {
        try JSONParser.parse(Array(try JSONEncoder().encode(value)))
    }
}
