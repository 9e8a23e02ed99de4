import ArgumentParser
import Foundation
import WatchCache
import WatchCacheBench

struct CompressionBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compression",
        abstract: "Measure gzipped LIST responses: bytes saved, compressor CPU per MB, fetch time with curl.",
        discussion: """
            The server runs in-process on loopback with N pods of a running Deployment; curl fetches \
            the list with and without --compressed (Accept-Encoding: gzip), over HTTP/1.1 and HTTP/2, \
            then again rate-limited to --link-mbit when given. Bodies over 128 KiB are gzipped at \
            level 1, as kube-apiserver does; the compressor's CPU per MB is also measured at zlib's \
            default level 6 for comparison.
            """
    )

    @Option(help: "Pods in the list.")
    var pods = 10_000

    @Option(help: "Fetches per case (the median is reported).")
    var repeats = 5

    @Option(help: "Also fetch rate-limited to this many Mbit/s (curl --limit-rate); 0 for none.")
    var linkMbit = 100

    @Option(help: "Write the figures to this JSON file.")
    var json: String?

    func validate() throws {
        guard pods > 0, repeats > 0, linkMbit >= 0 else { throw ValidationError("--pods and --repeats must be positive, --link-mbit not negative") }
        try CommandFailure.checkWritable(json, flag: "--json")
    }

    func run() async throws {
        var bench = CompressionBenchmark()
        bench.pods = pods
        bench.repeats = repeats
        bench.linkBytesPerSecond = linkMbit > 0 ? linkMbit * 1_000_000 / 8 : nil
        let r = try await bench.run()
        func mb(_ bytes: Int) -> String { String(format: "%.2f MB", Double(bytes) / 1e6) }
        print("LIST of \(r.pods) pods: \(mb(r.bodyBytes)); gzipped (level 1) \(mb(r.gzippedBytes)), "
              + String(format: "%.1f%% of it; level 6 %.1f%%", 100 * Double(r.gzippedBytes) / Double(r.bodyBytes),
                       100 * Double(r.level6Bytes) / Double(r.bodyBytes)))
        print(String(format: "compressor CPU: %.2f ms per MB at level 1, %.2f ms per MB at level 6", r.level1MillisecondsPerMB, r.level6MillisecondsPerMB))
        print("transport  link        gzip  bytes on the wire  seconds (median of \(repeats))")
        for f in r.fetches {
            let link = f.limited ? "\(linkMbit) Mbit/s" : "loopback"
            print("\(f.transport.padding(toLength: 9, withPad: " ", startingAt: 0))  \(link.padding(toLength: 10, withPad: " ", startingAt: 0))  "
                  + "\((f.gzip ? "yes" : "no").padding(toLength: 4, withPad: " ", startingAt: 0))  "
                  + "\(mb(f.bytes).padding(toLength: 17, withPad: " ", startingAt: 0))  " + String(format: "%.3f", f.seconds))
        }
        if let json {
            func n(_ v: Double) -> JSONValue { .number(String(format: "%.3f", v)) }
            let fetches = r.fetches.map { f in
                JSONValue.object(JSONObject([
                    ("transport", .string(f.transport)), ("gzip", .bool(f.gzip)),
                    ("link", .string(f.limited ? "\(linkMbit) Mbit/s" : "loopback")),
                    ("bytes", .number(String(f.bytes))), ("seconds", n(f.seconds)),
                ]))
            }
            let document = JSONValue.object(JSONObject([
                ("pods", .number(String(r.pods))), ("bodyBytes", .number(String(r.bodyBytes))),
                ("gzippedBytes", .number(String(r.gzippedBytes))), ("level6Bytes", .number(String(r.level6Bytes))),
                ("level1MillisecondsPerMB", n(r.level1MillisecondsPerMB)), ("level6MillisecondsPerMB", n(r.level6MillisecondsPerMB)),
                ("repeats", .number(String(repeats))), ("fetches", .array(fetches)),
            ]))
            try CommandFailure.write(JSONWriter.encode(document) + [0x0A], to: json, flag: "--json")
            print("wrote \(json)")
        }
    }
}
