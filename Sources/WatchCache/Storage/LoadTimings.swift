/// Where a registry's start-up on an embedded storage spent its time, added up over resources.
public struct LoadTimings: Sendable, Hashable, Codable {
    /// Reading the storage: objects, version and the newest history (``Storage/recover(historyLimit:)``).
    public var readSeconds = 0.0
    /// Parsing the objects' stored JSON.
    public var parseSeconds = 0.0
    /// Filling the caches: the store and its indexes, and the history windows (their events
    /// parsed, and the replay index).
    public var fillSeconds = 0.0

    public init() {}

    public var totalSeconds: Double { readSeconds + parseSeconds + fillSeconds }
}
