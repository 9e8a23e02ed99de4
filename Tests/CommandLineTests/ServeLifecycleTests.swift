import Foundation
import Testing
import WatchCacheBench

/// `watchcache serve` runs as a swift-service-lifecycle `ServiceGroup`: SIGTERM or SIGINT shuts it
/// down gracefully — every watch ends with its last bookmark — and the process exits 0.
@Suite struct ServeLifecycleTests {
    /// Runs curl to completion (on a thread of its own) and returns its standard output.
    static func curl(_ arguments: [String]) async throws -> String {
        try await offPool { commandOutput("/usr/bin/curl", ["-s", "--max-time", "5"] + arguments) ?? "" }
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func aSignalEndsWatchesWithABookmarkAndExitsZero(signal: Int32) async throws {
        let port = try KubeconfigTests.Served.freePort()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: CommandLineTests.executable)
        server.arguments = ["serve", "--in-memory", "--port", String(port)]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { if server.isRunning { server.terminate() } }
        let base = "http://127.0.0.1:\(port)"
        var ready = false
        for _ in 0..<200 where !ready {
            ready = try await Self.curl(["-o", "/dev/null", "-w", "%{http_code}", "\(base)/readyz"]) == "200"
            if !ready { try await Task.sleep(for: .milliseconds(50)) }
        }
        try #require(ready, "the server did not get ready")
        _ = try await Self.curl(["-X", "POST", "-H", "Content-Type: application/json", "--data", #"{"metadata":{"name":"web-0"}}"#,
                           "\(base)/api/v1/namespaces/default/pods"])

        let watch = Process()
        watch.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        watch.arguments = ["-sN", "--max-time", "20", "\(base)/api/v1/pods?watch=true&resourceVersion=0&allowWatchBookmarks=true"]
        let out = Pipe()
        watch.standardOutput = out
        try watch.run()
        // The watch is open once the server counts it.
        var open = false
        for _ in 0..<200 where !open {
            open = try await Self.curl(["\(base)/metrics"]).split(separator: "\n")
                .contains { $0.hasPrefix(#"apiserver_registered_watchers{group="",version="v1",resource="pods"} "#) && Double($0.split(separator: " ").last!) == 1 }
            if !open { try await Task.sleep(for: .milliseconds(25)) }
        }
        try #require(open, "the watch did not start")
        // A write elsewhere moves the newest version past the watcher's last event: the shutdown's
        // bookmark carries it.
        _ = try await Self.curl(["-X", "POST", "-H", "Content-Type: application/json", "--data", #"{"metadata":{"name":"c"}}"#,
                           "\(base)/api/v1/namespaces/default/configmaps"])

        kill(server.processIdentifier, signal)
        let stopped = Date()
        while server.isRunning, Date().timeIntervalSince(stopped) < 15 { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!server.isRunning, "still running 15 s after the signal")
        #expect(server.terminationReason == .exit && server.terminationStatus == 0)
        let lines = try await offPool {
            defer { watch.waitUntilExit() }
            return String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n")
        }
        #expect(lines.first?.contains(#""type":"ADDED""#) == true)
        // The shutdown's bookmark, at the newest version, ends the stream.
        #expect(lines.last?.contains(#""type":"BOOKMARK""#) == true, "\(lines.last ?? "")")
        #expect(watch.terminationStatus == 0, "curl: the stream did not end cleanly")
    }
}
