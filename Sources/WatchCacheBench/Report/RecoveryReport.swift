import WatchCache

/// One workload point run with bookmarks off and on, and the ratios between them.
public struct RecoveryComparison: Sendable {
    public var off: RecoveryMeasurement
    public var on: RecoveryMeasurement

    public init(off: RecoveryMeasurement, on: RecoveryMeasurement) {
        self.off = off
        self.on = on
    }

    public var parameters: RecoveryParameters { off.parameters }

    /// Measured: mean init events per reconnect, off / on.
    public var initEventRatio: Double { Self.ratio(off.initEventsPerReconnect.mean, on.initEventsPerReconnect.mean) }
    /// Measured: all init events the server counted in the counted phase, off / on.
    public var initTotalRatio: Double { Self.ratio(off.initEventsTotal, on.initEventsTotal) }
    /// Measured: server CPU seconds, off / on.
    public var cpuRatio: Double { Self.ratio(off.serverCPUSeconds, on.serverCPUSeconds) }
    /// Measured: bytes to watchers plus relist bytes, off / on.
    public var bytesRatio: Double { Self.ratio(off.watchBytes + off.relistBytes, on.watchBytes + on.relistBytes) }
    /// The model's off / on ratio of init events per reconnect.
    public var predictedRatio: Double { RecoveryModel.ratio(parameters) }

    /// a / b, with 0 / 0 = 1 (nothing either way is no difference).
    static func ratio(_ a: Double, _ b: Double) -> Double { b > 0 ? a / b : (a > 0 ? .infinity : 1) }
}

/// Everything one `watchcache bench recovery` invocation measured, with what it ran on.
public struct RecoveryReport: Sendable {
    public var scenario: String
    public var mode: String
    public var comparisons: [RecoveryComparison]
    public var machine: MachineInfo
    public var revision: String
    public var date: String
    /// The server measured when the run did not start it (its URL and kubeconfig context).
    public var target: String?

    public init(scenario: String, mode: String, comparisons: [RecoveryComparison], machine: MachineInfo, revision: String, date: String) {
        self.scenario = scenario
        self.mode = mode
        self.comparisons = comparisons
        self.machine = machine
        self.revision = revision
        self.date = date
    }

    // MARK: - Terminal

    /// The report as a table for the terminal.
    public func table() -> String {
        var out = "Restart recovery: scenario \(scenario), \(mode)\(target.map { " against " + $0 } ?? ""), \(machine.summary), revision \(revision.prefix(12))\n"
        for c in comparisons {
            let p = c.parameters
            let window = p.windowEvents.map { "\(Self.grouped(Double($0))) events (\(Self.decimal(p.windowSeconds, 0)) s)" } ?? "dynamic (75-300 s)"
            out += "\n\(p)  N/R \(Self.decimal(Double(p.watchers) / p.writesPerSecond, 1)) s  \(Self.grouped(Double(p.objects))) pods  "
            out += "timeouts [\(Self.decimal(p.watchTimeout, 0)), \(Self.decimal(2 * p.watchTimeout, 0))) s  window \(window)  "
            out += "compression \(Self.decimal(p.compression, 0))x  counted \(Self.decimal(p.measured, 0)) s"
            if let restart = p.restartAt { out += "  restart at +\(Self.decimal(restart, 0)) s" }
            out += "\n"
            var rows: [[String]] = [["", "bookmarks off", "bookmarks on", "off/on", "model"]]
            func row(_ name: String, _ off: String, _ on: String, _ ratio: String = "", _ model: String = "") {
                rows.append([name, off, on, ratio, model])
            }
            row("reconnects", Self.grouped(Double(c.off.reconnects)), Self.grouped(Double(c.on.reconnects)))
            row("init events per reconnect, mean", Self.decimal(c.off.initEventsPerReconnect.mean, 1), Self.decimal(c.on.initEventsPerReconnect.mean, 1),
                Self.times(c.initEventRatio), Self.times(c.predictedRatio))
            row("  model's mean", Self.decimal(RecoveryModel.initEventsPerReconnect(p, bookmarks: false), 1),
                Self.decimal(RecoveryModel.initEventsPerReconnect(p, bookmarks: true), 1))
            row("  p99", Self.grouped(c.off.initEventsPerReconnect.p99), Self.grouped(c.on.initEventsPerReconnect.p99))
            row("init events, total", Self.grouped(c.off.initEventsTotal), Self.grouped(c.on.initEventsTotal), Self.times(c.initTotalRatio))
            row("server CPU seconds", Self.decimal(c.off.serverCPUSeconds, 2), Self.decimal(c.on.serverCPUSeconds, 2), Self.times(c.cpuRatio))
            row("MB to watchers (events + relists)", Self.decimal((c.off.watchBytes + c.off.relistBytes) / 1e6, 1),
                Self.decimal((c.on.watchBytes + c.on.relistBytes) / 1e6, 1), Self.times(c.bytesRatio))
            row("bookmarks received", Self.grouped(Double(c.off.bookmarksReceived)), Self.grouped(Double(c.on.bookmarksReceived)))
            row("410 Expired / relists", "\(c.off.expired) / \(c.off.relists)", "\(c.on.expired) / \(c.on.relists)")
            row("relist MB", Self.decimal(c.off.relistBytes / 1e6, 2), Self.decimal(c.on.relistBytes / 1e6, 2))
            row(p.restartAt == nil ? "reconnect storm: catch-up seconds" : "restart: catch-up seconds",
                Self.decimal(c.off.stormCatchUpSeconds, 3), Self.decimal(c.on.stormCatchUpSeconds, 3),
                Self.times(Self.ratioOrDash(c.off.stormCatchUpSeconds, c.on.stormCatchUpSeconds)))
            row(p.restartAt == nil ? "reconnect storm: init events" : "restart: init events",
                Self.grouped(c.off.stormInitEvents), Self.grouped(c.on.stormInitEvents),
                Self.times(RecoveryComparison.ratio(c.off.stormInitEvents, c.on.stormInitEvents)))
            row("writes counted", Self.grouped(Double(c.off.writes)), Self.grouped(Double(c.on.writes)))
            if c.off.failedRequests + c.on.failedRequests > 0 {
                row("failed requests", Self.grouped(Double(c.off.failedRequests)), Self.grouped(Double(c.on.failedRequests)))
            }
            out += TextTable.render(rows)
            var notes: [String] = []
            for note in c.off.notes + c.on.notes where !notes.contains(note) { notes.append(note) }
            for note in notes { out += "  note: \(note)\n" }
        }
        out += sideBySide()
        out += "\nInit events are events the server examined to (re)start watches (apiserver_init_events_total),\n"
        out += "matching or not: KEP-956's ~40x is this ratio, not a ratio of request throughput. The scan replay\n"
        out += "examines every event since a watch's version (kube-apiserver); the indexed one only those of the\n"
        out += "node the watch is pinned to.\n"
        return out
    }

