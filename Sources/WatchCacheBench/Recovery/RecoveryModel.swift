import Foundation

/// The model of section 6.3 of the semantics reference: what a reconnect should cost, in events
/// the server scans to re-initialise the watch.
///
/// A watcher matching a share `s` of R writes/s sees its own events at rate λ = s·R (s = 1/N for
/// node-scoped watchers, 1 for unselective ones). At reconnect:
/// - bookmarks off: it resumes from its last event, of age A ~ Exp(λ); the server rescans the
///   (1 − s)·R·A events since, none of them its own, or answers 410 when A exceeds the window W
///   (then the client relists and scans none): E = (1 − s)·(R/λ)·(1 − e^(−λW)(1 + λW));
/// - bookmarks on: it resumes from the later of its last event and the pre-timeout bookmark sent L
///   seconds before the deadline: E = (1 − s)·(R/λ)·(1 − e^(−λL)).
/// Unselective watchers (s = 1) rescan nothing either way: the ratio is 1.
public enum RecoveryModel {
    /// Expected init events per reconnect.
    public static func initEventsPerReconnect(_ p: RecoveryParameters, bookmarks: Bool) -> Double {
        let r = p.writesPerSecond
        let share = p.selective ? 1 / Double(p.watchers) : 1
        let lambda = share * r
        if bookmarks {
            return (1 - share) * r / lambda * (1 - exp(-lambda * p.bookmarkLead))
        }
        let w = p.windowSeconds
        return (1 - share) * r / lambda * (1 - exp(-lambda * w) * (1 + lambda * w))
    }

    /// The predicted off/on ratio.
    public static func ratio(_ p: RecoveryParameters) -> Double {
        RecoveryComparison.ratio(initEventsPerReconnect(p, bookmarks: false), initEventsPerReconnect(p, bookmarks: true))
    }

    /// Expected share of reconnects answered 410 with bookmarks off: P(A > W).
    public static func expiredShare(_ p: RecoveryParameters) -> Double {
        let lambda = p.selective ? p.writesPerSecond / Double(p.watchers) : p.writesPerSecond
        return exp(-lambda * p.windowSeconds)
    }
}
