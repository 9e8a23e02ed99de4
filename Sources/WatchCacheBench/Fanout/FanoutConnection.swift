import Foundation
import NIOCore
import Synchronization

/// The newest write sequence number seen on one stream that receives every write: how far
/// delivery has got, for a writer that must not outrun it. Shared across event loops.
final class DeliveryProbe: Sendable {
    private let newest = Atomic(0)
    var seen: Int { newest.load(ordering: .relaxed) }
    func saw(_ sequence: Int) {
        var current = newest.load(ordering: .relaxed)
        while sequence > current {
            let (exchanged, original) = newest.compareExchange(expected: current, desired: sequence, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }
}

/// What one client connection's watch streams received.
struct FanoutCounters: Sendable {
    var established = 0
    var failed = 0
    var ended = 0
    var events = 0
    var bookmarks = 0
    var errors = 0
    var bytes = 0
    var lastEstablishedAt = 0.0
    var latency = LatencyHistogram()

    /// Adds `other`; what streams received counts only from `counted` connections (those that read).
    mutating func add(_ other: FanoutCounters, counted: Bool = true) {
        established += other.established
        failed += other.failed
        ended += other.ended
        lastEstablishedAt = max(lastEstablishedAt, other.lastEstablishedAt)
        guard counted else { return }
        events += other.events
        bookmarks += other.bookmarks
        errors += other.errors
        bytes += other.bytes
        latency.merge(other.latency)
    }
}

/// One client connection's watch streams (HTTP/2 streams on one connection, or a group of HTTP/1.1
/// connections): splits each stream's bytes into event lines, counts them, and times the writes'
/// events by the send time they carry. Confined to `loop`.
final class FanoutConnection: @unchecked Sendable {
    let http: any WatchTransport
    let loop: any EventLoop
    /// Whether its streams read (not stalled, window open): only those count as deliveries.
    let counted: Bool
    private(set) var counters = FanoutCounters()

    init(http: any WatchTransport, loop: any EventLoop, counted: Bool = true) {
        self.http = http
        self.loop = loop
        self.counted = counted
    }

    /// One watch stream: its path (with `{rv}` for the version to start from), the newest version
    /// it has seen, its unfinished line.
    private final class Stream {
        let template: String
        var partial: [UInt8] = []
        var lastVersion: UInt64
        /// Whether to follow ``lastVersion`` (a scan of every line; only a storm needs it).
        let trackVersion: Bool
        let measureLatency: Bool
        let probe: DeliveryProbe?
        /// Cancelled by the client (a reconnect storm): its end is not the server's doing.
        var cancelled = false
        init(template: String, version: UInt64, trackVersion: Bool, measureLatency: Bool, probe: DeliveryProbe?) {
            self.template = template
            self.lastVersion = version
            self.trackVersion = trackVersion
            self.measureLatency = measureLatency
            self.probe = probe
        }
    }

    private var open: [Int32: Stream] = [:]
    /// While the server is restarted under them: the streams it ended, kept to be opened again
    /// (``keepEndedStreams()``, ``takeEndedStreams()``).
    private var keptEnded: [Stream]?

    /// Opens a watch on `template` (its `{rv}` replaced by `version`); with `trackVersion` it
    /// follows the newest version the stream sees, to reopen from there (``reopenAll()``).
    func open(_ template: String, version: UInt64, trackVersion: Bool, measureLatency: Bool, probe: DeliveryProbe? = nil) {
        open(Stream(template: template, version: version, trackVersion: trackVersion, measureLatency: measureLatency, probe: probe))
    }

    private func open(_ stream: Stream) {
        var status = 0
        var id: Int32 = 0
        id = http.request("GET", stream.template.replacingOccurrences(of: "{rv}", with: String(stream.lastVersion)), body: nil,
                          contentType: "application/json", handler: .init(
            onStatus: { code in
                status = code
                if code == 200 {
                    self.counters.established += 1
                    self.counters.lastEstablishedAt = CPUTime.wall()
                } else {
                    self.counters.failed += 1
                }
            },
            onData: { chunk in self.received(chunk, on: stream) },
            onClose: { _ in
                self.open[id] = nil
                if stream.cancelled { return }
                if self.keptEnded != nil, status == 200 {
                    self.keptEnded!.append(stream)
                    return
                }
                if status == 200 { self.counters.ended += 1 } else if status == 0 { self.counters.failed += 1 }
            }))
        if id > 0 { open[id] = stream }
    }

    /// The open streams — path template and the newest version each has seen — to open them
    /// elsewhere (a replica killed under them).
    func streamSpecs() -> [(template: String, version: UInt64, measureLatency: Bool)] {
        open.values.map { ($0.template, $0.lastVersion, $0.measureLatency) }
    }

    /// From now on, streams the server ends are kept (with the newest version each saw, its last
    /// event's or bookmark's) instead of counted as ended: the server is about to restart.
    func keepEndedStreams() {
        keptEnded = []
    }

    /// Streams open now.
    var openStreams: Int { open.count }

    /// The streams kept since ``keepEndedStreams()`` (which stops keeping them).
    func takeEndedStreams() -> [(template: String, version: UInt64, measureLatency: Bool)] {
        let ended = (keptEnded ?? []).map { ($0.template, $0.lastVersion, $0.measureLatency) }
        keptEnded = nil
        return ended
    }

    /// The reconnect storm: every open stream is cancelled and opened again at once, from the
    /// newest version it saw (its last event's or bookmark's). Returns how many.
    func reopenAll() -> Int {
        let streams = open
        for (id, stream) in streams {
            stream.cancelled = true
            http.cancel(id)
            let again = Stream(template: stream.template, version: stream.lastVersion, trackVersion: stream.trackVersion,
                               measureLatency: stream.measureLatency, probe: stream.probe)
            open(again)
        }
        return streams.count
    }

    private func received(_ chunk: UnsafeRawBufferPointer, on stream: Stream) {
        counters.bytes += chunk.count
        var start = 0
        for i in 0..<chunk.count where chunk[i] == UInt8(ascii: "\n") {
            if stream.partial.isEmpty {
                line(UnsafeRawBufferPointer(rebasing: chunk[start..<i]), on: stream)
            } else {
                stream.partial.append(contentsOf: chunk[start..<i])
                stream.partial.withUnsafeBytes { line($0, on: stream) }
                stream.partial.removeAll(keepingCapacity: true)
            }
            start = i + 1
        }
        if start < chunk.count { stream.partial.append(contentsOf: chunk[start...]) }
    }

    private static let bookmarkPrefix = Array(#"{"type":"BOOKMARK""#.utf8)
    private static let errorPrefix = Array(#"{"type":"ERROR""#.utf8)
    private static let sentKey = Array(#""bench-sent":""#.utf8)
    private static let sequenceKey = Array(#""bench-seq":""#.utf8)
    /// The first `"resourceVersion":"` of an event line is its object's.
    private static let versionKey = Array(#""resourceVersion":""#.utf8)

    private func line(_ line: UnsafeRawBufferPointer, on stream: Stream) {
        if stream.trackVersion, let version = Self.number(after: Self.versionKey, in: line), version > stream.lastVersion {
            stream.lastVersion = version
        }
        if Self.hasPrefix(line, Self.bookmarkPrefix) {
            counters.bookmarks += 1
            return
        }
        if Self.hasPrefix(line, Self.errorPrefix) {
            counters.errors += 1
            return
        }
        counters.events += 1
        if let probe = stream.probe, let sequence = Self.number(after: Self.sequenceKey, in: line) { probe.saw(Int(sequence)) }
        guard stream.measureLatency, let sent = Self.sentNanoseconds(line) else { return }
        counters.latency.record(seconds: CPUTime.wall() - Double(sent) / 1e9)
    }

    private static func hasPrefix(_ line: UnsafeRawBufferPointer, _ prefix: [UInt8]) -> Bool {
        line.count >= prefix.count && zip(line, prefix).allSatisfy { $0 == $1 }
    }

    /// The digits after `"bench-sent":"`.
    static func sentNanoseconds(_ line: UnsafeRawBufferPointer) -> UInt64? {
        number(after: sentKey, in: line)
    }

    /// The digits after `key` in `line`.
    static func number(after key: [UInt8], in line: UnsafeRawBufferPointer) -> UInt64? {
        guard line.count > key.count else { return nil }
        var i = 0
        while i + key.count < line.count {
            if line[i] == key[0], line[(i + 1)..<(i + key.count)].elementsEqual(key[1...]) {
                var value: UInt64 = 0
                var j = i + key.count
                while j < line.count, line[j] >= UInt8(ascii: "0"), line[j] <= UInt8(ascii: "9") {
                    value = value &* 10 &+ UInt64(line[j] - UInt8(ascii: "0"))
                    j += 1
                }
                return value
            }
            i += 1
        }
        return nil
    }
}
