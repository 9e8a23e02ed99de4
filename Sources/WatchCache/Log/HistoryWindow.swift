/// How much history a resource's event log keeps: at least ``freshness`` worth of events at the
/// current write rate, between ``minimumEvents`` and ``maximumEvents`` (Kubernetes: 75 s, 100, 102,400).
public struct HistoryWindow: Sendable, Hashable {
    /// The fewest events kept once the log is full (the starting capacity).
    public var minimumEvents: Int
    /// The most events kept, whatever the rate.
    public var maximumEvents: Int
    /// How old the oldest kept event should be before the log stops growing.
    public var freshness: Duration

    public init(minimumEvents: Int = 100, maximumEvents: Int = 102_400, freshness: Duration = .seconds(75)) {
        precondition(minimumEvents >= 1 && maximumEvents >= minimumEvents, "need 1 <= minimumEvents <= maximumEvents")
        self.minimumEvents = minimumEvents
        self.maximumEvents = maximumEvents
        self.freshness = freshness
    }
}
