import Foundation
import WatchCache

/// The fan-out runs side by side: a table for the terminal and every figure as JSON.
public struct FanoutReport: Sendable {
    public var runs: [(scenario: String, measurement: FanoutMeasurement)]
    public var machine: MachineInfo
    public var revision: String
    public var date: String
    /// How server and client were placed ("server on CPU 0, client on CPU 1").
    public var placement: String

    public init(runs: [(scenario: String, measurement: FanoutMeasurement)], machine: MachineInfo, revision: String, date: String, placement: String) {
        self.runs = runs
        self.machine = machine
        self.revision = revision
        self.date = date
        self.placement = placement
    }

    static func mib(_ bytes: Double) -> String { String(format: "%.1f MiB", bytes / 1_048_576) }
    static func ms(_ seconds: Double) -> String { String(format: "%.2f ms", seconds * 1000) }
    static func count(_ n: Double) -> String {
        let formatter = NumberFormatter()
        formatter.numberStyle = .decimal
        formatter.maximumFractionDigits = 0
        return formatter.string(from: NSNumber(value: n)) ?? String(Int(n))
    }

    public func table() -> String {
        var rows: [[String]] = [[""] + runs.map(\.scenario)]
        func row(_ label: String, _ value: (FanoutMeasurement) -> String) { rows.append([label] + runs.map { value($0.measurement) }) }
        row("watch streams / TCP connections") { m in
            "\(Self.count(Double(m.watchers))) / \(Self.count(Double(m.parameters.http1 ? m.watchers : m.parameters.connections)))"
        }
        row("  node-indexed / namespace / label / all") {
            "\($0.parameters.nodeWatchers) / \($0.parameters.namespaceWatchers) / \($0.parameters.labelWatchers) / \($0.parameters.unselectiveWatchers)"
        }
        row("streams established (failed)") { "\(Self.count(Double($0.streamsEstablished))) (\($0.streamsFailed))" }
        row("seconds to establish all") { String(format: "%.2f", $0.establishSeconds) }
        row("server RSS: empty / objects / streams open") {
            "\(Self.mib($0.serverRSSEmpty)) / \(Self.mib($0.serverRSSBeforeStreams)) / \(Self.mib($0.serverRSSStreamsOpen))"
        }
        row("server memory per stream") { $0.streamsEstablished == 0 ? "-" : String(format: "%.2f KiB", $0.bytesPerStream / 1024) }
        row("server CPU s opening streams") { String(format: "%.2f", $0.serverCPUSecondsOpening) }
        row("writes/s acknowledged (asked)") { m in
            m.writeSeconds == 0 ? "-" : "\(Self.count(m.writesPerSecond)) (\(m.parameters.writesPerSecond.map { Self.count($0) } ?? "max"))"
        }
        row("write errors / skipped (behind)") { "\($0.writeErrors) / \($0.writesSkipped)" }
        row("events delivered / expected") { m in
            m.writeSeconds == 0 ? "-" : "\(Self.count(Double(m.deliveredEvents))) / \(Self.count(Double(m.expectedDeliveries)))"
        }
        row("delivered events/s") { $0.writeSeconds == 0 ? "-" : Self.count($0.deliveredPerSecond) }
        row("latency p50 / p99 / p999") { m in
            m.latency.count == 0 ? "-" : "\(Self.ms(m.latency.quantile(0.5))) / \(Self.ms(m.latency.quantile(0.99))) / \(Self.ms(m.latency.quantile(0.999)))"
        }
        row("latency max (events timed)") { m in m.latency.count == 0 ? "-" : "\(Self.ms(m.latency.maxSeconds)) (\(Self.count(Double(m.latency.count))))" }
        row("GET while writing p50 / p99 / max (GETs)") { m in
            let g = Distribution(m.getLatencies)
            return m.getLatencies.isEmpty ? "-"
                : "\(Self.ms(g.p50)) / \(Self.ms(g.p99)) / \(Self.ms(g.max)) (\(m.getLatencies.count))"
        }
        row("server CPU s writing (cores)") { m in
            m.writeSeconds == 0 ? "-" : String(format: "%.1f (%.2f)", m.serverCPUSecondsWriting, m.serverCPUSecondsWriting / m.writeSeconds)
        }
        row("server RSS peak") { Self.mib($0.serverRSSPeak) }
        row("watchers terminated / streams ended / ERROR events") { "\(Int($0.terminatedWatchers)) / \($0.streamsEnded) / \($0.errorEvents)" }
        row("watchers parked (fell behind, read the window)") { "\(Int($0.parkedWatchers))" }
        row("MB received by the client") { String(format: "%.1f", $0.bytesReceived / 1e6) }
        if runs.contains(where: { $0.measurement.etcdAfter != nil }) {
            row("replicas (over etcd)") { "\($0.replicas)" }
            row("etcd watchers / watch streams") { m in
                m.etcdAfter.map { "\(Int($0.watchers)) / \(Int($0.watchStreams))" } ?? "-"
            }
            if runs.contains(where: { $0.measurement.failover != nil }) {
                row("failover: streams of the killed replica") { m in m.failover.map { Self.count(Double($0.streams)) } ?? "-" }
                row("failover: s until all live on another") { m in m.failover.map { String(format: "%.2f", $0.seconds) } ?? "-" }
                row("failover: refused / ERROR events (410)") { m in m.failover.map { "\($0.failed) / \($0.errorEvents)" } ?? "-" }
                row("failover: then delivered / expected") { m in
                    m.failover.map { "\(Self.count(Double($0.deliveredAfter))) / \(Self.count(Double($0.expectedAfter)))" } ?? "-"
                }
            }
            row("etcd CPU s writing (cores)") { m in
                guard let cpu = m.etcdCPUSecondsWriting, m.writeSeconds > 0 else { return "-" }
                return String(format: "%.1f (%.2f)", cpu, cpu / m.writeSeconds)
            }
            row("etcd CPU s over the run / RSS") { m in
                guard let a = m.etcdAfter, let b = m.etcdBefore else { return "-" }
                return String(format: "%.1f / ", a.cpuSeconds - b.cpuSeconds) + Self.mib(a.residentBytes)
            }
        }
        if runs.contains(where: { $0.measurement.restart != nil }) {
            func restartRow(_ label: String, _ value: @escaping (FanoutRun.Restart) -> String) {
                row("restart: " + label) { m in m.restart.map(value) ?? "-" }
            }
            restartRow("streams to resume / shutdown bookmarks") { "\(Self.count(Double($0.streams))) / \(Self.count(Double($0.shutdownBookmarks)))" }
            restartRow("s to stop / to ready (load CPU s)") { String(format: "%.2f / %.2f (%.2f)", $0.shutdownSeconds, $0.startSeconds, $0.loadCPUSeconds) }
            restartRow("s from ready until all live (total)") { String(format: "%.2f (%.2f)", $0.resumeSeconds, $0.totalSeconds) }
            restartRow("resumed / refused / relists (410)") { "\(Self.count(Double($0.resumed))) / \($0.failed) / \($0.relists)" }
            restartRow("server CPU s resuming / init events") { String(format: "%.2f / ", $0.serverCPUSeconds) + Self.count($0.initEvents) }
            restartRow("server RSS resumed") { Self.mib($0.serverRSS) }
            restartRow("then delivered / expected") { "\(Self.count(Double($0.deliveredAfter))) / \(Self.count(Double($0.expectedAfter)))" }
        }
        if runs.contains(where: { $0.measurement.stormStreams > 0 }) {
            row("storm: streams reopened at once") { $0.stormStreams == 0 ? "-" : Self.count(Double($0.stormStreams)) }
            row("storm: seconds until all caught up") { $0.stormStreams == 0 ? "-" : String(format: "%.2f", $0.stormSeconds) }
            row("storm: server CPU s / init events") { m in
                m.stormStreams == 0 ? "-" : String(format: "%.2f / ", m.stormCPUSeconds) + Self.count(m.stormInitEvents)
            }
        }

        var out = "Fan-out: \(machine.summary), revision \(String(revision.prefix(12))), \(placement)\n\n"
        out += TextTable.render(rows)
        var notes: [String] = []
        for run in runs { for note in run.measurement.notes where !notes.contains(note) { notes.append(note) } }
        for note in notes { out += "  note: \(note)\n" }
        out += "\nLatency runs from the client sending a write to it parsing the event on a watch stream (an upper\n"
        out += "bound on acknowledged -> parsed). Memory per stream is the server's RSS growth over the server with\n"
        out += "its objects loaded, divided by the streams open.\n"
        return out
    }

