import Foundation
import Testing
import WatchCache
@testable import WatchCacheBench

/// The in-process recovery harness on small workloads (N = 100): counts come from the library's
/// own counters, deterministically for a seed.
@Suite struct InProcessRecoveryTests {
    /// KEP-956's shape at N = 100: R = 1.25/s keeps N/R = 80 s.
    static func small(_ n: Int = 100, rate: Double = 1.25, compression: Double = 10) -> RecoveryParameters {
        var p = RecoveryParameters(watchers: n, writesPerSecond: rate)
        p.objectsPerWatcher = 3
        p.windowEvents = RecoveryParameters.window2019(watchers: n)
        p.compression = compression
        return p
    }

    static func compare(_ p: RecoveryParameters) throws -> RecoveryComparison {
        RecoveryComparison(off: try InProcessRecoveryRun(parameters: p, bookmarks: false).run(),
                           on: try InProcessRecoveryRun(parameters: p, bookmarks: true).run())
    }

    @Test func bookmarksCutInitEventsAsTheModelSays() throws {
        let c = try Self.compare(Self.small())
        // About 100 × 2.7 reconnects in the counted phase, each counted.
        #expect(c.off.reconnects > 200 && c.on.reconnects > 200)
        #expect(c.off.initEventsPerReconnect.count == c.off.reconnects)
        // Off: a watcher resumes from its last event, ~N/R = 80 s old: ~R × 80 = 100 events rescanned.
        #expect(abs(c.off.initEventsPerReconnect.mean - 100) < 25)
        // On: from the bookmark 2 s before the deadline: ~R × 2 = 2.5 events.
        #expect(abs(c.on.initEventsPerReconnect.mean - 2.5) < 0.5)
        #expect(c.on.initEventsPerReconnect.max <= 10)
        #expect(c.initEventRatio > 25 && abs(c.initEventRatio / c.predictedRatio - 1) < 0.3)
        #expect(c.on.bookmarksReceived > c.on.reconnects)
        #expect(c.off.bookmarksReceived == 0)
        #expect(c.off.expired == 0 && c.on.expired == 0 && c.off.relists == 0)
        #expect(abs(c.off.writes - 1500) < 150 && abs(c.on.writes - 1500) < 150)  // 1,200 s × 1.25/s, Poisson
        #expect(c.off.stormInitEvents > c.on.stormInitEvents)
    }

    @Test func theIndexedReplayMakesBookmarkOffResumesCheaperThanScansWithBookmarks() throws {
        var p = Self.small()
        p.replay = .indexed
        let indexed = try Self.compare(p)
        let scan = try Self.compare(Self.small())
        // A resume visits only its node's events since its version: none, unless one came between
        // the watch's end and its resume.
        #expect(indexed.off.reconnects > 200 && indexed.off.initEventsPerReconnect.mean <= 0.1)
        #expect(indexed.off.initEventsPerReconnect.mean <= 2 * scan.on.initEventsPerReconnect.mean)
        #expect(indexed.off.stormInitEvents <= 2 * Double(p.watchers) && indexed.off.stormInitEvents < scan.on.stormInitEvents)
        // The same streams either way: same writes delivered, no 410.
        #expect(indexed.off.watchBytes == scan.off.watchBytes && indexed.off.expired == 0)
        let report = RecoveryReport(scenario: "test", mode: "in-process", comparisons: [scan, indexed], machine: .current(), revision: "x", date: "d")
        #expect(report.replayPairs.count == 1)
        #expect(report.table().contains("Replays side by side"))
    }

    @Test func aSeedReproducesTheCounts() throws {
        let a = try InProcessRecoveryRun(parameters: Self.small(), bookmarks: false).run()
        let b = try InProcessRecoveryRun(parameters: Self.small(), bookmarks: false).run()
        #expect(a.reconnects == b.reconnects)
        #expect(a.initEventsTotal == b.initEventsTotal)
        #expect(a.initEventsPerReconnect == b.initEventsPerReconnect)
        var other = Self.small()
        other.seed = 2
        #expect(try InProcessRecoveryRun(parameters: other, bookmarks: false).run().initEventsTotal != a.initEventsTotal)
    }

    @Test func unselectiveWatchersGainNothing() throws {
        var p = Self.small(20, rate: 2)
        p.selective = false
        let c = try Self.compare(p)
        // Every watcher sees every event: it resumes from a version seconds old either way.
        #expect(c.initEventRatio > 0.5 && c.initEventRatio < 2)
        #expect(abs(c.predictedRatio - 1) < 0.1)
    }

    @Test func theRatioDoesNotDependOnTimeCompression() throws {
        let slow = try Self.compare(Self.small(compression: 1))
        let fast = try Self.compare(Self.small(compression: 20))
        #expect(abs(slow.initEventRatio / fast.initEventRatio - 1) < 0.25)
    }

    /// Today's dynamic window (75 s of events) is shorter than many watchers' quiet spells: without
    /// bookmarks they get 410 and relist; with bookmarks none does.
    @Test func aShortWindowTurnsRescansIntoRelistsWithoutBookmarks() throws {
        var p = Self.small()
        p.windowEvents = nil
        let c = try Self.compare(p)
        #expect(c.off.expired > 0)
        #expect(c.off.relists == c.off.expired)
        #expect(c.off.relistBytes > 0)
        #expect(c.on.expired == 0 && c.on.relists == 0)
        // Never more 410s than the model gives for the shortest window Kubernetes' rule keeps (75 s).
        #expect(Double(c.off.expired) / Double(c.off.reconnects) <= RecoveryModel.expiredShare(p))
    }

    /// Without durable storage a restart keeps the objects but loses the history (kube-apiserver's
    /// picture, KEP-1904): every watcher resuming from before it gets 410 and relists — unless it
    /// got the bookmark at the newest version that a graceful shutdown sends, which is exactly
    /// where the restarted server's window starts.
    @Test func aRestartWithoutHistoryExpiresEveryWatcherWithoutTheShutdownBookmark() throws {
        var p = Self.small()
        p.restartAt = p.measured / 2
        let c = try Self.compare(p)
        #expect(c.off.expired >= p.watchers - 5 && c.off.relists == c.off.expired)
        #expect(c.on.expired == 0 && c.on.relists == 0)
        #expect(c.on.stormCatchUpSeconds > 0)
    }

    /// On the durable storage the restart refills the window: nobody gets 410 or relists, and
    /// watchers with bookmarks got a last one at shutdown, so they resume scanning nothing.
    @Test func aRestartOnDurableStorageResumesEveryWatcherWithoutRelisting() throws {
        var p = Self.small()
        p.restartAt = p.measured / 2
        func run(bookmarks: Bool) throws -> RecoveryMeasurement {
            let data = NSTemporaryDirectory() + "watchcache-restart-test-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: data) }
            let run = InProcessRecoveryRun(parameters: p, bookmarks: bookmarks)
            run.dataDirectory = data
            return try run.run()
        }
        let c = RecoveryComparison(off: try run(bookmarks: false), on: try run(bookmarks: true))
        #expect(c.off.expired == 0 && c.on.expired == 0)
        #expect(c.off.relists == 0 && c.on.relists == 0)
        #expect(c.on.stormInitEvents == 0)
        // Without bookmarks each resumes from its last event, ~N/R = 80 s back: ~100 events each.
        #expect(c.off.stormInitEvents > Double(p.watchers) * 50)
        #expect(c.initEventRatio > 25)
    }
}
