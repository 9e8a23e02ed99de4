import WatchCache

/// What happened to the objects of one resource during a run — every acknowledged write, and every
/// change any watcher saw (a write whose acknowledgement was lost in a crash still happened if a
/// watcher saw it) — and the checks of each watcher's stream against it, after etcd's robustness
/// tests: **ordered** (versions only go up), **unique** (no version twice), **atomic** (one version,
/// one change: every source agrees on what it was), **reliable** (no change the watcher's selector
/// cares about is missing between where it started and where it got to), **bookmarkable** (at a
/// bookmark, every such change up to its version has been delivered, so resuming from it loses
/// nothing), **resumable** (a watch started from a delivered version gets exactly the rest).
public struct WatchHistory: Sendable {
    /// One change to one object.
    public struct Change: Sendable, Equatable {
        public var version: UInt64
        public var name: String
        /// The object's labels after the change; `nil` when the change deleted it.
        public var labels: [String: String]?

        public init(version: UInt64, name: String, labels: [String: String]?) {
            self.version = version
            self.name = name
            self.labels = labels
        }
    }

    /// What a watcher received, connection after connection.
    public struct Stream: Sendable {
        public enum Item: Sendable, Equatable {
            case event(type: String, Change)
            case bookmark(UInt64)
        }

        /// One watch request: the version it started from, whether that version came from a LIST
        /// after a 410 (a relist: the changes between the previous position and it are skipped on
        /// purpose), and what it received.
        public struct Segment: Sendable {
            public var from: UInt64
            public var relisted: Bool
            public var items: [Item]

            public init(from: UInt64, relisted: Bool = false, items: [Item] = []) {
                self.from = from
                self.relisted = relisted
                self.items = items
            }
        }

        public var name: String
        /// The label selector (`nil`: every object).
        public var selector: String?
        public var segments: [Segment]

        public init(name: String, selector: String?, segments: [Segment] = []) {
            self.name = name
            self.selector = selector
            self.segments = segments
        }

        /// The newest version the stream reached (event or bookmark), or where it started.
        public var position: UInt64 {
            for segment in segments.reversed() {
                for item in segment.items.reversed() {
                    switch item {
                    case .event(_, let change): return change.version
                    case .bookmark(let version): return version
                    }
                }
                if segment.relisted { return segment.from }
            }
            return segments.first?.from ?? 0
        }
    }

    /// A broken guarantee.
    public struct Violation: Sendable, Equatable, CustomStringConvertible {
        public enum Kind: String, Sendable {
            case ordered, unique, atomic, reliable, bookmarkable, resumable, type
        }
        public var kind: Kind
        public var detail: String
        public var description: String { "\(kind.rawValue): \(detail)" }
    }

    /// Changes by version.
    public private(set) var changes: [UInt64: Change] = [:]
    public private(set) var violations: [Violation] = []

    public init() {}

    /// Records a change from an acknowledgement or a stream; a different change at a version
    /// already known is an atomicity violation.
    public mutating func record(_ change: Change, source: String) {
        if let known = changes[change.version] {
            if known != change {
                violations.append(Violation(kind: .atomic, detail: "version \(change.version) is \(known) and, per \(source), \(change)"))
            }
            return
        }
        changes[change.version] = change
    }

    /// Records every change the streams saw (writes whose acknowledgements were lost). A DELETED
    /// event of a selective watch may be an object leaving the selector (it carries the object's
    /// previous content, as kube-apiserver sends it): only unselective watches tell deletions.
    public mutating func record(_ streams: [Stream]) {
        for stream in streams {
            for segment in stream.segments {
                for case .event(let type, let change) in segment.items where type != "DELETED" || stream.selector == nil {
                    record(change, source: stream.name)
                }
            }
        }
    }

    /// The ordered changes, and for each its object's labels before it (nil: absent or deleted).
    private func timeline() -> [(change: Change, before: [String: String]?)] {
        var state: [String: [String: String]] = [:]
        return changes.keys.sorted().map { version in
            let change = changes[version]!
            let before = state[change.name]
            state[change.name] = change.labels
            return (change, before)
        }
    }

    /// The event a watcher with `selector` gets for a change: nil when it does not concern it.
    static func expectedType(_ change: Change, before: [String: String]?, selector: LabelSelector?) -> String? {
        let matches = { (labels: [String: String]?) -> Bool in
            guard let labels else { return false }
            return selector?.matches(labels) ?? true
        }
        switch (matches(before), matches(change.labels)) {
        case (false, true): return "ADDED"
        case (true, true): return "MODIFIED"
        case (true, false): return "DELETED"
        case (false, false): return nil
        }
    }

