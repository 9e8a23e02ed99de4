import Testing
@testable import WatchCache

/// Random writes, random watchers and a reference model: every watcher's stream must be exactly
/// the filtered history after its start (no duplicate, no gap, right transition types and
/// objects), bookmarks must sit exactly where the history they claim is complete, and every 410
/// must come exactly when the start version left the history window.
@Suite struct ModelTests {
    struct Pod: Equatable { var namespace: String; var name: String; var node: String; var app: String }

    struct Entry {
        var rv: UInt64
        var key: String
        var new: Pod?   // nil: deleted
        var old: Pod?   // nil: created
    }

    struct Filter {
        var namespace: String?
        var node: String?
        /// `spec.nodeName!=` this.
        var notNode: String?
        var name: String?
        var apps: [String]?
        var notApp: String?
        /// `app` (true) or `!app` (false).
        var hasApp: Bool?

        func matches(_ p: Pod) -> Bool {
            if let namespace, p.namespace != namespace { return false }
            if let node, p.node != node { return false }
            if let notNode, p.node == notNode { return false }
            if let name, p.name != name { return false }
            if let apps, !apps.contains(p.app) { return false }
            if let notApp, p.app == notApp { return false }
            if let hasApp, p.app.isEmpty == hasApp { return false }
            return true
        }

        var labelSelector: String? {
            var parts: [String] = []
            if let apps { parts.append(apps.count == 1 ? "app=\(apps[0])" : "app in (\(apps.joined(separator: ",")))") }
            if let notApp { parts.append("app!=\(notApp)") }
            if let hasApp { parts.append(hasApp ? "app" : "!app") }
            return parts.isEmpty ? nil : parts.joined(separator: ",")
        }
        var fieldSelector: String? {
            let parts = [node.map { "spec.nodeName=\($0)" }, notNode.map { "spec.nodeName!=\($0)" }, name.map { "metadata.name=\($0)" }].compactMap { $0 }
            return parts.isEmpty ? nil : parts.joined(separator: ",")
        }
    }

    /// What a client expects, in order.
    struct Expected: Equatable {
        var type: EventType
        var name: String
        var namespace: String
        var rv: UInt64
        var pod: Pod
    }

    enum Start { case after(UInt64), snapshot(UInt64), watchList(UInt64) }

    final class Client {
        let filter: Filter
        let bookmarks: Bool
        let watchList: Bool
        var watcher: Watcher!
        var start: Start = .after(0)
        var received: [WatchEvent] = []
        var lastRV: UInt64 = 0
        var ended: WatchEndReason?
        var sessions = 0
        /// The model's window start when the current session began (what a 410 must name).
        var resumableFromAtStart: UInt64 = 0
        init(filter: Filter, bookmarks: Bool, watchList: Bool) {
            self.filter = filter
            self.bookmarks = bookmarks
            self.watchList = watchList
        }
    }

    struct Model {
        var history: [Entry] = []
        var capacity: Int
        var pods: [String: Pod] = [:]

        /// The oldest version a watch may resume after.
        var resumableFrom: UInt64 { history.count > capacity ? history[history.count - capacity].rv - 1 : 0 }

        func state(at version: UInt64) -> [String: Pod] {
            var state: [String: Pod] = [:]
            for e in history where e.rv <= version { state[e.key] = e.new }
            return state
        }

        func lastChange(of key: String, at version: UInt64) -> UInt64 {
            history.last { $0.key == key && $0.rv <= version }!.rv
        }

        func expected(_ client: Client) -> [Expected] {
            var out: [Expected] = []
            let after: UInt64
            switch client.start {
            case .after(let rv): after = rv
            case .snapshot(let v), .watchList(let v):
                after = v
                for (key, pod) in state(at: v).sorted(by: { $0.key < $1.key }) where client.filter.matches(pod) {
                    out.append(Expected(type: .added, name: pod.name, namespace: pod.namespace, rv: lastChange(of: key, at: v), pod: pod))
                }
            }
            for e in history where e.rv > after {
                let newMatches = e.new.map(client.filter.matches) ?? false
                let oldMatches = e.old.map(client.filter.matches) ?? false
                switch (newMatches, oldMatches) {
                case (true, false): out.append(Expected(type: .added, name: e.new!.name, namespace: e.new!.namespace, rv: e.rv, pod: e.new!))
                case (true, true): out.append(Expected(type: .modified, name: e.new!.name, namespace: e.new!.namespace, rv: e.rv, pod: e.new!))
                case (false, true): out.append(Expected(type: .deleted, name: e.old!.name, namespace: e.old!.namespace, rv: e.rv, pod: e.old!))
                case (false, false): break
                }
            }
            return out
        }
    }

    static func pod(from object: KubeObject) -> Pod {
        Pod(namespace: object.namespace, name: object.name, node: object.fieldValue("spec.nodeName")!, app: object.labels["app"] ?? "")
    }