    public func json() -> [UInt8] {
        let items: [JSONValue] = runs.map { run in
            let m = run.measurement
            let p = m.parameters
            func n(_ v: Double) -> JSONValue { .number(String(format: "%.6g", v)) }
            return .object(JSONObject([
                ("scenario", .string(run.scenario)),
                ("parameters", .object(JSONObject([
                    ("nodeWatchers", n(Double(p.nodeWatchers))), ("nodes", n(Double(p.nodes))),
                    ("namespaceWatchers", n(Double(p.namespaceWatchers))), ("labelWatchers", n(Double(p.labelWatchers))),
                    ("unselectiveWatchers", n(Double(p.unselectiveWatchers))), ("connections", n(Double(p.connections))),
                    ("objects", n(Double(p.objects))), ("writesPerSecond", p.writesPerSecond.map(n) ?? .string("max")),
                    ("seconds", n(p.seconds)), ("objectBytes", n(Double(p.objectBytes))), ("bookmarks", .string(p.bookmarks ? "on" : "off")),
                    ("protocol", .string(p.http1 ? "http/1.1" : "h2")),
                    ("neverReadingShare", n(p.neverReadingShare)), ("stalledConnectionShare", n(p.stalledConnectionShare)),
                ]))),
                ("streamsEstablished", n(Double(m.streamsEstablished))), ("streamsFailed", n(Double(m.streamsFailed))),
                ("establishSeconds", n(m.establishSeconds)), ("streamsEnded", n(Double(m.streamsEnded))),
                ("writes", n(Double(m.writes))), ("writeErrors", n(Double(m.writeErrors))), ("writesSkipped", n(Double(m.writesSkipped))),
                ("writeSeconds", n(m.writeSeconds)), ("expectedDeliveries", n(Double(m.expectedDeliveries))),
                ("deliveredEvents", n(Double(m.deliveredEvents))), ("deliveredPerSecond", n(m.deliveredPerSecond)),
                ("bookmarks", n(Double(m.bookmarks))), ("errorEvents", n(Double(m.errorEvents))), ("bytesReceived", n(m.bytesReceived)),
                ("latencySeconds", .object(JSONObject([
                    ("count", n(Double(m.latency.count))), ("mean", n(m.latency.meanSeconds)), ("p50", n(m.latency.quantile(0.5))),
                    ("p99", n(m.latency.quantile(0.99))), ("p999", n(m.latency.quantile(0.999))), ("max", n(m.latency.maxSeconds)),
                ]))),
                ("getWhileWritingSeconds", .object(JSONObject([
                    ("count", n(Double(m.getLatencies.count))), ("p50", n(Distribution(m.getLatencies).p50)),
                    ("p99", n(Distribution(m.getLatencies).p99)), ("max", n(Distribution(m.getLatencies).max)),
                ]))),
                ("serverRSSBytes", .object(JSONObject([
                    ("empty", n(m.serverRSSEmpty)), ("beforeStreams", n(m.serverRSSBeforeStreams)),
                    ("streamsOpen", n(m.serverRSSStreamsOpen)), ("peak", n(m.serverRSSPeak)), ("perStream", n(m.bytesPerStream)),
                ]))),
                ("serverCPUSeconds", .object(JSONObject([("opening", n(m.serverCPUSecondsOpening)), ("writing", n(m.serverCPUSecondsWriting))]))),
                ("terminatedWatchers", n(m.terminatedWatchers)), ("parkedWatchers", n(m.parkedWatchers)),
                ("storm", .object(JSONObject([("streams", n(Double(m.stormStreams))), ("seconds", n(m.stormSeconds)),
                                              ("cpuSeconds", n(m.stormCPUSeconds)), ("initEvents", n(m.stormInitEvents))]))),
                ("wallSeconds", n(m.wallSeconds)), ("notes", .array(m.notes.map { .string($0) })),
                ("replicas", n(Double(m.replicas))),
                ("failover", m.failover.map { f in
                    .object(JSONObject([("streams", n(Double(f.streams))), ("seconds", n(f.seconds)), ("failed", n(Double(f.failed))),
                                        ("errorEvents", n(Double(f.errorEvents))), ("writesAfter", n(Double(f.writesAfter))),
                                        ("deliveredAfter", n(Double(f.deliveredAfter))), ("expectedAfter", n(Double(f.expectedAfter))),
                                        ("serverCPUSeconds", n(f.serverCPUSeconds))]))
                } ?? .null),
                ("restart", m.restart.map { r in
                    .object(JSONObject([("streams", n(Double(r.streams))), ("shutdownBookmarks", n(Double(r.shutdownBookmarks))),
                                        ("shutdownSeconds", n(r.shutdownSeconds)), ("startSeconds", n(r.startSeconds)),
                                        ("resumeSeconds", n(r.resumeSeconds)), ("totalSeconds", n(r.totalSeconds)),
                                        ("resumed", n(Double(r.resumed))), ("failed", n(Double(r.failed))), ("relists", n(Double(r.relists))),
                                        ("initEvents", n(r.initEvents)), ("serverCPUSeconds", n(r.serverCPUSeconds)),
                                        ("loadCPUSeconds", n(r.loadCPUSeconds)), ("serverRSSBytes", n(r.serverRSS)),
                                        ("writesAfter", n(Double(r.writesAfter))), ("deliveredAfter", n(Double(r.deliveredAfter))),
                                        ("expectedAfter", n(Double(r.expectedAfter)))]))
                } ?? .null),
                ("etcd", m.etcdAfter.map { a in
                    let b = m.etcdBefore ?? EtcdMetrics()
                    return .object(JSONObject([("watchers", n(a.watchers)), ("watchStreams", n(a.watchStreams)),
                                               ("cpuSeconds", n(a.cpuSeconds - b.cpuSeconds)), ("residentBytes", n(a.residentBytes)),
                                               ("cpuSecondsWriting", m.etcdCPUSecondsWriting.map(n) ?? .null)]))
                } ?? .null),
            ]))
        }
        return JSONWriter.encode(.object(JSONObject([
            ("benchmark", .string("fanout")), ("placement", .string(placement)), ("machine", machine.json),
            ("revision", .string(revision)), ("date", .string(date)), ("runs", .array(items)),
        ])))
    }
}
