import Foundation
import Testing

/// The `watchcache` binary as a user meets it: its help lists every command, and a bad file or
/// directory is one line with the path and the reason, exit status 64.
@Suite struct CommandLineTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var executable: String { root.appendingPathComponent(".build/debug/watchcache").path }

    /// Runs the binary; returns its exit status, standard output and standard error.
    func run(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let error = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self), String(decoding: error, as: UTF8.self))
    }

    @Test func helpListsEveryCommand() throws {
        let help = try run(["--help"])
        #expect(help.status == 0)
        for command in ["serve", "bench recovery", "bench fanout", "bench storage", "bench encoding", "bench compression", "bench etcd", "bench guarantees", "version"] {
            #expect(help.out.contains("  \(command) "), "\(command) missing from --help")
        }
        let bench = try run(["bench", "--help"])
        for command in ["recovery", "storage", "fanout", "encoding", "compression", "etcd", "guarantees"] {
            #expect(bench.out.contains("  \(command) "), "\(command) missing from bench --help")
        }
    }

    @Test(arguments: [
        (["serve", "--data-dir", "/proc/nope/data"], "cannot open --data-dir /proc/nope/data: No such file or directory"),
        (["serve", "--in-memory", "--token-auth-file", "/nonexistent/tokens.csv"], "cannot read --token-auth-file /nonexistent/tokens.csv: No such file or directory"),
        (["bench", "storage", "--json", "/nonexistent/out.json"], "--json /nonexistent/out.json: No such file or directory (/nonexistent)"),
        (["bench", "fanout", "--svg", "/tmp"], "--svg /tmp: Is a directory"),
    ])
    func badFilesAreOneLineAndStatus64(arguments: [String], message: String) throws {
        // (Both fail before the server listens.)
        let result = try run(arguments)
        #expect(result.status == 64)
        #expect(result.err == "Error: \(message)\n", "\(result.err)")
    }

    @Test func versionSaysWhatWasBuilt() throws {
        let result = try run(["version"])
        #expect(result.status == 0)
        #expect(result.out.hasPrefix("watchcache 0.1.0 ("))
        #expect(result.out.contains("built 20"))
        #expect(result.out.contains("libnghttp2 "))
    }
}
