import Testing
@testable import WatchCache

@Suite struct EventLogTests {
    static func event(_ rv: UInt64, at seconds: Double = 0) -> CacheEvent {
        let json = Fixture.podJSON("p\(rv)")
        var metadata = json["metadata"]!.objectValue!
        metadata["resourceVersion"] = .string(String(rv))
        var withRV = json
        withRV["metadata"] = .object(metadata)
        return CacheEvent(type: .added, object: try! KubeObject(json: withRV, resource: .pods), previous: nil,
                          recordedAt: .seconds(seconds))
    }

    /// Every capacity from 1 to 40 (powers of two and not), every fill level up to three and a half
    /// wraps, with RVs spaced by 2 so "between two events" is tested too.
    @Test func wrapAroundAtEveryCapacity() {
        for capacity in 1...40 {
            let window = HistoryWindow(minimumEvents: capacity, maximumEvents: capacity, freshness: .seconds(75))
            var log = EventLog(window: window, initialVersion: ResourceVersion(10))
            for n in 0...(capacity * 7 / 2 + 3) {
                if n > 0 { log.append(Self.event(10 + UInt64(n) * 2)) }
                let kept = min(n, capacity)
                #expect(log.count == kept, "capacity \(capacity), n \(n)")
                #expect(log.start == n - kept && log.end == n)
                for (i, p) in (log.start..<log.end).enumerated() {
                    #expect(log[p].resourceVersion.rawValue == 10 + UInt64(n - kept + i + 1) * 2)
                }
                // resumableFrom: the initial version until something is dropped, then oldest - 1.
                let expectedResumable: UInt64 = n > capacity ? 10 + UInt64(n - kept + 1) * 2 - 1 : 10
                #expect(log.resumableFrom.rawValue == expectedResumable, "capacity \(capacity), n \(n)")
                #expect(log.hasEvicted == (n > capacity))
                // Binary search at, between, before and after every kept event.
                for rv in UInt64(8)...(10 + UInt64(n) * 2 + 2) {
                    let expected = (log.start..<log.end).first { log[$0].resourceVersion.rawValue > rv } ?? log.end
                    #expect(log.firstPosition(after: ResourceVersion(rv)) == expected)
                }
            }
        }
    }

    @Test func growsWhileTheOldestEventIsFreshThenStopsAtTheUpperBound() {
        var log = EventLog(window: HistoryWindow(minimumEvents: 4, maximumEvents: 64, freshness: .seconds(75)), initialVersion: .zero)
        for rv in UInt64(1)...100 { log.append(Self.event(rv, at: Double(rv) * 0.1)) }
        #expect(log.capacity == 64)
        #expect(log.count == 64)
        #expect(log[log.start].resourceVersion.rawValue == 37)
    }

    @Test func doesNotGrowWhenTheOldestEventIsStale() {
        var log = EventLog(window: HistoryWindow(minimumEvents: 4, maximumEvents: 64, freshness: .seconds(75)), initialVersion: .zero)
        for rv in UInt64(1)...4 { log.append(Self.event(rv, at: 0)) }
        log.append(Self.event(5, at: 76))
        #expect(log.capacity == 4)
        #expect(log.count == 4)
    }

    @Test func shrinksWhenEvenTheLastQuarterIsStaleDownToTheLowerBoundAndGrowsBackOnABurst() {
        var log = EventLog(window: HistoryWindow(minimumEvents: 4, maximumEvents: 64, freshness: .seconds(75)), initialVersion: .zero)
        for rv in UInt64(1)...64 { log.append(Self.event(rv, at: 0)) }
        #expect(log.capacity == 64)
        log.append(Self.event(65, at: 200))
        #expect(log.capacity == 32)
        #expect(log.count == 32)
        #expect(log[log.end - 1].resourceVersion.rawValue == 65)
        #expect(log[log.start].resourceVersion.rawValue == 34)
        for (i, rv) in (UInt64(66)...70).enumerated() { log.append(Self.event(rv, at: 400 + Double(i) * 200)) }
        #expect(log.capacity == 4)
        #expect(log.count == 4)
        // A burst makes the oldest kept event fresh again: the log grows back.
        for rv in UInt64(71)...80 { log.append(Self.event(rv, at: 5000)) }
        #expect(log.capacity == 16)
        #expect(log.count == 10)
    }

