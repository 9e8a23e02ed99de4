/// The named scenarios of `watchcache bench recovery`, each a list of workload points that run
/// once with bookmarks off and once with them on.
public enum RecoveryScenario: String, CaseIterable, Sendable {
    /// KEP-956's point: N = 5,000, R = 62.5/s, so N/R = 80 s between a watcher's events.
    case kep956
    /// N in {1,000, 5,000, 10,000} × several R, for the chart.
    case sweep
    /// Unselective watchers (each sees every event): bookmarks should change ~nothing.
    case control
    /// KEP-956's point with a graceful server restart (durable storage) halfway through the counted phase.
    case serverRestart = "server-restart"
    /// KEP-956's point at time compressions 1 and 10: the ratio must not depend on the factor.
    case compression

    /// The points, with every duration divided by `compression`.
    public func points(compression: Double = 1) -> [RecoveryParameters] {
        func point(_ n: Int, _ r: Double) -> RecoveryParameters {
            var p = RecoveryParameters(watchers: n, writesPerSecond: r)
            p.windowEvents = RecoveryParameters.window2019(watchers: n)
            p.compression = compression
            return p
        }
        switch self {
        case .kep956:
            return [point(5000, 62.5)]
        case .sweep:
            return [1000, 5000, 10000].flatMap { n in [20, 62.5, 100, 500].map { point(n, $0) } }
        case .control:
            // Every watcher receives every event, so the sizes are smaller (N × R deliveries per second).
            var p = point(200, 20)
            p.selective = false
            return [p]
        case .serverRestart:
            var p = point(5000, 62.5)
            p.restartAt = p.measured / 2
            return [p]
        case .compression:
            return [1.0, 10.0].map { factor in
                var p = point(5000, 62.5)
                p.compression = factor
                return p
            }
        }
    }
}
