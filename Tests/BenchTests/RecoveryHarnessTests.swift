import Foundation
import Testing
import WatchCache
@testable import WatchCacheBench

/// The harness's parts: the client's reconnect state machine, the workload, the model and the
/// report maths.
@Suite struct RecoveryHarnessTests {
    @Test func timeoutsAreDrawnLikeClientGo() {
        var rng = SplitMix64(seed: 7)
        let client = ReconnectingWatcher(node: 1, allowBookmarks: true, minTimeout: 300, relistBackoff: 0.8)
        let draws = (0..<2000).map { _ in client.drawTimeout(using: &rng) }
        #expect(draws.allSatisfy { (300..<600).contains($0) })
        #expect(draws.min()! < 310 && draws.max()! > 590)  // uniform over [T, 2T)
        let short = ReconnectingWatcher(node: nil, allowBookmarks: false, minTimeout: 0.2, relistBackoff: 0)
        #expect(short.drawTimeout(using: &rng) == 1)  // never 0 (that would mean "server default")
    }

    @Test func clientsResumeFromTheLastEventOrBookmarkAndRelistOn410() {
        var rng = SplitMix64(seed: 1)
        var client = ReconnectingWatcher(node: 3, allowBookmarks: true, minTimeout: 300, relistBackoff: 0.8)
        guard case .watch(let from, _) = client.listed(at: ResourceVersion(10), using: &rng) else { Issue.record("no watch"); return }
        #expect(from == ResourceVersion(10))
        client.receive(.modified, version: ResourceVersion(15))
        client.receive(.bookmark, version: ResourceVersion(40))
        #expect(client.lastVersion == ResourceVersion(40))
        // A clean end re-watches at once from the bookmark, no relist.
        guard case .watch(let again, _) = client.streamEnded(using: &rng) else { Issue.record("no re-watch"); return }
        #expect(again == ResourceVersion(40))
        // 410: back off, relist, then watch from the list's version.
        client.receive(.error, version: .zero, code: 410)
        #expect(client.streamEnded(using: &rng) == .relist(delay: 0.8))
        client.countRelist()
        guard case .watch(let afterList, _) = client.listed(at: ResourceVersion(90), using: &rng) else { Issue.record("no watch"); return }
        #expect(afterList == ResourceVersion(90))
        #expect(client.expiredCount == 1 && client.relists == 1 && client.events == 1 && client.bookmarks == 1 && client.watchStarts == 3)
        // Other errors end the stream too; only 410 relists.
        client.receive(.error, version: .zero, code: 500)
        guard case .watch = client.streamEnded(using: &rng) else { Issue.record("500 should re-watch"); return }
        client.resetCounters()
        #expect(client.events == 0 && client.lastVersion == ResourceVersion(90))
    }

    @Test func theWorkloadPutsEachPodOnItsNode() throws {
        let workload = PodWorkload(watchers: 4, objectsPerWatcher: 30)
        #expect(workload.objects == 120)
        #expect(workload.name(31) == "pod-1-1")
        #expect(workload.node(119) == 3)
        let pod = try KubeObject(json: workload.pod(65, revision: 3), resource: .pods)
        #expect(pod.fieldValue("spec.nodeName") == "node-2")
        #expect(pod.namespace == PodWorkload.namespace)
        #expect(PodWorkload.fieldSelector(node: 2) == "spec.nodeName=node-2")
        #expect(PodWorkload.fieldSelector(node: nil) == nil)
    }

    @Test func theModelHasKEP956sPoint() {
        var p = RecoveryParameters(watchers: 5000, writesPerSecond: 62.5)
        p.windowEvents = RecoveryParameters.window2019(watchers: 5000)
        // N/R = 80 s; bookmark 2 s before the deadline: ≈ 80 / 2 = 40x (exactly 1/(1 − e^(−1/40))).
        #expect(abs(RecoveryModel.ratio(p) - 1 / (1 - exp(-2.0 / 80))) < 0.01)
        #expect(abs(RecoveryModel.initEventsPerReconnect(p, bookmarks: false) - 4999) < 1)  // (1 - 1/N) x R x N/R
        #expect(RecoveryModel.expiredShare(p) < 1e-20)
        // A window of 75 s turns most long quiet spells into 410s: fewer rescans, more relists.
        p.windowEvents = nil
        #expect(RecoveryModel.initEventsPerReconnect(p, bookmarks: false) < 5000 * 0.4)
        #expect(abs(RecoveryModel.expiredShare(p) - exp(-75.0 / 80)) < 1e-9)
        // Unselective: every event is the watcher's own, so a resume rescans nothing either way.
        p.selective = false
        #expect(RecoveryModel.initEventsPerReconnect(p, bookmarks: false) == 0)
        #expect(RecoveryModel.ratio(p) == 1)
    }

    @Test func distributionsUseNearestRank() {
        let d = Distribution((1...100).map(Double.init))
        #expect(d.count == 100 && d.total == 5050 && d.mean == 50.5)
        #expect(d.p50 == 50 && d.p99 == 99 && d.max == 100)
        #expect(Distribution([]).mean == 0)
    }

    @Test func theReportReadsWellAndCarriesEveryFigure() throws {
        let c = try InProcessRecoveryTests.compare(InProcessRecoveryTests.small(50, rate: 0.625))
        let report = RecoveryReport(scenario: "kep956", mode: "in-process", comparisons: [c],
                                    machine: MachineInfo(cpu: "test CPU", cores: 2, memoryGiB: 24, kernel: "test"),
                                    revision: "0123456789abcdef", date: "2026-11-24T00:00:00Z")
        let table = report.table()
        #expect(table.contains("init events per reconnect, mean"))
        #expect(table.contains(RecoveryReport.times(c.initEventRatio)))
        #expect(table.contains(RecoveryReport.times(c.predictedRatio)))
        #expect(table.contains("N=50 R=0.625/s"))
        let json = try JSONObject(parsing: String(decoding: report.json(), as: UTF8.self))
        #expect(json["revision"] == .string("0123456789abcdef"))
        #expect(json["machine"]?["cores"] == .number("2"))
        let point = try #require(json["points"]?.arrayValue?.first)
        #expect(point["parameters"]?["watchers"] == .number("50"))
        #expect(point["off"]?["reconnects"] == .number(String(c.off.reconnects)))
        #expect(point["ratios"]?["initEventsPerReconnect"] == .number(String(c.initEventRatio)))
        let svg = RecoveryChart.svg(report)
        #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n"))
        #expect(svg.contains("model (section 6.3)") && svg.contains("measured, N = 50"))
        #expect(svg.components(separatedBy: "<circle").count - 1 == 2 + 2)  // a point per panel, a legend mark per panel
    }

    @Test func numbersFormatForPeople() {
        #expect(RecoveryReport.grouped(1234567) == "1,234,567")
        #expect(RecoveryReport.decimal(1234.5678, 2) == "1,234.57")
        #expect(RecoveryReport.decimal(0.05, 1) == "0.1")
        #expect(RecoveryReport.times(42.04) == "42.0x")
        #expect(RecoveryReport.times(1.234) == "1.23x")
    }
}
