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
                                           "spec.nodeName=n2,metadata.name=p2", "status.phase=Running", "spec.nodeName!=n1",
                                           "status.phase!=Running", "status.phase!=Succeeded,status.phase!=Pending,spec.nodeName!="]

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

    /// Events digested as a log digests them, and the log's tables.
    struct Digested {
        var labels: LabelTable
        var fields: FieldValueTable
        var digests: [EventDigest] = []
        var values: [EventValues] = []

        /// With a label table that met `keysMetBefore` keys no selector here names first (with 61,
        /// `app` and `tier` get the last two bits and `version` none; with 63, no selector key has
        /// one), and room for `maximumValues` values in each table.
        init(_ events: [CacheEvent], keysMetBefore: Int = 0, maximumValues: Int = 1 << 18) {
            labels = LabelTable(maximumValues: maximumValues)
            fields = FieldValueTable(maximumValues: maximumValues)
            for i in 0..<keysMetBefore { _ = labels.digest(of: LabelSet(["other-\(i)": "x"])) }
            for event in events {
                var values = EventValues()
                digests.append(EventDigest(event, labels: &labels, fields: &fields, values: &values))
                self.values.append(values)
            }
        }

        /// Whether a scan for `filter` reads the `i`th event.
        func mayConcern(_ i: Int, _ filter: WatchFilter) -> Bool {
            filter.digestRequirement.mayConcern(digests[i], labels: labels.scan(for: filter.labels), fields: fields.scan(for: filter.fields),
                                                values: values[i])
        }
    }

    /// With the label table empty, nearly full (61 keys met before), full (63), and with room for
    /// only a few values (most then without an id).
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
        let digested = Digested(events, keysMetBefore: keysMetBefore, maximumValues: maximumValues)
        for labels in Self.selectors {
            for fields in Self.fieldSelectors {
                for namespace in [nil, "ns1"] {
                    let filter = try WatchFilter(resource: .pods, namespace: namespace, labelSelector: labels, fieldSelector: fields)
                    for i in events.indices where WatcherState.convert(events[i], filter: filter) != nil {
                        let event = events[i]
                        #expect(digested.mayConcern(i, filter),
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
                if Digested([event]).mayConcern(0, filter) { passed += 1 }
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
            let digested = Digested(events, keysMetBefore: filled)
            #expect((digested.labels.bit(of: "app") != nil) == appHasABit)
            for (selector, skipped) in [("!app", appHasABit ? [0, 1] : []), ("app", appHasABit ? [2] : []), ("app>1", appHasABit ? [2] : []), ("app!=web", appHasABit ? [0, 1] : []), ("app notin (db,web)", appHasABit ? [0, 1] : []), ("app in (db,x)", [0, 1, 2, 3, 4])] {
                let filter = try WatchFilter(resource: .pods, namespace: nil, labelSelector: selector, fieldSelector: nil)
                let passedOver = events.indices.filter { !digested.mayConcern($0, filter) }
                #expect(passedOver == skipped, "\(selector) with \(filled) keys met before")
                for i in passedOver { #expect(WatcherState.convert(events[i], filter: filter) == nil) }
            }
        }
    }

    /// Field values are exact too: kube-scheduler's `status.phase!=Succeeded,status.phase!=Failed`
    /// passes over every event of a pod that finished before and after the change, and reads the
    /// others; with no room for ids it reads them all.
    @Test func fieldValuesSkipExactly() throws {
        func pod(_ phase: String, node: String = "n1") throws -> KubeObject {
            try KubeObject(json: Fixture.podJSON("a", node: node, phase: phase), resource: .pods)
        }
        let running = try pod("Running"), succeeded = try pod("Succeeded"), failed = try pod("Failed"), unscheduled = try pod("Pending", node: "")
        let events = [
            CacheEvent(type: .added, object: running, previous: nil, recordedAt: .seconds(0)),
            CacheEvent(type: .modified, object: succeeded, previous: running, recordedAt: .seconds(0)),  // leaves the selection
            CacheEvent(type: .modified, object: succeeded, previous: succeeded, recordedAt: .seconds(0)),
            CacheEvent(type: .deleted, object: failed, previous: failed, recordedAt: .seconds(0)),
            CacheEvent(type: .added, object: unscheduled, previous: nil, recordedAt: .seconds(0)),
        ]
        for (maximumValues, selector, skipped) in [
            (1 << 18, "status.phase!=Succeeded,status.phase!=Failed", [2, 3]),
            (1 << 18, "status.phase!=Succeeded,status.phase!=Failed,spec.nodeName!=", [2, 3, 4]),
            (1 << 18, "spec.restartPolicy!=", [0, 1, 2, 3, 4]),  // no pod here sets it: every value is ""
            (0, "status.phase!=Succeeded,status.phase!=Failed", []),
        ] {
            let digested = Digested(events, maximumValues: maximumValues)
            let filter = try WatchFilter(resource: .pods, namespace: nil, labelSelector: nil, fieldSelector: selector)
            let passedOver = events.indices.filter { !digested.mayConcern($0, filter) }
            #expect(passedOver == skipped, "\(selector) with room for \(maximumValues) values")
            for i in passedOver { #expect(WatcherState.convert(events[i], filter: filter) == nil) }
        }
    }
}
