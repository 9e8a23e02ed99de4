import ArgumentParser
import Foundation
import WatchCache
import Synchronization
import WatchCacheBench

struct GuaranteesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "guarantees",
        abstract: "Check the watch guarantees under faults: random writes, watchers and server kills, every stream validated.",
        discussion: """
            Starts real servers (one on SQLite, or --replicas over --etcd-servers), writes random \
            creates, updates and deletes of labelled config maps from several writers, follows them \
            with watchers of random selectors, start versions and reading speeds (resuming from \
            their last version, relisting after a 410), and kills (SIGKILL) or stops (SIGTERM) \
            servers at random moments. Then checks each stream against the history of what was \
            acknowledged and seen: ordered, unique, atomic, reliable (no gap), bookmarkable, \
            resumable. Exits 1 if a guarantee was broken.
            """
    )

    @Option(help: "Seconds of writes and faults.")
    var duration = 20.0

    @Option(help: "Concurrent writers.")
    var writers = 3

    @Option(help: "Watchers (the first watches every object).")
    var watchers = 6

    @Option(name: .customLong("etcd-servers"), help: "Run replicas over this etcd (scripts/etcd.sh starts one) instead of one server on SQLite.")
    var etcdServers: String?

    @Option(help: "Replicas over --etcd-servers.")
    var replicas = 2

    @Option(help: "Write the report to this JSON file.")
    var json: String?

    func validate() throws {
        try CommandFailure.checkWritable(json, flag: "--json")
        guard duration > 0, writers >= 1, watchers >= 1 else { throw ValidationError("--duration, --writers and --watchers must be positive") }
        guard replicas >= 1 else { throw ValidationError("--replicas must be at least 1") }
    }

    func run() async throws {
        var p = GuaranteesRun.Parameters()
        p.seconds = duration
        p.writers = writers
        p.watchers = watchers
        let storage: GuaranteesRun.Storage = etcdServers.map { .etcd(servers: $0, replicas: replicas) } ?? .sqlite
        let run = GuaranteesRun(parameters: p, storage: storage, executable: Bundle.main.executablePath ?? CommandLine.arguments[0])
        let bar = Mutex(ProgressBar(enabled: isatty(2) == 1))
        let r = try await run.run { fraction, phase in bar.withLock { $0.update(fraction, label: phase) } }
        bar.withLock { $0.finish() }
        print("watchcache bench guarantees — \(r.storage), \(String(format: "%.0f", r.seconds)) s, revision \(RecoveryCommand.gitRevision().prefix(12))")
        let rows: [[String]] = [
            ["writes acknowledged / outcome unknown", "\(r.writesAcknowledged) / \(r.writesUnknown)"],
            ["changes in the history (read from etcd)", "\(r.changes) (\(r.changesFromEtcd))"],
            ["faults: SIGKILL / SIGTERM", "\(r.kills) / \(r.terminations)"],
            ["watchers / watch requests / relists after 410", "\(r.watchers) / \(r.watchRequests) / \(r.relists)"],
            ["events / bookmarks checked", "\(r.eventsChecked) / \(r.bookmarksChecked)"],
            ["watches resumed from delivered versions", "\(r.resumeProbes)"],
            ["guarantees broken", "\(r.violations.count)"],
        ]
        print(TextTable.render(rows), terminator: "")
        for violation in r.violations.prefix(20) { print("  \(violation)") }
        if !r.violations.isEmpty, r.changesFromEtcd == 0 {
            // Without etcd's history, the checker learns a write of unknown outcome only from a stream that saw it.
            print("  objects with writes of unknown outcome: \(r.objectsWithUnknownWrites.joined(separator: ", "))")
        }
        if let json {
            func n(_ v: Int) -> JSONValue { .number(String(v)) }
            let document = JSONObject([
                ("benchmark", .string("guarantees")), ("storage", .string(r.storage)), ("machine", MachineInfo.current().json),
                ("revision", .string(RecoveryCommand.gitRevision())), ("seconds", .number(String(format: "%.1f", r.seconds))),
                ("writesAcknowledged", n(r.writesAcknowledged)), ("writesUnknown", n(r.writesUnknown)), ("changes", n(r.changes)), ("changesFromEtcd", n(r.changesFromEtcd)),
                ("kills", n(r.kills)), ("terminations", n(r.terminations)), ("watchers", n(r.watchers)),
                ("watchRequests", n(r.watchRequests)), ("relists", n(r.relists)), ("eventsChecked", n(r.eventsChecked)),
                ("bookmarksChecked", n(r.bookmarksChecked)), ("resumeProbes", n(r.resumeProbes)),
                ("violations", .array(r.violations.map { JSONValue.string($0.description) })),
                ("objectsWithUnknownWrites", .array(r.objectsWithUnknownWrites.map { JSONValue.string($0) })),
            ])
            try CommandFailure.write(JSONWriter.encode(.object(document)), to: json, flag: "--json")
            print("JSON: \(json)")
        }
        if !r.violations.isEmpty { throw ExitCode(1) }
    }
}
