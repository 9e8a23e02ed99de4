import ArgumentParser
import Foundation
import WatchCache
import WatchCacheBench
import WatchCacheEtcd

struct EtcdBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "etcd",
        abstract: "Measure etcd without WatchCache in front: raw etcd watchers at a write rate, and writes straight to etcd vs through a replica.",
        discussion: """
            The figures `bench fanout --etcd-servers ... --replicas N` are read against. Raw watchers \
            watch the pods' key range as etcd's own clients do (clientv3 puts one context's watchers \
            on one gRPC stream); each receives every write, since etcd cannot select by field. \
            etcd's CPU, memory and watcher count come from its /metrics. Start an etcd first: \
            `scripts/etcd.sh start`.
            """
    )

    @Option(name: .customLong("etcd-servers"), help: "The etcd to measure (http://host:port, comma-separated).")
    var etcdServers: String

    @Option(help: "Raw etcd watchers.")
    var watchers = 1_000

    @Option(help: "gRPC watch streams they share.")
    var streams = 10

    @Option(name: .customLong("writes-per-second"), help: "Write rate while they watch.")
    var writesPerSecond = 100.0

    @Option(help: "Seconds of writing while they watch.")
    var seconds = 20.0

    @Option(help: "Concurrent writers of the write-throughput phase.")
    var writers = 16

    @Option(name: .customLong("write-seconds"), help: "Seconds of each write-throughput run; 0 skips the phase.")
    var writeSeconds = 10.0

    @Option(help: "Write the figures to this JSON file.")
    var json: String?

    func validate() throws {
        try CommandFailure.checkWritable(json, flag: "--json")
    }

    func run() async throws {
        let endpoints: EtcdEndpoints
        do { endpoints = try EtcdEndpoints(parsing: etcdServers) } catch { throw ValidationError(error.description) }
        guard watchers >= 0, streams >= 1, writesPerSecond > 0, seconds > 0, writers >= 1, writeSeconds >= 0 else {
            throw ValidationError("--watchers must not be negative; --streams, --writes-per-second, --seconds and --writers must be positive")
        }
        var p = EtcdBenchmark.Parameters()
        p.watchers = watchers
        p.streams = streams
        p.writesPerSecond = writesPerSecond
        p.seconds = seconds
        p.writers = writers
        p.writeSeconds = writeSeconds
        let bench = EtcdBenchmark(parameters: p, endpoints: endpoints, executable: Bundle.main.executablePath ?? CommandLine.arguments[0])
        var bar = ProgressBar(enabled: isatty(2) == 1)
        func ms(_ s: Double) -> String { String(format: "%.2f ms", s * 1000) }
        var document: [(String, JSONValue)] = [("benchmark", .string("etcd")), ("machine", MachineInfo.current().json),
                                               ("revision", .string(RecoveryCommand.gitRevision())),
                                               ("date", .string(ISO8601DateFormatter().string(from: Date())))]
        func n(_ v: Double) -> JSONValue { .number(String(format: "%.6g", v)) }
        if watchers > 0 {
            let w = try await bench.watchers { bar.update($0 * 0.5, label: $1) }
            bar.finish()
            let cpu = w.etcdAfter.cpuSeconds - w.etcdBefore.cpuSeconds
            print("raw etcd watchers: \(w.watchers) on \(w.streams) gRPC streams; etcd counts \(Int(w.etcdAfter.watchers)) watchers")
            print("  \(w.writes) writes in \(String(format: "%.1f", w.seconds)) s; events delivered \(w.delivered) of \(w.expected)")
            print("  latency p50 \(ms(w.latency.p50)), p99 \(ms(w.latency.p99)) (\(w.latency.count) sampled)")
            print("  etcd CPU \(String(format: "%.1f", cpu)) s (\(String(format: "%.2f", cpu / w.seconds)) cores), RSS \(String(format: "%.1f", w.etcdAfter.residentBytes / 1_048_576)) MiB")
            document.append(("watchers", .object(JSONObject([
                ("watchers", n(Double(w.watchers))), ("streams", n(Double(w.streams))), ("etcdWatchers", n(w.etcdAfter.watchers)),
                ("writes", n(Double(w.writes))), ("seconds", n(w.seconds)), ("delivered", n(Double(w.delivered))), ("expected", n(Double(w.expected))),
                ("latencyP50", n(w.latency.p50)), ("latencyP99", n(w.latency.p99)), ("etcdCPUSeconds", n(cpu)),
                ("etcdResidentBytes", n(w.etcdAfter.residentBytes)),
            ]))))
        }
        if writeSeconds > 0 {
            let (direct, replica) = try await bench.writes { bar.update(0.5 + $0 * 0.5, label: $1) }
            bar.finish()
            for (name, f) in [("straight to etcd", direct), ("through a replica", replica)] {
                print("writes \(name): \(Int(f.perSecond))/s with \(writers) writers, p50 \(ms(f.latency.p50)), p99 \(ms(f.latency.p99)), errors \(f.errors)")
            }
            func figures(_ f: EtcdBenchmark.WriteFigures) -> JSONValue {
                .object(JSONObject([("writes", n(Double(f.writes))), ("perSecond", n(f.perSecond)), ("errors", n(Double(f.errors))),
                                    ("p50", n(f.latency.p50)), ("p99", n(f.latency.p99))]))
            }
            document.append(("writes", .object(JSONObject([("writers", n(Double(writers))), ("direct", figures(direct)), ("replica", figures(replica))]))))
        }
        if let json {
            try CommandFailure.write(JSONWriter.encode(.object(JSONObject(document))) + [0x0A], to: json, flag: "--json")
            print("JSON: \(json)")
        }
    }
}
