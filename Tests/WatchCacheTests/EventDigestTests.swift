import Testing
@testable import WatchCache

/// The digests beside the log's events let a scan skip events without reading them: they must
/// never skip an event a filter selects (or one whose object leaves the selection), and should
/// skip most of the others.
@Suite struct EventDigestTests {
    static let selectors = [
        "", "app=a1", "app==a2", "app in (a1)", "app in (a1,a2)", "app!=a1", "app notin (a1)", "app", "!app",
        "app=a1,tier=t1", "tier=t2,app in (a3)", "version>1", "version<2", "app=a1,!tier",
        "app in (a1,a3)", "app in (a1,a2,a3),tier in (t1,t2)", "tier=t1,app in (a2,a3)", "app in (a1,a2),app notin (a2)",
    ]
    static let fieldSelectors: [String?] = [nil, "spec.nodeName=n1", "metadata.name=p1", "metadata.namespace=ns1",
                                           "spec.nodeName=n2,metadata.name=p2", "status.phase=Running", "spec.nodeName!=n1"]

    func object(_ rng: inout some RandomNumberGenerator, version: UInt64, name: String, namespace: String) throws -> KubeObject {
        var labels: [String: String] = [:]
        if Bool.random(using: &rng) { labels["app"] = "a\(Int.random(in: 1...3, using: &rng))" }
        if Bool.random(using: &rng) { labels["tier"] = "t\(Int.random(in: 1...2, using: &rng))" }
        if Bool.random(using: &rng) { labels["version"] = "\(Int.random(in: 0...3, using: &rng))" }
        // Sometimes keys that sort before `app`, so the selectors' keys fall past a digest's eight lanes.
        if Int.random(in: 0..<4, using: &rng) == 0 {
            for i in 0..<Int.random(in: 1...9, using: &rng) { labels["a\(i)"] = "v\(Int.random(in: 0...1, using: &rng))" }
        }
        var json = Fixture.podJSON(name, namespace: namespace,
                                   node: "n\(Int.random(in: 1...3, using: &rng))", labels: labels,
                                   phase: Bool.random(using: &rng) ? "Running" : "Pending")
        var metadata = json["metadata"]!.objectValue!
        metadata["resourceVersion"] = .string("\(version)")
        json["metadata"] = .object(metadata)
        return try KubeObject(json: json, resource: .pods)
    }

    /// A log's label table after meeting `count` keys no selector here names: with 61, `app` and
    /// `tier` get the last two bits and `version` none; with 63, no selector key has a bit.
    static func labelTable(filledWith count: Int, maximumValues: Int = 1 << 18) -> LabelTable {
        var table = LabelTable(maximumValues: maximumValues)
        for i in 0..<count { _ = table.digest(of: LabelSet(["other-\(i)": "x"])) }
        return table
    }