    /// The points that ran with both replays, as pairs (scan, indexed).
    public var replayPairs: [(scan: RecoveryComparison, indexed: RecoveryComparison)] {
        var pairs: [(scan: RecoveryComparison, indexed: RecoveryComparison)] = []
        for scan in comparisons where scan.parameters.replay == .scan {
            var twin = scan.parameters
            twin.replay = .indexed
            if let indexed = comparisons.first(where: { $0.parameters == twin }) { pairs.append((scan, indexed)) }
        }
        return pairs
    }

    /// For each point run with both replays: the four runs in one table, and what the indexed
    /// replay without bookmarks costs against the scan with them.
    func sideBySide() -> String {
        var out = ""
        for (scan, indexed) in replayPairs {
            let p = scan.parameters
            out += "\nReplays side by side, N=\(p.watchers) R=\(RecoveryParameters.format(p.writesPerSecond))/s\(p.restartAt == nil ? "" : ", restart"):\n"
            var rows: [[String]] = [["", "scan, off", "scan, on", "indexed, off", "indexed, on", "indexed off / scan on"]]
            func row(_ name: String, _ value: (RecoveryMeasurement) -> Double, _ format: (Double) -> String) {
                let figures = [scan.off, scan.on, indexed.off, indexed.on].map(value)
                rows.append([name] + figures.map(format) + [Self.times(RecoveryComparison.ratio(figures[2], figures[1]))])
            }
            row("init events per reconnect, mean", { $0.initEventsPerReconnect.mean }) { Self.decimal($0, 1) }
            row("init events, total", { $0.initEventsTotal }) { Self.grouped($0) }
            row("server CPU seconds", { $0.serverCPUSeconds }) { Self.decimal($0, 2) }
            row(p.restartAt == nil ? "reconnect storm: catch-up seconds" : "restart: catch-up seconds", { $0.stormCatchUpSeconds }) { Self.decimal($0, 3) }
            row(p.restartAt == nil ? "reconnect storm: init events" : "restart: init events", { $0.stormInitEvents }) { Self.grouped($0) }
            row("410 Expired", { Double($0.expired) }) { Self.grouped($0) }
            out += TextTable.render(rows)
        }
        return out
    }

    static func ratioOrDash(_ a: Double, _ b: Double) -> Double { RecoveryComparison.ratio(a, b) }

