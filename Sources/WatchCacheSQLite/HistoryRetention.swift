/// How much event history the durable storage keeps: events beyond either bound are compacted
/// away (oldest first). Watches can resume from any version inside it, across restarts.
public struct HistoryRetention: Sendable, Hashable, CustomStringConvertible {
    /// Keep at most this many events (all resources together); `nil`: no count bound.
    public var events: Int?
    /// Keep events at most this old (seconds); `nil`: no age bound.
    public var seconds: Double?

    /// The default: 10 minutes, and at most 1,000,000 events — 10 minutes even at the rate that
    /// keeps the in-memory window at its upper bound (102,400 events in 75 s is ~1,370 writes/s).
    public static let `default` = HistoryRetention(events: 1_000_000, seconds: 600)

    public init(events: Int?, seconds: Double?) {
        precondition(events != nil || seconds != nil, "a retention needs a bound")
        self.events = events
        self.seconds = seconds
    }

    /// Parses `--history`: an event count (`500000`), a duration (`90s`, `15m`, `2h`), or both
    /// separated by a comma (`500000,15m`).
    public init(parsing text: String) throws(RetentionError) {
        var events: Int?
        var seconds: Double?
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingWhitespace() }
        guard (1...2).contains(parts.count) else { throw RetentionError(text) }
        for part in parts {
            if let count = Int(part) {
                guard count > 0, events == nil else { throw RetentionError(text) }
                events = count
            } else if let unit = part.last, let factor = ["s": 1.0, "m": 60, "h": 3600][unit], let value = Double(part.dropLast()),
                      value > 0, seconds == nil {
                seconds = value * factor
            } else {
                throw RetentionError(text)
            }
        }
        self.init(events: events, seconds: seconds)
    }

    public var description: String {
        [events.map(String.init), seconds.map { "\(Int($0))s" }].compactMap { $0 }.joined(separator: ",")
    }
}

/// A `--history` value that is neither a count nor a duration.
public struct RetentionError: Error, CustomStringConvertible {
    let text: String
    init(_ text: String) { self.text = text }
    public var description: String {
        "invalid history retention \"\(text)\": give a positive event count (500000), a duration (90s, 15m, 2h), or both (500000,15m)"
    }
}

extension StringProtocol {
    fileprivate func trimmingWhitespace() -> String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