    /// With the label table empty, nearly full (61 keys met before), full (63), and with room for
    /// only a few values.
    @Test(arguments: [(0, 1 << 18), (61, 1 << 18), (63, 1 << 18), (0, 3)])
    func neverSkipAnEventTheFilterSelects(keysMetBefore: Int, maximumValues: Int) throws {
        var rng = SystemRandomNumberGenerator()
        var events: [CacheEvent] = []
        for v in 1...400 {
            // An event's objects are one object (one namespace and name) before and after.
            let name = "p\(Int.random(in: 1...3, using: &rng))", namespace = "ns\(Int.random(in: 1...2, using: &rng))"
            let now = try object(&rng, version: UInt64(v), name: name, namespace: namespace)
            let before = Bool.random(using: &rng) ? try object(&rng, version: UInt64(v), name: name, namespace: namespace) : nil
            let type: EventType = before == nil ? .added : (Bool.random(using: &rng) ? .modified : .deleted)
            events.append(CacheEvent(type: type, object: now, previous: before, recordedAt: .seconds(0)))
        }
        var table = Self.labelTable(filledWith: keysMetBefore, maximumValues: maximumValues)
        var pairs = [EventLabelPairs](repeating: EventLabelPairs(), count: events.count)
        let digests = events.indices.map { EventDigest(events[$0], labels: &table, pairs: &pairs[$0]) }
        for labels in Self.selectors {
            for fields in Self.fieldSelectors {
                for namespace in [nil, "ns1"] {
                    let filter = try WatchFilter(resource: .pods, namespace: namespace, labelSelector: labels, fieldSelector: fields)
                    let scan = table.scan(for: filter.labels)
                    for i in events.indices where WatcherState.convert(events[i], filter: filter) != nil {
                        let event = events[i]
                        #expect(filter.digestRequirement.mayConcern(digests[i], selector: scan, pairs: pairs[i]),
                                "\(labels) \(fields ?? "") \(namespace ?? ""): skipped \(event.type) \(event.object.labels)")
                    }
                }
            }
        }
    }

    @Test func signaturesHoldEveryPairTheSelectorRequires() throws {
        let labels: LabelSet = ["app": "web", "tier": "front", "example.com/team": "core"]
        for selector in ["app=web", "app==web", "app in (web)", "app=web,tier=front", "example.com/team=core,app=web"] {
            let required = try LabelSelector(parsing: selector).requiredSignature
            #expect(required != 0)
            #expect(labels.signature & required == required, "\(selector)")
        }
        // `in` with several values: one alternative per value, and a label set with any of them holds it.
        let choice = try LabelSelector(parsing: "tier=front,app in (web,db,api)")
        #expect(choice.alternativeSignatures.count == 3)
        for app in ["web", "db", "api"] {
            let set: LabelSet = ["app": app, "tier": "front"]
            #expect(DigestRequirement.holdsOne(of: choice.alternativeSignatures, set.signature), "\(app)")
        }
        #expect(try LabelSelector(parsing: "app in (web,db),tier in (a,b,c)").alternativeSignatures.count == 2)
        #expect(try LabelSelector(parsing: "app in (web),app notin (db,api)").alternativeSignatures.isEmpty)
        // Requirements that do not name one value require no bits.
        for selector in ["", "app", "!app", "app!=db", "app notin (db)", "app in (web,db)", "version>1"] {
            #expect(try LabelSelector(parsing: selector).requiredSignature == 0, "\(selector)")
        }
        let pod = try KubeObject(json: Fixture.podJSON("p", node: "n1", phase: "Running"), resource: .pods)
        for selector in ["spec.nodeName=n1", "status.phase==Running", "metadata.name=p,metadata.namespace=default"] {
            let required = try FieldSelector(parsing: selector, for: .pods).requiredSignature
            #expect(required != 0)
            #expect(pod.fieldSignature & required == required, "\(selector)")
        }
        #expect(try FieldSelector(parsing: "status.phase!=Running", for: .pods).requiredSignature == 0)
    }

    @Test func mostOtherEventsAreSkipped() throws {
        let filters = [
            try WatchFilter(resource: .pods, namespace: nil, labelSelector: "app=app-7", fieldSelector: nil),
            try WatchFilter(resource: .pods, namespace: "ns-7", labelSelector: nil, fieldSelector: nil),
            try WatchFilter(resource: .pods, namespace: nil, labelSelector: nil, fieldSelector: "metadata.namespace=ns-1,metadata.name=pod-7"),
            try WatchFilter(resource: .pods, namespace: nil, labelSelector: nil, fieldSelector: "status.phase=Failed"),
        ]
        for filter in filters {
            var passed = 0
            for i in 0..<1000 where i % 100 != 7 {
                let json = Fixture.podJSON("pod-\(i)", namespace: "ns-\(i % 100)", node: "n", labels: ["app": "app-\(i % 100)", "tier": "t\(i % 3)"])
                let event = CacheEvent(type: .added, object: try KubeObject(json: json, resource: .pods), previous: nil, recordedAt: .seconds(0))
                #expect(WatcherState.convert(event, filter: filter) == nil)
                var table = LabelTable(), pairs = EventLabelPairs()
                let digest = EventDigest(event, labels: &table, pairs: &pairs)
                if filter.digestRequirement.mayConcern(digest, selector: table.scan(for: filter.labels), pairs: pairs) { passed += 1 }
            }
            // Two labels set at most 4 of 64 bits: a 2-bit requirement passes by chance ~0.4 %; a
            // pod's ~10 selectable fields set ~20, ~10 %; 32-bit hashes almost never collide.
            #expect(passed < 250, "\(passed) of 990 other events passed the digest")
        }
    }

    /// Presence, absence and values are exact where a key has a bit: `!app` passes over every event
    /// whose object has `app` before and after the change, `app` every one whose object has it
    /// neither time, `app!=web` every one whose object has `app=web` both times — and none passes
    /// over an event it selects, whatever the table knows.
    @Test func labelKeysAndValuesSkipExactly() throws {
        func pod(_ name: String, _ labels: [String: String]) throws -> KubeObject {
            try KubeObject(json: Fixture.podJSON(name, node: "n", labels: labels), resource: .pods)
        }
        let labelled = try pod("a", ["app": "web"]), unlabelled = try pod("a", ["tier": "t1"])
        let events = [
            CacheEvent(type: .added, object: labelled, previous: nil, recordedAt: .seconds(0)),
            CacheEvent(type: .modified, object: labelled, previous: labelled, recordedAt: .seconds(0)),
            CacheEvent(type: .added, object: unlabelled, previous: nil, recordedAt: .seconds(0)),
            CacheEvent(type: .modified, object: labelled, previous: unlabelled, recordedAt: .seconds(0)),  // gains app
            CacheEvent(type: .modified, object: unlabelled, previous: labelled, recordedAt: .seconds(0)),  // loses it
        ]
        for (filled, appHasABit) in [(0, true), (62, true), (63, false)] {
            var table = Self.labelTable(filledWith: filled)
            var pairs = [EventLabelPairs](repeating: EventLabelPairs(), count: events.count)
            let digests = events.indices.map { EventDigest(events[$0], labels: &table, pairs: &pairs[$0]) }
            #expect((table.bit(of: "app") != nil) == appHasABit)
            for (selector, skipped) in [("!app", appHasABit ? [0, 1] : []), ("app", appHasABit ? [2] : []), ("app>1", appHasABit ? [2] : []), ("app!=web", appHasABit ? [0, 1] : []), ("app notin (db,web)", appHasABit ? [0, 1] : []), ("app in (db,x)", [0, 1, 2, 3, 4])] {
                let filter = try WatchFilter(resource: .pods, namespace: nil, labelSelector: selector, fieldSelector: nil)
                let scan = table.scan(for: filter.labels)
                let passedOver = digests.indices.filter { !filter.digestRequirement.mayConcern(digests[$0], selector: scan, pairs: pairs[$0]) }
                #expect(passedOver == skipped, "\(selector) with \(filled) keys met before")
                for i in passedOver { #expect(WatcherState.convert(events[i], filter: filter) == nil) }
            }
        }
    }
}
