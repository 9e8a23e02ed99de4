import ArgumentParser
import Foundation
import WatchCache
import WatchCacheBench

struct EncodingBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encoding",
        abstract: "Measure a watch event in JSON and in Kubernetes protobuf: bytes on the wire and server CPU per event.",
        discussion: """
            In-process, the server's own steps without sockets: a JSON event is the stored object \
            bytes between a per-type prefix and suffix, copied per watcher; a protobuf event encodes \
            the object once and frames it per watcher. The object is a running Deployment's pod as \
            kube-apiserver stores it. CPU is the measuring thread's, per event, for all its watchers.
            """
    )

    @Option(help: "Events (distinct pod versions) per run.")
    var events = 20_000

    @Option(help: "Watcher counts, comma-separated.")
    var watchers = "1,10,100"

    @Option(help: "Write the figures to this JSON file.")
    var json: String?

    func validate() throws {
        try CommandFailure.checkWritable(json, flag: "--json")
    }

    func run() throws {
        var bench = EncodingBenchmark()
        bench.events = events
        let counts = watchers.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.allSatisfy({ $0 > 0 }), events > 0 else {
            throw ValidationError("--events and --watchers must be positive")
        }
        bench.watcherCounts = counts
        let result = try bench.run()
        func f(_ v: Double) -> String { String(format: "%.2f", v) }
        print("bytes per event: JSON \(f(result.jsonBytesPerEvent)), protobuf \(f(result.protobufBytesPerEvent)) "
              + "(\(f(100 * result.protobufBytesPerEvent / result.jsonBytesPerEvent))% of JSON)")
        print("protobuf encoding, once per event: \(f(result.protobufEncodeMicroseconds)) µs CPU "
              + "(of which parsing the stored JSON: \(f(result.jsonParseMicroseconds)) µs)")
        print("watchers  JSON µs/event  protobuf µs/event")
        for run in result.runs {
            print("\(String(run.watchers).padding(toLength: 8, withPad: " ", startingAt: 0))  "
                  + "\(f(run.jsonMicroseconds).padding(toLength: 13, withPad: " ", startingAt: 0))  \(f(run.protobufMicroseconds))")
        }
        if let json {
            let runs = result.runs.map { run in
                JSONValue.object(JSONObject([
                    ("watchers", .number(String(run.watchers))),
                    ("jsonMicrosecondsPerEvent", .number(f(run.jsonMicroseconds))),
                    ("protobufMicrosecondsPerEvent", .number(f(run.protobufMicroseconds))),
                ]))
            }
            let document = JSONValue.object(JSONObject([
                ("events", .number(String(result.events))),
                ("jsonBytesPerEvent", .number(f(result.jsonBytesPerEvent))),
                ("protobufBytesPerEvent", .number(f(result.protobufBytesPerEvent))),
                ("protobufEncodeMicroseconds", .number(f(result.protobufEncodeMicroseconds))),
                ("jsonParseMicroseconds", .number(f(result.jsonParseMicroseconds))),
                ("runs", .array(runs)),
            ]))
            try CommandFailure.write(JSONWriter.encode(document) + [0x0A], to: json, flag: "--json")
            print("wrote \(json)")
        }
    }
}