    /// Checks `stream` against the history; returns its violations (also kept in ``violations``).
    @discardableResult
    public mutating func check(_ stream: Stream) -> [Violation] {
        var found: [Violation] = []
        let selector = stream.selector.flatMap { try? LabelSelector(parsing: $0) }
        // The changes that concern this watcher, in version order, with the event each should give.
        let relevant: [(version: UInt64, name: String, type: String)] = timeline().compactMap { entry in
            Self.expectedType(entry.change, before: entry.before, selector: selector).map { (entry.change.version, entry.change.name, $0) }
        }
        let byVersion = Dictionary(relevant.map { ($0.version, $0) }, uniquingKeysWith: { a, _ in a })
        var position = stream.segments.first?.from ?? 0
        // The first relevant change after `position` (position only moves up).
        var cursor = 0
        func advance(to version: UInt64) {
            while cursor < relevant.count, relevant[cursor].version <= version { cursor += 1 }
        }
        /// The relevant changes after `position` and before `version` (through it with `through`).
        func gap(before version: UInt64, through: Bool) -> [UInt64] {
            var missing: [UInt64] = []
            var k = cursor
            while k < relevant.count, relevant[k].version < version || through && relevant[k].version == version {
                missing.append(relevant[k].version)
                k += 1
            }
            return missing
        }
        var delivered = Set<UInt64>()
        advance(to: position)
        for segment in stream.segments {
            if segment.relisted {
                position = max(position, segment.from)
                advance(to: position)
            } else if segment.from != position {
                found.append(Violation(kind: .resumable, detail: "\(stream.name) resumed from \(segment.from), not from its position \(position)"))
                position = segment.from
                advance(to: position)
            }
            for item in segment.items {
                switch item {
                case .event(let type, let change):
                    if delivered.contains(change.version) {
                        found.append(Violation(kind: .unique, detail: "\(stream.name) got version \(change.version) twice"))
                        continue
                    }
                    if change.version <= position {
                        found.append(Violation(kind: .ordered, detail: "\(stream.name) got version \(change.version) after \(position)"))
                        continue
                    }
                    let missing = gap(before: change.version, through: false)
                    if !missing.isEmpty {
                        found.append(Violation(kind: .reliable, detail: "\(stream.name) skipped \(missing.prefix(5).map(String.init).joined(separator: ", ")) before \(change.version)"))
                    }
                    if let expected = byVersion[change.version] {
                        if expected.type != type || expected.name != change.name {
                            found.append(Violation(kind: .type, detail: "\(stream.name) got \(type) \(change.name)@\(change.version), expected \(expected.type) \(expected.name)"))
                        }
                    } else {
                        found.append(Violation(kind: .type, detail: "\(stream.name) got \(type) \(change.name)@\(change.version), which does not concern its selector"))
                    }
                    delivered.insert(change.version)
                    position = change.version
                    advance(to: position)
                case .bookmark(let version):
                    if version < position {
                        found.append(Violation(kind: .ordered, detail: "\(stream.name) got a bookmark at \(version) after \(position)"))
                        continue
                    }
                    let missing = gap(before: version, through: true)
                    if !missing.isEmpty {
                        found.append(Violation(kind: .bookmarkable, detail: "\(stream.name) got a bookmark at \(version) without \(missing.prefix(5).map(String.init).joined(separator: ", "))"))
                    }
                    position = version
                    advance(to: position)
                }
            }
        }
        violations += found
        return found
    }

    /// The events a watch with `selector` started after `version` must deliver, up to `through`.
    public func expected(after version: UInt64, through: UInt64, selector: String?) -> [Stream.Item] {
        let parsed = selector.flatMap { try? LabelSelector(parsing: $0) }
        return timeline().compactMap { entry in
            guard entry.change.version > version, entry.change.version <= through,
                  let type = Self.expectedType(entry.change, before: entry.before, selector: parsed) else { return nil }
            return .event(type: type, entry.change)
        }
    }

    /// Checks that a watch started from `version` delivered exactly the rest (up to where it got).
    @discardableResult
    public mutating func checkResumed(from version: UInt64, selector: String?, received: [Stream.Item], name: String) -> [Violation] {
        // Compared by type, version and name: a DELETED event carries the object's previous content.
        func key(_ item: Stream.Item) -> String? {
            if case .event(let type, let change) = item { "\(type) \(change.name)@\(change.version)" } else { nil }
        }
        let events = received.compactMap(key)
        let reached = received.compactMap { if case .event(_, let c) = $0 { c.version } else { nil } }.max() ?? version
        let expected = expected(after: version, through: reached, selector: selector).compactMap(key)
        guard events != expected else { return [] }
        let detail = "\(name) from \(version): got \(events.count) events, expected \(expected.count) (first difference at event \(Array(zip(events, expected)).firstIndex { $0 != $1 } ?? min(events.count, expected.count)))"
        let found = [Violation(kind: .resumable, detail: detail)]
        violations += found
        return found
    }
}
