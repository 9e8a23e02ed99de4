import Testing
@testable import WatchCacheBench

/// The checker behind `bench guarantees`: each guarantee, kept and broken, on hand-made histories.
@Suite struct WatchHistoryTests {
    typealias Change = WatchHistory.Change
    typealias Item = WatchHistory.Stream.Item

    /// a created in group x (1), b created in y (2), a moved to y (3), b deleted (4), c created in x (5).
    static func history() -> WatchHistory {
        var h = WatchHistory()
        for change in [Change(version: 1, name: "a", labels: ["g": "x"]), Change(version: 2, name: "b", labels: ["g": "y"]),
                       Change(version: 3, name: "a", labels: ["g": "y"]), Change(version: 4, name: "b", labels: nil),
                       Change(version: 5, name: "c", labels: ["g": "x"])] {
            h.record(change, source: "test")
        }
        return h
    }

    static func event(_ type: String, _ name: String, _ version: UInt64, _ labels: [String: String]? = [:]) -> Item {
        .event(type: type, Change(version: version, name: name, labels: labels))
    }

    static func stream(_ selector: String?, from: UInt64 = 0, _ items: [Item]) -> WatchHistory.Stream {
        WatchHistory.Stream(name: "w", selector: selector, segments: [.init(from: from, items: items)])
    }

    @Test func aCompleteStreamKeepsEveryGuarantee() {
        var h = Self.history()
        let all = Self.stream(nil, [Self.event("ADDED", "a", 1), Self.event("ADDED", "b", 2), Self.event("MODIFIED", "a", 3),
                                    .bookmark(3), Self.event("DELETED", "b", 4, nil), Self.event("ADDED", "c", 5), .bookmark(6)])
        #expect(h.check(all).isEmpty)
        // A selector sees an object leave it as DELETED and join it as ADDED.
        let x = Self.stream("g=x", [Self.event("ADDED", "a", 1), Self.event("DELETED", "a", 3), Self.event("ADDED", "c", 5)])
        #expect(h.check(x).isEmpty)
        let y = Self.stream("g=y", from: 2, [Self.event("ADDED", "a", 3), Self.event("DELETED", "b", 4)])
        #expect(h.check(y).isEmpty)
    }

    @Test func eachBrokenGuaranteeIsFound() {
        var h = Self.history()
        let kinds = { (stream: WatchHistory.Stream) -> [WatchHistory.Violation.Kind] in h.check(stream).map(\.kind) }
        #expect(kinds(Self.stream(nil, [Self.event("ADDED", "a", 1), Self.event("MODIFIED", "a", 3)])) == [.reliable])  // 2 missing
        #expect(kinds(Self.stream(nil, from: 2, [Self.event("MODIFIED", "a", 3), Self.event("MODIFIED", "a", 3)])) == [.unique])
        #expect(kinds(Self.stream(nil, from: 2, [Self.event("MODIFIED", "a", 3), Self.event("ADDED", "b", 2)])) == [.ordered])
        #expect(kinds(Self.stream(nil, from: 2, [Self.event("ADDED", "a", 3)])) == [.type])
        #expect(kinds(Self.stream("g=x", from: 1, [Self.event("MODIFIED", "b", 2)])) == [.type])  // b never matched g=x
        #expect(kinds(Self.stream(nil, from: 2, [.bookmark(4)])) == [.bookmarkable])  // 3 and 4 not delivered
        #expect(kinds(Self.stream(nil, from: 3, [.bookmark(4), Self.event("DELETED", "b", 4, nil)])) == [.bookmarkable, .ordered])
        var resumedElsewhere = Self.stream(nil, from: 0, [Self.event("ADDED", "a", 1)])
        resumedElsewhere.segments.append(.init(from: 2, items: [Self.event("MODIFIED", "a", 3)]))
        #expect(kinds(resumedElsewhere) == [.resumable])
        // After a 410 the relist's version is a new start: what lies before it is not a gap.
        var relisted = Self.stream(nil, from: 0, [Self.event("ADDED", "a", 1)])
        relisted.segments.append(.init(from: 4, relisted: true, items: [Self.event("ADDED", "c", 5)]))
        #expect(kinds(relisted).isEmpty)
    }

    @Test func twoStoriesOfOneVersionBreakAtomicity() {
        var h = Self.history()
        h.record(Change(version: 3, name: "b", labels: ["g": "y"]), source: "a stream")
        #expect(h.violations.map(\.kind) == [.atomic])
    }

    @Test func aResumedWatchMustGetExactlyTheRest() {
        var h = Self.history()
        let rest: [Item] = [Self.event("MODIFIED", "a", 3), Self.event("DELETED", "b", 4, ["g": "y"]), Self.event("ADDED", "c", 5)]
        #expect(h.checkResumed(from: 2, selector: nil, received: rest, name: "probe").isEmpty)
        #expect(h.checkResumed(from: 2, selector: nil, received: [rest[0], rest[2]], name: "probe").map(\.kind) == [.resumable])
        #expect(h.checkResumed(from: 1, selector: "g=y", received: [Self.event("ADDED", "b", 2), Self.event("ADDED", "a", 3),
                                                                    Self.event("DELETED", "b", 4)], name: "probe").isEmpty)
    }

    @Test func etcdctlsWatchOutputIsTheHistory() {
        // `etcdctl watch --prefix /p/configmaps/default/ --rev 1 -w json` (etcd 3.4.23) after two
        // puts and a delete; the namespace key is outside the prefix.
        let output = #"{"Header":{"cluster_id":14841639068965178418,"member_id":10276657743932975437,"revision":5,"raft_term":2},"Events":[{"kv":{"key":"L3AvY29uZmlnbWFwcy9kZWZhdWx0L2E=","create_revision":2,"mod_revision":2,"version":1,"value":"eyJtZXRhZGF0YSI6eyJuYW1lIjoiYSIsImxhYmVscyI6eyJncm91cCI6IngifX19"}},{"kv":{"key":"L3AvY29uZmlnbWFwcy9kZWZhdWx0L2I=","create_revision":3,"mod_revision":3,"version":1,"value":"eyJtZXRhZGF0YSI6eyJuYW1lIjoiYiJ9fQ=="}},{"type":1,"kv":{"key":"L3AvY29uZmlnbWFwcy9kZWZhdWx0L2E=","mod_revision":4}}],"CompactRevision":0,"Canceled":false,"Created":false}"#
        let changes = EtcdHistoryReader.parse(output + "\n", prefix: "/p/configmaps/default/")
        #expect(changes == [
            WatchHistory.Change(version: 2, name: "a", labels: ["group": "x"]),
            WatchHistory.Change(version: 3, name: "b", labels: [:]),
            WatchHistory.Change(version: 4, name: "a", labels: nil),
        ])
        #expect(EtcdHistoryReader.parse(output, prefix: "/q/").isEmpty)
    }
}
