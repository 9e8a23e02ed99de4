import Foundation
import Testing
import WatchCache
import WatchCacheBench

/// The real server, killed with SIGKILL in the middle of concurrent writes and started again on
/// the same data directory: no acknowledged write is lost, no version is reused, and a watcher
/// that resumes from the last version it saw gets every change exactly once, in order.
@Suite(.serialized) struct CrashRecoveryTests {
    /// The `watchcache` binary `swift build` made next to the test bundle.
    static var executable: String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/watchcache").path
    }

    /// A client process whose output goes to a file, waited for off the Swift concurrency pool.
    final class Client: @unchecked Sendable {
        let process = Process()
        let output: URL

        init(_ tool: String, _ arguments: [String]) throws {
            output = URL(fileURLWithPath: NSTemporaryDirectory() + "crash-client-" + UUID().uuidString)
            _ = FileManager.default.createFile(atPath: output.path, contents: nil)
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = arguments
            process.standardOutput = try FileHandle(forWritingTo: output)
            process.standardError = FileHandle.nullDevice
            try process.run()
        }

        /// What it has printed so far.
        var printedSoFar: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }

        /// Waits (at most `seconds`, then SIGKILL) and returns what it printed.
        func finish(within seconds: Double) async -> String {
            (try? await offPool {
                let deadline = Date().addingTimeInterval(seconds)
                while self.process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
                if self.process.isRunning { kill(self.process.processIdentifier, SIGKILL) }
                self.process.waitUntilExit()
                let text = (try? String(contentsOf: self.output, encoding: .utf8)) ?? ""
                try? FileManager.default.removeItem(at: self.output)
                return text
            }) ?? ""
        }
    }


    struct Event: Hashable {
        var type: String
        var name: String
        var version: UInt64
    }

    /// The change events of a watch stream (bookmarks give only the newest version seen).
    static func parseWatch(_ text: String) throws -> (events: [Event], newest: UInt64) {
        var events: [Event] = []
        var newest: UInt64 = 0
        for line in text.split(separator: "\n") {
            let object = try JSONObject(parsing: String(line))
            let type = object["type"]?.stringValue ?? ""
            #expect(type != "ERROR", "the resumed watch failed: \(line)")
            let metadata = object["object"]?["metadata"]
            let version = UInt64(metadata?["resourceVersion"]?.stringValue ?? "") ?? 0
            newest = max(newest, version)
            if type != "BOOKMARK" { events.append(Event(type: type, name: metadata?["name"]?.stringValue ?? "", version: version)) }
        }
        return (events, newest)
    }

    static func waitUntilReady(_ base: String) async throws {
        for _ in 0..<600 {
            let client = try Client("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2", "\(base)/readyz"])
            if await client.finish(within: 5) == "200" { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("the restarted server never became ready")
    }

    @Test(arguments: [SyncModeArgument.batch, .always])
    func killedMidWriteLosesNothingAcknowledged(sync: SyncModeArgument) async throws {
        let data = NSTemporaryDirectory() + "watchcache-crash-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: data) }
        let arguments = ["--data-dir", data, "--sync", sync.rawValue, "--threads", "2"]

        let first = try await offPool { try ServerProcess(executable: Self.executable, arguments: arguments) }
        var base = "http://127.0.0.1:\(first.port)"
        let resource = "api/v1/namespaces/default/configmaps"
        let seed = try JSONObject(parsing: await Client("/usr/bin/curl", ["-s", "-X", "POST", "-H", "content-type: application/json",
                                                                           "--data", #"{"metadata":{"name":"seed"}}"#, "\(base)/\(resource)"]).finish(within: 10))
        let start = try #require(seed["metadata"]?["resourceVersion"]?.stringValue)

        // A watcher from the seed, and 4 writers creating and updating config maps until the crash.
        let watcher = try Client("/usr/bin/curl", ["-sN", "\(base)/\(resource)?watch=1&allowWatchBookmarks=true&resourceVersion=\(start)"])
        let writers = try (0..<4).map { w in
            try Client("/bin/bash", ["-c", """
                i=0
                while true; do
                  i=$((i+1))
                  if (( i % 2 )); then method=POST; url="\(base)/\(resource)"; else method=PUT; url="\(base)/\(resource)/w\(w)-$((i-1))"; fi
                  name="w\(w)-$(( i % 2 ? i : i-1 ))"
                  out=$(curl -s --max-time 5 -X $method -H 'content-type: application/json' -w '\\n%{http_code}' \\
                        --data "{\\"metadata\\":{\\"name\\":\\"$name\\"},\\"data\\":{\\"step\\":\\"$i\\"}}" "$url") || exit 0
                  code=${out##*$'\\n'}
                  echo "$code ${out%$'\\n'*}"
                done
                """])
        }
        // Crash once they have some writes acknowledged (a loaded machine once managed only 17 in a
        // fixed 0.4-1.2 s), at a random moment after that.
        let ready = Date().addingTimeInterval(30)
        while Date() < ready, writers.map({ $0.printedSoFar.split(separator: "\n").filter { $0.hasPrefix("20") }.count }).reduce(0, +) < 30 {
            try await Task.sleep(for: .milliseconds(20))
        }
        try await Task.sleep(for: .milliseconds(Int.random(in: 0...800)))
        try await offPool { first.crash() }

        // What the clients were told before the crash.
        var acknowledged: [(name: String, version: UInt64)] = []
        for writer in writers {
            for line in await writer.finish(within: 10).split(separator: "\n") {
                guard line.hasPrefix("200 ") || line.hasPrefix("201 ") else { continue }
                let object = try JSONObject(parsing: String(line.dropFirst(4)))
                acknowledged.append((object["metadata"]?["name"]?.stringValue ?? "",
                                     UInt64(object["metadata"]?["resourceVersion"]?.stringValue ?? "") ?? 0))
            }
        }
        let before = try Self.parseWatch(await watcher.finish(within: 10))
        #expect(acknowledged.count > 20, "the writers got too little done before the crash: \(acknowledged.count)")
        #expect(Set(acknowledged.map(\.version)).count == acknowledged.count, "two acknowledged writes share a version")

        // Restart on the same data directory; the watcher resumes from the newest version it saw.
        let second = try await offPool { try ServerProcess(executable: Self.executable, arguments: arguments) }
        defer { startThread { second.stop() } }
        base = "http://127.0.0.1:\(second.port)"
        try await Self.waitUntilReady(base)
        let resumed = try Client("/usr/bin/curl", ["-sN", "\(base)/\(resource)?watch=1&timeoutSeconds=2&resourceVersion=\(before.newest)"])
        let after = try Self.parseWatch(await resumed.finish(within: 15))

        // Every change exactly once, in order, across the crash.
        let seen = before.events + after.events
        let versions = seen.map(\.version)
        #expect(versions == versions.sorted() && Set(versions).count == versions.count, "events repeated or out of order")
        let seenPairs = Set(seen.map { "\($0.name)@\($0.version)" })
        let missing = acknowledged.filter { !seenPairs.contains("\($0.name)@\($0.version)") }
        #expect(missing.isEmpty, "acknowledged writes the watchers never saw: \(missing.prefix(5))")

        // Every acknowledged write is in the store (or superseded by a newer version of its object).
        let list = try JSONObject(parsing: await Client("/usr/bin/curl", ["-s", "\(base)/\(resource)"]).finish(within: 10))
        var stored: [String: UInt64] = [:]
        for item in list["items"]?.arrayValue ?? [] {
            stored[item["metadata"]?["name"]?.stringValue ?? ""] = UInt64(item["metadata"]?["resourceVersion"]?.stringValue ?? "")
        }
        for write in acknowledged {
            #expect((stored[write.name] ?? 0) >= write.version, "\(write.name)@\(write.version) was acknowledged and is gone")
        }

        // New writes continue after every version handed out before the crash.
        let next = try JSONObject(parsing: await Client("/usr/bin/curl", ["-s", "-X", "POST", "-H", "content-type: application/json",
                                                                           "--data", #"{"metadata":{"name":"after"}}"#, "\(base)/\(resource)"]).finish(within: 10))
        let nextVersion = UInt64(next["metadata"]?["resourceVersion"]?.stringValue ?? "") ?? 0
        #expect(nextVersion > max(versions.max() ?? 0, acknowledged.map(\.version).max() ?? 0))
    }

    enum SyncModeArgument: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case batch, always
        var testDescription: String { rawValue }
    }
}