    static func times(_ ratio: Double) -> String {
        ratio.isFinite ? "\(decimal(ratio, ratio < 10 ? 2 : 1))x" : "∞"
    }

    /// `value` with `places` decimals.
    static func decimal(_ value: Double, _ places: Int) -> String {
        guard value.isFinite else { return "∞" }
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        let rounded = (abs(value) * scale).rounded()
        let whole = Int(rounded / scale)
        var text = grouped(Double(whole))
        if places > 0 {
            let fraction = Int(rounded - Double(whole) * scale)
            let digits = String(fraction)
            text += "." + String(repeating: "0", count: places - digits.count) + digits
        }
        return value < 0 && rounded > 0 ? "-" + text : text
    }

    /// An integer with thousands separators.
    static func grouped(_ value: Double) -> String {
        guard value.isFinite else { return "∞" }
        let digits = String(Int(value.rounded()).magnitude)
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out += "," }
            out.append(ch)
        }
        return value < 0 ? "-" + out : out
    }

    // MARK: - JSON

    /// Every figure, the parameters, the machine and the revision.
    public func json() -> [UInt8] {
        func n(_ v: Double) -> JSONValue { v.isFinite ? .number(String(v)) : .null }
        func n(_ v: Int) -> JSONValue { .number(String(v)) }
        func parameters(_ p: RecoveryParameters) -> JSONValue {
            .object(JSONObject([
                ("watchers", n(p.watchers)), ("objectsPerWatcher", n(p.objectsPerWatcher)), ("objects", n(p.objects)),
                ("writesPerSecond", n(p.writesPerSecond)), ("selective", .bool(p.selective)),
                ("watchTimeoutSeconds", n(p.watchTimeout)), ("bookmarkIntervalSeconds", n(p.bookmarkInterval)),
                ("bookmarkLeadSeconds", n(p.bookmarkLead)), ("relistBackoffSeconds", n(p.relistBackoff)),
                ("warmupSeconds", n(p.warmup)), ("measuredSeconds", n(p.measured)), ("compression", n(p.compression)),
                ("windowEvents", p.windowEvents.map { n($0) } ?? .null), ("windowSeconds", n(p.windowSeconds)),
                ("restartAtSeconds", p.restartAt.map { n($0) } ?? .null), ("seed", .number(String(p.seed))),
                ("replay", .string(p.replay.rawValue)),
            ]))
        }
        func distribution(_ d: Distribution) -> JSONValue {
            .object(JSONObject([("count", n(d.count)), ("total", n(d.total)), ("mean", n(d.mean)), ("p50", n(d.p50)), ("p99", n(d.p99)), ("max", n(d.max))]))
        }
        func measurement(_ m: RecoveryMeasurement) -> JSONValue {
            .object(JSONObject([
                ("bookmarks", .bool(m.bookmarks)), ("reconnects", n(m.reconnects)),
                ("initEventsPerReconnect", distribution(m.initEventsPerReconnect)),
                ("modelInitEventsPerReconnect", n(RecoveryModel.initEventsPerReconnect(m.parameters, bookmarks: m.bookmarks))),
                ("initEventsTotal", n(m.initEventsTotal)), ("serverCPUSeconds", n(m.serverCPUSeconds)),
                ("watchBytes", n(m.watchBytes)), ("expired", n(m.expired)), ("relists", n(m.relists)), ("relistBytes", n(m.relistBytes)),
                ("bookmarksReceived", n(m.bookmarksReceived)), ("writes", n(m.writes)), ("failedRequests", n(m.failedRequests)),
                ("stormCatchUpSeconds", n(m.stormCatchUpSeconds)), ("stormInitEvents", n(m.stormInitEvents)),
                ("wallSeconds", n(m.wallSeconds)), ("notes", .array(m.notes.map { .string($0) })),
            ]))
        }
        let points: [JSONValue] = comparisons.map { c in
            .object(JSONObject([
                ("parameters", parameters(c.parameters)),
                ("off", measurement(c.off)), ("on", measurement(c.on)),
                ("ratios", .object(JSONObject([
                    ("initEventsPerReconnect", n(c.initEventRatio)), ("predictedInitEventsPerReconnect", n(c.predictedRatio)),
                    ("initEventsTotal", n(c.initTotalRatio)), ("serverCPU", n(c.cpuRatio)), ("bytes", n(c.bytesRatio)),
                ]))),
            ]))
        }
        return JSONWriter.encode(.object(JSONObject([
            ("benchmark", .string("recovery")), ("scenario", .string(scenario)), ("mode", .string(mode)),
            ("target", target.map { .string($0) } ?? .null),
            ("date", .string(date)), ("revision", .string(revision)), ("machine", machine.json),
            ("points", .array(points)),
        ])))
    }
}