    /// The server's modes: kube-apiserver's (scan replay, slow watchers ended) and ours (indexed
    /// replay, slow watchers parked), and the two mixed.
    static let modes: [(replay: WatchReplay, slow: SlowWatcherPolicy)] = [(.scan, .terminate), (.indexed, .park), (.scan, .park), (.indexed, .terminate)]

    /// Every run in every mode.
    @Test(arguments: [(UInt64(1), 1, 0), (2, 4, 2), (3, 16, 3), (4, 64, 0), (5, 7, 100)], Self.modes)
    func streamsMatchTheFilteredHistory(run: (seed: UInt64, capacity: Int, queueLimit: Int),
                                        mode: (replay: WatchReplay, slow: SlowWatcherPolicy)) throws {
        let (seed, capacity, queueLimit) = run
        var rng = SplitMix64(seed: seed)
        let f = Fixture(configuration: CacheConfiguration(
            history: HistoryWindow(minimumEvents: capacity, maximumEvents: capacity),
            watcherQueueLimit: queueLimit == 0 ? nil : queueLimit, replayChunk: 5, watchReplay: mode.replay, slowWatchers: mode.slow))
        var model = Model(capacity: capacity)
        let namespaces = ["ns0", "ns1"], nodes = ["n0", "n1", "n2", ""], apps = ["a", "b", "c"]

        func randomFilter() -> Filter {
            var filter = Filter()
            if rng.next() % 3 == 0 { filter.namespace = namespaces.randomElement(using: &rng) }
            switch rng.next() % 4 {
            case 0, 1: filter.node = nodes.randomElement(using: &rng)
            case 2: filter.notNode = nodes.randomElement(using: &rng)
            default: break
            }
            if rng.next() % 6 == 0 { filter.name = "p\(rng.next() % 12)" }
            switch rng.next() % 6 {
            case 0: filter.apps = [apps.randomElement(using: &rng)!]
            case 1: filter.apps = ["a", "c"]
            case 2: filter.notApp = "b"
            case 3: filter.hasApp = true
            case 4: filter.hasApp = false
            default: break
            }
            return filter
        }

        var seen: [String: Int] = [:]
        func check(_ client: Client) {
            switch client.ended {
            case .error(let s)?: seen["\(s.code)", default: 0] += 1
            case let other?: seen["\(other)", default: 0] += 1
            case nil: break
            }
            for e in client.received where e.type == .bookmark { seen[e.isInitialEventsEnd ? "end-bookmark" : "bookmark", default: 0] += 1 }
            let expected = model.expected(client)
            var events: [WatchEvent] = []
            var bookmarks: [(index: Int, event: WatchEvent)] = []
            for e in client.received {
                if e.type == .bookmark { bookmarks.append((events.count, e)) } else { events.append(e) }
            }
            if case .error(let status) = client.ended, status.code == 410 {
                // Only when the start version really left the window.
                guard case .after(let rv) = client.start else { Issue.record("410 on a snapshot start"); return }
                #expect(events.count == 1 && events[0].type == .error)
                #expect(status.message == "too old resource version: \(rv) (\(client.resumableFromAtStart))")
                return
            }
            let got = events.map { Expected(type: $0.type, name: $0.object!.name, namespace: $0.object!.namespace,
                                            rv: $0.resourceVersion.rawValue, pod: Self.pod(from: $0.object!)) }
            #expect(got.count <= expected.count, "seed \(seed): more events than the history holds")
            #expect(Array(expected.prefix(got.count)) == got, "seed \(seed): stream differs from the model")
            for (index, bookmark) in bookmarks {
                let rv = bookmark.resourceVersion.rawValue
                if case .watchList(let v) = client.start, bookmark.isInitialEventsEnd {
                    #expect(rv == v)
                    let snapshotCount = model.state(at: v).values.filter(client.filter.matches).count
                    #expect(index == snapshotCount, "end-of-initial-events bookmark not right after the initial events")
                    continue
                }
                // Everything up to the bookmark's version was delivered before it, nothing newer.
                let snapshotCount: Int
                switch client.start {
                case .after: snapshotCount = 0
                case .snapshot(let v), .watchList(let v): snapshotCount = model.state(at: v).values.filter(client.filter.matches).count
                }
                let complete = snapshotCount + expected.dropFirst(snapshotCount).filter { $0.rv <= rv }.count
                #expect(index == complete, "seed \(seed): bookmark \(rv) after \(index) events, expected after \(complete)")
            }
        }

        func connect(_ client: Client, relist: Bool) throws {
            client.sessions += 1
            client.received = []
            client.ended = nil
            // Timeouts drawn like client-go's, over [T, 2T).
            var options = WatchOptions(allowWatchBookmarks: client.bookmarks, timeoutSeconds: 30 + Int(rng.next() % 30),
                                       labelSelector: client.filter.labelSelector,
                                       fieldSelector: client.filter.fieldSelector, namespace: client.filter.namespace)
            // Resuming "after 0" is not expressible: resourceVersion=0 means "any state" (a snapshot).
            if relist || client.lastRV == 0 {
                let version = f.registry.currentVersion.rawValue
                if client.watchList && client.bookmarks {
                    options.sendInitialEvents = true
                    options.resourceVersionMatch = "NotOlderThan"
                    client.start = .watchList(version)
                } else {
                    options.resourceVersion = "0"
                    client.start = .snapshot(version)
                }
                client.lastRV = version
            } else {
                options.resourceVersion = String(client.lastRV)
                client.start = .after(client.lastRV)
                client.resumableFromAtStart = model.resumableFrom
            }
            client.watcher = try f.watchPods(options)
        }

        var clients: [Client] = []
        for _ in 0..<12 {
            let c = Client(filter: randomFilter(), bookmarks: rng.next() % 2 == 0, watchList: rng.next() % 2 == 0)
            clients.append(c)
            try connect(c, relist: true)
        }

        for step in 0..<1500 {
            // A write: create, update (moving across nodes and labels), delete, or another resource.
            let name = "p\(rng.next() % 12)", namespace = namespaces.randomElement(using: &rng)!
            let key = "\(namespace)/\(name)"
            // "": no app label (what `app` and `!app` tell apart).
            let newPod = Pod(namespace: namespace, name: name, node: nodes.randomElement(using: &rng)!, app: (apps + [""]).randomElement(using: &rng)!)
            let old = model.pods[key]
            switch rng.next() % 10 {
            case 0...5:
                let json = Fixture.podJSON(name, namespace: namespace, node: newPod.node, labels: newPod.app.isEmpty ? [:] : ["app": newPod.app])
                let o = old == nil ? try f.registry.create(json, in: .pods) : try f.registry.update(json, in: .pods)
                model.history.append(Entry(rv: o.resourceVersion.rawValue, key: key, new: newPod, old: old))
                model.pods[key] = newPod
            case 6...7 where old != nil:
                let o = try f.registry.delete(.pods, namespace: namespace, name: name)
                model.history.append(Entry(rv: o.resourceVersion.rawValue, key: key, new: nil, old: old))
                model.pods[key] = nil
            default:
                _ = try? f.registry.create(JSONObject(parsing: #"{"metadata":{"name":"c\#(step)"}}"#), in: .configMaps)
            }

            // Time passes: bookmarks, deadlines, the slow-watcher budget.
            if rng.next() % 4 == 0 { f.advance(.milliseconds(Int64(rng.next() % 20_000))) }

            // Clients read at their own pace; a finished stream reconnects like client-go.
            for c in clients where rng.next() % 3 == 0 {
                let batch = c.watcher.next(maxEvents: Int(rng.next() % 6) + 1)
                c.received += batch.events
                for e in batch.events where e.type != .error { c.lastRV = max(c.lastRV, e.resourceVersion.rawValue) }
                if let end = batch.end {
                    c.ended = end
                    check(c)
                    if case .error(let s) = end, s.code == 410 { try connect(c, relist: true) } else { try connect(c, relist: false) }
                }
            }
        }
        for c in clients {
            while true {
                let batch = c.watcher.next(maxEvents: 100)
                c.received += batch.events
                if let end = batch.end { c.ended = end }
                if batch.events.isEmpty { break }
            }
            check(c)
            if c.ended == nil {
                // A live watcher that was drained has everything: the whole expected stream.
                let delivered = c.received.filter { $0.type != .bookmark }.count
                #expect(delivered == model.expected(c).count, "seed \(seed): a drained watcher is missing events")
            }
        }
        let parked = f.pods.statistics().watchersParked
        print("model seed \(seed) capacity \(capacity) queueLimit \(queueLimit) \(mode): \(seen.sorted { $0.key < $1.key }), parked \(parked)")
        // The run must have exercised what it is meant to check.
        #expect(seen["bookmark", default: 0] > 0 && seen["timeout", default: 0] > 0)
        if capacity <= 16 {
            #expect(seen["410", default: 0] > 0 && seen["historyLost", default: 0] > 0)
            if clients.contains(where: { $0.watchList && $0.bookmarks }) { #expect(seen["end-bookmark", default: 0] > 0) }
        }
        if queueLimit > 0 && queueLimit < 10 {
            // Slow readers: ended, or parked and caught up again — never both.
            if mode.slow == .terminate {
                #expect(seen["terminatedSlow", default: 0] > 0 && parked == 0)
            } else {
                #expect(parked > 0 && seen["terminatedSlow", default: 0] == 0)
            }
        }
    }
}