    @Test func keepsFreshnessWorthOfHistoryAtASteadyRate() {
        // 10 events/s for 300 s: the log should end up holding at least 75 s of history.
        var log = EventLog(window: HistoryWindow(), initialVersion: .zero)
        for i in 1...3000 { log.append(Self.event(UInt64(i), at: Double(i) / 10)) }
        let span = log[log.end - 1].recordedAt - log[log.start].recordedAt
        #expect(span >= .seconds(75))
        #expect(log.capacity >= 750 && log.capacity <= 102_400)
    }

    /// A pod event of object `name` in `namespace` moving from node `from` to node `to` (`nil`: it
    /// is created; `to` nil: deleted).
    static func move(_ rv: UInt64, _ name: String, namespace: String, from: String?, to: String?, at seconds: Double = 0) -> CacheEvent {
        func pod(_ node: String, _ version: UInt64) -> KubeObject {
            var json = Fixture.podJSON(name, namespace: namespace, node: node)
            var metadata = json["metadata"]!.objectValue!
            metadata["resourceVersion"] = .string(String(version))
            json["metadata"] = .object(metadata)
            return try! KubeObject(json: json, resource: .pods)
        }
        let previous = from.map { pod($0, rv - 1) }
        let object = pod(to ?? from!, rv)
        return CacheEvent(type: from == nil ? .added : (to == nil ? .deleted : .modified), object: object, previous: previous,
                          recordedAt: .seconds(seconds))
    }

    /// The replay index lists exactly the kept events of each node (before or after the change),
    /// namespace and object, at every capacity and fill level, through wrap-around, growth and
    /// shrinking — and nothing once they have all left the log.
    @Test func theReplayIndexListsExactlyTheKeptEventsOfEachPin() {
        var rng = SplitMix64(seed: 7)
        let nodes = ["n0", "n1", "n2"], namespaces = ["a", "b"], names = ["x", "y", "z"]
        for capacity in 1...24 {
            let window = HistoryWindow(minimumEvents: capacity, maximumEvents: capacity * 4, freshness: .seconds(5))
            var log = EventLog(window: window, initialVersion: .zero, indexed: true)
            var placed: [String: String] = [:]  // key -> node
            for n in 1...(capacity * 9) {
                let namespace = namespaces[Int(rng.next() % 2)], name = names[Int(rng.next() % 3)], key = "\(namespace)/\(name)"
                let from = placed[key]
                let to: String? = from != nil && rng.next() % 4 == 0 ? nil : nodes[Int(rng.next() % 3)]
                placed[key] = to
                // Bursts and pauses, so the window grows and shrinks too.
                log.append(Self.move(UInt64(n), name, namespace: namespace, from: from, to: to, at: Double(n / 7) * 3))
                let index = log.index!
                func expected(_ test: (CacheEvent) -> Bool) -> [Int] { (log.start..<log.end).filter { test(log[$0]) } }
                for node in nodes {
                    let want = expected { $0.object.fieldValue("spec.nodeName") == node || $0.previous?.fieldValue("spec.nodeName") == node }
                    #expect(Array(index.positions(.indexedValue, node)) == want, "capacity \(capacity), n \(n), node \(node)")
                }
                for namespace in namespaces {
                    #expect(Array(index.positions(.namespace, namespace)) == expected { $0.object.namespace == namespace })
                }
                for namespace in namespaces {
                    for name in names {
                        #expect(Array(index.positions(.key, "\(namespace)/\(name)")) == expected { $0.object.key == "\(namespace)/\(name)" })
                    }
                }
            }
            // A quiet spell long enough for the window to shrink back leaves no stale entry.
            var rv = UInt64(capacity * 9)
            for _ in 0..<(capacity * 8) {
                rv += 1
                log.append(Self.move(rv, "q", namespace: "c", from: "n9", to: "n9", at: 1_000_000))
            }
            let counts = log.index!.listCounts
            #expect(counts.indexedValues == 1 && counts.namespaces == 1 && counts.keys == 1, "capacity \(capacity): \(counts)")
        }
    }
}
