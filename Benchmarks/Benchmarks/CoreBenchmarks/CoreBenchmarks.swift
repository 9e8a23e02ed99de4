import Benchmark
import CoreMetrics
import Prometheus
import Synchronization
import WatchCache

// Micro benchmarks of the core's hot paths. Setup happens outside the measured region; each
// measured region is one operation (or `scaledIterations` of them) on a prepared cache.

/// A pod of about 1 KiB, like a small real one.
func pod(_ i: Int, node: Int, version: UInt64) -> KubeObject {
    let json = #"""
    {"kind":"Pod","apiVersion":"v1","metadata":{"name":"pod-\#(i)","namespace":"ns-\#(i % 50)","uid":"6f1d2a3b-0000-4000-8000-\#(String(i).leftPad(12))","resourceVersion":"\#(version)","generation":1,"creationTimestamp":"2026-11-24T00:00:00Z","labels":{"app":"app-\#(i % 100)","tier":"backend","pod-template-hash":"5d8f9c7b6d"},"annotations":{"kubernetes.io/config.seen":"2026-11-24T00:00:00.000000000Z","kubernetes.io/config.source":"api"}},"spec":{"nodeName":"node-\#(node)","restartPolicy":"Always","schedulerName":"default-scheduler","serviceAccountName":"default","containers":[{"name":"app","image":"registry.example.com/team/app:1.2.3","ports":[{"containerPort":8080,"protocol":"TCP"}],"resources":{"requests":{"cpu":"100m","memory":"128Mi"},"limits":{"cpu":"500m","memory":"256Mi"}},"env":[{"name":"MODE","value":"production"},{"name":"REGION","value":"eu-west-1"}]}]},"status":{"phase":"Running","podIP":"10.0.\#(i % 250).\#(i % 200)","hostIP":"192.168.0.\#(node % 250)","startTime":"2026-11-24T00:00:01Z"}}
    """#
    return try! KubeObject(bytes: Array(json.utf8), resource: .pods)
}

extension String {
    func leftPad(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

/// A cache with a large window, so setups can keep 100k events.
func makeCache(watcherQueueLimit: Int? = nil, replay: WatchReplay = .indexed) -> ResourceCache {
    ResourceCache(resource: .pods, configuration: CacheConfiguration(
        history: HistoryWindow(minimumEvents: 100, maximumEvents: 131_072), watcherQueueLimit: watcherQueueLimit, watchReplay: replay))
}

func drain(_ w: Watcher) -> Int {
    var n = 0
    while true {
        let batch = w.next(maxEvents: 256)
        n += batch.events.count
        if batch.isPending || batch.end != nil { return n }
    }
}

/// A fixture built once, on first use, and shared by a benchmark's iterations (setup is not measured).
final class Shared<Value>: @unchecked Sendable {
    private let lock = Mutex<Void>(())
    private var built: Value?
    private let make: () -> Value
    init(_ make: @escaping () -> Value) { self.make = make }
    var value: Value {
        lock.withLock { _ in
            if let built { return built }
            let made = make()
            built = made
            return made
        }
    }
}

/// The core's counters are atomics like this one.
final class AtomicCounter: Sendable {
    let value = Atomic<UInt64>(0)
}

/// Hands out ever-increasing versions across benchmark iterations.
final class Versions: Sendable {
    private let next = Mutex<UInt64>(1)
    func take() -> UInt64 { next.withLock { v in defer { v += 1 }; return v } }
}

/// The append benchmark keeps one cache across iterations, so the log is full and wrapping.
let sharedAppendCache = makeCache()
let appendVersions = Versions()

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .throughput, .mallocCountTotal], maxDuration: .seconds(5), maxIterations: 200)

    // 1. Appending to the log: one change recorded, no watchers (includes the store update).
    Benchmark("EventLog append (1000 changes per iteration)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let cache = sharedAppendCache
        let objects = benchmark.scaledIterations.map { i in pod(i % 5000, node: i % 500, version: appendVersions.take()) }
        benchmark.startMeasurement()
        for o in objects { try! cache.apply(.put(o)) }
        benchmark.stopMeasurement()
    }

    // 2. Dispatching changes to N watchers, 1,000 changes per measured region: node-indexed (each
    //    change reaches only its node's watcher) and unindexed (each reaches all N). Queues are
    //    drained outside the measured region.
    for n in [10_000, 100_000] {
        let indexed = Shared {
            let cache = makeCache(watcherQueueLimit: 2000)
            let watchers = (0..<n).map { i in try! cache.watch(WatchOptions(resourceVersion: "0", fieldSelector: "spec.nodeName=node-\(i)")) {} }
            for w in watchers { _ = drain(w) }
            return (cache, watchers, Versions())
        }
        Benchmark("Dispatch to \(n / 1000)k node-indexed watchers (per change)", configuration: .init(scalingFactor: .kilo)) { benchmark in
            let (cache, watchers, versions) = indexed.value
            let objects = benchmark.scaledIterations.map { i in pod(i, node: (i * 7919) % n, version: versions.take()) }
            benchmark.startMeasurement()
            for o in objects { try! cache.apply(.put(o)) }
            benchmark.stopMeasurement()
            var delivered = 0
            for i in benchmark.scaledIterations { delivered += drain(watchers[(i * 7919) % n]) }
            precondition(delivered >= objects.count)
        }

        let unindexed = Shared {
            let cache = makeCache(watcherQueueLimit: 2000)
            let watchers = (0..<n).map { _ in try! cache.watch(WatchOptions(resourceVersion: "0")) {} }
            for w in watchers { _ = drain(w) }
            return (cache, watchers, Versions())
        }
        Benchmark("Dispatch to \(n / 1000)k unindexed watchers (per change)", configuration: .init(maxIterations: 30)) { benchmark in
            let (cache, watchers, versions) = unindexed.value
            let o = pod(1, node: 1, version: versions.take())
            benchmark.startMeasurement()
            try! cache.apply(.put(o))
            benchmark.stopMeasurement()
            var delivered = 0
            for w in watchers { delivered += drain(w) }
            precondition(delivered == n)
        }
    }

    // 3. Resuming a node-scoped watch 100,000 events back: kube-apiserver's scan examines every
    //    event (init events), 20 match; the indexed replay visits those 20.
    var resumeCaches: [WatchReplay: Shared<ResourceCache>] = [:]
    for replay in WatchReplay.allCases {
        let replayed = Shared {
            let cache = makeCache(replay: replay)
            for v in 1...100_000 { try! cache.apply(.put(pod(v % 20_000, node: v % 5000, version: UInt64(v)))) }
            return cache
        }
        resumeCaches[replay] = replayed
        Benchmark("Replay 100k events through a node filter (\(replay.rawValue))", configuration: .init(maxIterations: 50)) { benchmark in
            let cache = replayed.value
            benchmark.startMeasurement()
            let w = try! cache.watch(WatchOptions(resourceVersion: "1", fieldSelector: "spec.nodeName=node-7")) {}
            let matched = drain(w)
            benchmark.stopMeasurement()
            precondition(matched == 20)
            w.cancel()
        }
    }
    // 3b. The same resume through selectors that are not pinned, so both replays scan every event
    //     (on the indexed cache above): a label selector (its digest's label signature; 1,000
    //     match); `in` with two values (each event's digest must hold one of the two values' bits;
    //     2,000 match); `!app` (every pod has the label, none match: the digests' exact label
    //     keys pass over every event); `tier!=backend` (every pod has the value, none match: the
    //     label value ids beside the digests decide); kube-scheduler's
    //     `status.phase!=Succeeded,status.phase!=Failed` with Running pods (all match: every
    //     event after the resume's version, 99,999, is delivered); `status.phase!=Running` (none match: the field value ids decide);
    //     a field that is not indexed (`status.podIP`; 100 match).
    let labelled = resumeCaches[.indexed]!
    for (label, labelSelector, fieldSelector, expected) in [
        ("Replay 100k events through a label selector", "app=app-7", nil, 1000),
        ("Replay 100k events through a label selector with in (two values)", "app in (app-7,app-8)", nil, 2000),
        ("Replay 100k events through a label selector it cannot narrow (!app)", "!app", nil, 0),
        ("Replay 100k events through a label selector decided by value (tier!=backend)", "tier!=backend", nil, 0),
        ("Replay 100k events through a field selector decided by value (status.phase!=Running)", nil, "status.phase!=Running", 0),
        ("Replay 100k events through kube-scheduler's field selector (every event delivered)", nil, "status.phase!=Succeeded,status.phase!=Failed", 99_999),
        ("Replay 100k events through an unindexed field selector", nil, "status.podIP=10.0.7.7", 100),
    ] as [(String, String?, String?, Int)] {
        Benchmark(label, configuration: .init(maxIterations: 30)) { benchmark in
            let cache = labelled.value
            benchmark.startMeasurement()
            let w = try! cache.watch(WatchOptions(resourceVersion: "1", labelSelector: labelSelector, fieldSelector: fieldSelector)) {}
            let matched = drain(w)
            benchmark.stopMeasurement()
            precondition(matched == expected)
            w.cancel()
        }
    }

    // 4. LIST of 150,000 objects with a label selector (1% match), and with the indexed node field.
    let listed = Shared {
        let cache = makeCache()
        for i in 0..<150_000 { try! cache.apply(.put(pod(i, node: i % 5000, version: UInt64(i + 1)))) }
        return cache
    }
    for (label, options, expected) in [
        ("LIST 150k objects, labelSelector (1% match)", ListOptions(labelSelector: "app=app-7"), 1500),
        ("LIST 150k objects, fieldSelector spec.nodeName (30 match)", ListOptions(fieldSelector: "spec.nodeName=node-7"), 30),
        ("LIST 150k objects, page of 500", ListOptions(limit: 500), 500),
    ] {
        Benchmark(label, configuration: .init(maxIterations: 100)) { benchmark in
            let cache = listed.value
            let count = Mutex(0)
            benchmark.startMeasurement()
            cache.list(options) { result in count.withLock { $0 = try! result.get().items.count } }
            benchmark.stopMeasurement()
            precondition(count.withLock { $0 } == expected)
        }
    }

    // 6. What reporting a counter through swift-metrics adds to the core's hot paths (the cache
    //    counts every change, every delivered batch and every replayed event): a relaxed atomic add
    //    alone (before), with a swift-metrics Counter on the no-op factory (an embedding program that
    //    bootstraps nothing), and with swift-prometheus's factory. 1,000 increments per iteration.
    let prometheus = PrometheusMetricsFactory(registry: PrometheusCollectorRegistry())
    let dimensions = [("group", ""), ("version", "v1"), ("resource", "pods")]
    let counters: [(String, CoreMetrics.Counter?)] = [
        ("atomic add only", nil),
        ("atomic add + swift-metrics counter, no-op factory", CoreMetrics.Counter(label: "bench_noop_total", dimensions: dimensions, factory: NOOPMetricsHandler.instance)),
        ("atomic add + swift-metrics counter, swift-prometheus", CoreMetrics.Counter(label: "bench_prometheus_total", dimensions: dimensions, factory: prometheus)),
    ]
    for (name, counter) in counters {
        let atomic = AtomicCounter()
        Benchmark("Counter increment: \(name) (1000 per iteration)", configuration: .init(scalingFactor: .kilo)) { benchmark in
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                atomic.value.add(1, ordering: .relaxed)
                counter?.increment(by: 1)
            }
            benchmark.stopMeasurement()
            blackHole(atomic.value.load(ordering: .relaxed))
        }
    }
}
