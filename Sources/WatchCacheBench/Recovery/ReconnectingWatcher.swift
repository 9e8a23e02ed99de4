import WatchCache

/// The client side of one watcher, as client-go's Reflector behaves: LIST, then WATCH from the
/// list's version with a timeout drawn uniformly from [T, 2T); on a clean end (timeout, server
/// shutdown) re-watch at once from the last version seen — the last event's, or the last
/// bookmark's when bookmarks are on; on 410 Expired back off, relist, and watch from the new list.
public struct ReconnectingWatcher: Sendable {
    /// What the client does next.
    public enum Action: Sendable, Hashable {
        /// The first LIST (from the cache, resourceVersion 0), then a watch from its version.
        case list
        /// Open a watch from `version` with this `timeoutSeconds`.
        case watch(from: ResourceVersion, timeoutSeconds: Int)
        /// LIST (after `delay` seconds of backoff), then watch from the list's version.
        case relist(delay: Double)
    }

    /// Which node's pods it watches (or `nil`: every pod).
    public let node: Int?
    public let allowBookmarks: Bool
    /// client-go's T in seconds (already compressed).
    public let minTimeout: Double
    public let relistBackoff: Double
    /// The version the next watch resumes from.
    public private(set) var lastVersion: ResourceVersion = .zero
    /// Whether the current stream carried 410 Expired.
    private var expired = false

    // What this client saw.
    public private(set) var events = 0
    public private(set) var bookmarks = 0
    public private(set) var expiredCount = 0
    public private(set) var relists = 0
    public private(set) var watchStarts = 0

    public init(node: Int?, allowBookmarks: Bool, minTimeout: Double, relistBackoff: Double) {
        self.node = node
        self.allowBookmarks = allowBookmarks
        self.minTimeout = minTimeout
        self.relistBackoff = relistBackoff
    }

    /// client-go: `timeoutSeconds = int(minWatchTimeout × (1 + rand))`, at least 1.
    public func drawTimeout(using rng: inout some RandomNumberGenerator) -> Int {
        max(1, Int(minTimeout * (1 + Double.random(in: 0..<1, using: &rng))))
    }

    /// The LIST came back at `version`: watch from it.
    public mutating func listed(at version: ResourceVersion, using rng: inout some RandomNumberGenerator) -> Action {
        lastVersion = version
        return startWatch(using: &rng)
    }

    /// A LIST the client made to recover from a 410.
    public mutating func countRelist() { relists += 1 }

    /// One event of the current stream.
    public mutating func receive(_ type: EventType, version: ResourceVersion, code: Int? = nil) {
        switch type {
        case .added, .modified, .deleted:
            events += 1
            lastVersion = max(lastVersion, version)
        case .bookmark:
            bookmarks += 1
            lastVersion = max(lastVersion, version)
        case .error:
            if code == 410 {
                expired = true
                expiredCount += 1
            }
        }
    }

    /// The stream ended: what to do next.
    public mutating func streamEnded(using rng: inout some RandomNumberGenerator) -> Action {
        if expired {
            expired = false
            return .relist(delay: relistBackoff)
        }
        return startWatch(using: &rng)
    }

    private mutating func startWatch(using rng: inout some RandomNumberGenerator) -> Action {
        watchStarts += 1
        return .watch(from: lastVersion, timeoutSeconds: drawTimeout(using: &rng))
    }

    /// Forgets the counters (the end of a warm-up), keeping the version.
    public mutating func resetCounters() {
        events = 0
        bookmarks = 0
        expiredCount = 0
        relists = 0
        watchStarts = 0
    }
}
