import Foundation
import Synchronization
import WatchCache
import WatchCacheSQLite

/// Runs one workload point against the library on a virtual clock: deterministic for a seed, and
/// as fast as the work itself (no waiting for time to pass).
///
/// Every figure comes from the library's own counters (init events from
/// ``ResourceCache/statistics()``, deltas around each reconnect) or from what the simulated clients
/// received; server CPU is the thread CPU time spent inside library calls.
public final class InProcessRecoveryRun {
    public let parameters: RecoveryParameters
    public let bookmarks: Bool
    /// Called with the fraction of the run done (virtual time), now and then.
    public var progress: ((Double) -> Void)?

    public init(parameters: RecoveryParameters, bookmarks: Bool) {
        self.parameters = parameters
        self.bookmarks = bookmarks
    }

    // MARK: - State of a run

    /// With a directory, the registry keeps its objects and history in a durable ``SQLiteStorage``
    /// there, and a restart reopens it — the server-restart scenario. Without, it keeps nothing.
    public var dataDirectory: String?

    private var clock = ManualClock()
    private var storage: SQLiteStorage?
    private var registry: Registry!
    private var cache: ResourceCache!
    private var clients: [ReconnectingWatcher] = []
    private var watchers: [Watcher?] = []
    private let ready = ReadyList()
    private var actions = ActionQueue()
    private var rng = SplitMix64(seed: 1)
    private var buffer: [WatchEvent] = []
    private var cpu = CPUStopwatch()
    private var now = 0.0

    // Counted-phase figures.
    private var counting = false
    private var perReconnect: [Double] = []
    private var watchBytes = 0.0
    private var relistBytes = 0.0
    private var writes = 0

    private var configuration: CacheConfiguration {
        let f = parameters.compression
        let window = parameters.windowEvents.map { HistoryWindow(minimumEvents: $0, maximumEvents: $0, freshness: .seconds(75 / f)) }
            ?? HistoryWindow(freshness: .seconds(75 / f))
        return CacheConfiguration(history: window, bookmarkInterval: .seconds(parameters.bookmarkInterval / f),
                                  bookmarkLead: .seconds(parameters.bookmarkLead / f), timerResolution: .seconds(1 / f),
                                  watchReplay: parameters.replay)
    }

    /// Runs the point and returns what the counted phase measured.
    public func run() throws -> RecoveryMeasurement {
        let wallStart = CPUTime.wall()
        let p = parameters
        let f = p.compression
        rng = SplitMix64(seed: p.seed &+ (bookmarks ? 0x5EED : 0))
        let start = 1000.0
        now = start
        clock = ManualClock(start: .seconds(start))
        if let dataDirectory { storage = try SQLiteStorage(directory: dataDirectory, sync: .batch) }
        registry = try Registry(storage: storage ?? InMemoryStorage(), configuration: configuration, clock: clock)
        cache = try registry.register(.pods)

        let workload = PodWorkload(watchers: p.watchers, objectsPerWatcher: p.objectsPerWatcher)
        var revisions = [Int](repeating: 0, count: workload.objects)
        try populate(workload)
        clients = (0..<p.watchers).map { node in
            ReconnectingWatcher(node: p.selective ? node : nil, allowBookmarks: bookmarks, minTimeout: p.watchTimeout / f,
                                relistBackoff: p.relistBackoff / f)
        }
        watchers = Array(repeating: nil, count: p.watchers)
        // Watchers start within the first minute, at random moments (a fleet coming up), so their
        // bookmark and timeout schedules are not in lockstep.
        for c in clients.indices {
            actions.schedule(at: start + Double.random(in: 0..<(60 / f), using: &rng), client: c, action: .list)
        }

        // Writes arrive as a Poisson process of rate R (uniform spacing would alias with the ticks).
        let writeRate = p.writesPerSecond * f
        func writeGap() -> Double { -log(1 - Double.random(in: 0..<1, using: &rng)) / writeRate }
        let tickInterval = 0.1 / f
        let countFrom = start + p.warmup / f
        let end = countFrom + p.measured / f
        let restartTime = p.restartAt.map { countFrom + $0 / f }
        var restarted = false
        var nextWrite = start + writeGap()
        var nextTick = start + tickInterval
        // The server's init-event counter over the counted phase (a restart starts a new counter).
        var initBaseline: UInt64 = 0
        var initCarried = 0.0
        var cpuAtCount = 0.0
        var storm = (seconds: 0.0, initEvents: 0.0)
        var lastProgress = start

        while now < end {
            if !counting, now >= countFrom {
                counting = true
                for c in clients.indices { clients[c].resetCounters() }
                initBaseline = cache.statistics().initEvents
                cpuAtCount = cpu.seconds
            }
            if let restartTime, !restarted, now >= restartTime {
                restarted = true
                initCarried += Double(cache.statistics().initEvents - initBaseline)
                initBaseline = 0
                storm = try restart()
            }
            let nextAction = actions.nextTime ?? .infinity
            now = min(nextWrite, nextTick, nextAction)
            clock.advance(to: .seconds(now))
            if now == nextAction {
                while let due = actions.popDue(now: now) { try perform(due.client, due.action) }
            } else if now == nextWrite {
                let i = Int.random(in: 0..<workload.objects, using: &rng)
                revisions[i] += 1
                let pod = workload.pod(i, revision: revisions[i])
                _ = try cpu.measure { try registry.update(pod, in: .pods, namespace: PodWorkload.namespace) }
                if counting { writes += 1 }
                nextWrite += writeGap()
            } else {
                cpu.measure { cache.tick() }
                nextTick += tickInterval
            }
            try drainReady()
            if let progress, now - lastProgress > (end - start) / 200 {
                lastProgress = now
                progress((now - start) / (end - start))
            }
        }

        let initTotal = initCarried + Double(cache.statistics().initEvents - initBaseline)
        let measurement = RecoveryMeasurement(
            parameters: p, bookmarks: bookmarks, mode: "in-process",
            reconnects: perReconnect.count,
            initEventsPerReconnect: Distribution(perReconnect),
            initEventsTotal: initTotal,
            serverCPUSeconds: cpu.seconds - cpuAtCount,
            watchBytes: watchBytes,
            expired: clients.reduce(0) { $0 + $1.expiredCount },
            relists: clients.reduce(0) { $0 + $1.relists },
            relistBytes: relistBytes,
            bookmarksReceived: clients.reduce(0) { $0 + $1.bookmarks },
            writes: writes,
            stormCatchUpSeconds: 0, stormInitEvents: 0, wallSeconds: 0)
        // Without a restart, end with a reconnect storm: every watcher drops and resumes at once.
        counting = false
        if !restarted { storm = try reconnectStorm() }
        progress?(1)
        var result = measurement
        result.stormCatchUpSeconds = storm.seconds
        result.stormInitEvents = storm.initEvents
        result.wallSeconds = CPUTime.wall() - wallStart
        registry.close()
        try storage?.close()
        return result
    }

    /// Creates the pods without waiting for each (a durable storage commits them in groups).
    private func populate(_ workload: PodWorkload) throws {
        let failure = Mutex<Status?>(nil)
        let group = DispatchGroup()
        for i in 0..<workload.objects {
            group.enter()
            registry.create(workload.pod(i, revision: 0), in: .pods, namespace: PodWorkload.namespace) { result in
                if case .failure(let status) = result { failure.withLock { $0 = $0 ?? status } }
                group.leave()
            }
        }
        group.wait()
        if let status = failure.withLock({ $0 }) { throw BenchError("creating the pods failed: \(status.message)") }
    }

    // MARK: - Client actions

    private func perform(_ c: Int, _ action: ReconnectingWatcher.Action) throws {
        switch action {
        case .watch(let version, let timeout):
            try watch(c, from: version, timeoutSeconds: timeout)
        case .list:
            try list(c, initial: true)
        case .relist:
            clients[c].countRelist()
            try list(c, initial: false)
        }
    }

    /// LIST the watcher's pods from the cache (RV 0 first, then not older than its last version).
    private func list(_ c: Int, initial: Bool) throws {
        let options = ListOptions(resourceVersion: initial ? "0" : clients[c].lastVersion.description,
                                  resourceVersionMatch: initial ? nil : "NotOlderThan",
                                  fieldSelector: PodWorkload.fieldSelector(node: clients[c].node), namespace: PodWorkload.namespace)
        let (list, bytes) = try cpu.measure { () throws -> (ListResult, Int) in
            let list = try listNow(options)
            return (list, list.encoded(for: .pods).count)
        }
        if counting, !initial { relistBytes += Double(bytes) }
        let next = clients[c].listed(at: list.resourceVersion, using: &rng)
        try perform(c, next)
    }

    /// A LIST the cache answers at once (every version asked for here has been reached).
    private func listNow(_ options: ListOptions) throws -> ListResult {
        let box = ListBox()
        cache.list(options) { result in box.result.withLock { $0 = result } }
        switch box.result.withLock({ $0 }) {
        case .success(let list)?: return list
        case .failure(let status)?: throw BenchError("LIST failed: \(status)")
        case nil: throw BenchError("LIST did not complete at once")
        }
    }

    private func watch(_ c: Int, from version: ResourceVersion, timeoutSeconds: Int) throws {
        let options = WatchOptions(resourceVersion: version.description, allowWatchBookmarks: bookmarks, timeoutSeconds: timeoutSeconds,
                                   fieldSelector: PodWorkload.fieldSelector(node: clients[c].node), namespace: PodWorkload.namespace)
        let before = cache.statistics().initEvents
        let ready = self.ready
        let cache = self.cache!
        watchers[c] = try cpu.measure { () throws(Status) -> Watcher in try cache.watch(options) { ready.append(c) } }
        try drain(c)
        if counting { perReconnect.append(Double(cache.statistics().initEvents - before)) }
    }

    private func drainReady() throws {
        while let c = ready.pop() { try drain(c) }
    }

    /// Pulls everything the watcher has; on its end, decides the next step.
    private func drain(_ c: Int) throws {
        guard let w = watchers[c] else { return }
        while true {
            buffer.removeAll(keepingCapacity: true)
            let end = cpu.measure { w.next(into: &buffer, maxEvents: 256) }
            for e in buffer {
                clients[c].receive(e.type, version: e.resourceVersion, code: e.status?.code)
                if counting { watchBytes += Double(e.linePrefix.count + e.body.count + WatchEvent.lineSuffix.count) }
            }
            if end != nil {
                watchers[c] = nil
                switch clients[c].streamEnded(using: &rng) {
                case .relist(let delay): actions.schedule(at: now + delay, client: c, action: .relist(delay: delay))
                case let action: actions.schedule(at: now, client: c, action: action)
                }
                return
            }
            if buffer.isEmpty { return }
        }
    }

    // MARK: - Storms

    /// Every watcher drops at once and resumes from its last version; returns the wall-clock time
    /// until all have caught up and the init events that took.
    private func reconnectStorm() throws -> (seconds: Double, initEvents: Double) {
        let before = cache.statistics().initEvents
        let start = CPUTime.wall()
        for c in watchers.indices {
            guard let w = watchers[c] else { continue }
            w.cancel()
            watchers[c] = nil
            let action = clients[c].streamEnded(using: &rng)
            actions.schedule(at: now, client: c, action: action)
        }
        try settle()
        return (CPUTime.wall() - start, Double(cache.statistics().initEvents - before))
    }

    /// The server restarts: the registry and its storage close, a new registry opens the data
    /// directory — objects, version and history, which refills the window — and every watcher
    /// resumes against it from its last version. Without a data directory the restart keeps the
    /// objects and the version only (what kube-apiserver gets from etcd: an empty window).
    private func restart() throws -> (seconds: Double, initEvents: Double) {
        let start = CPUTime.wall()
        let old = registry!
        if let dataDirectory {
            old.close()
            try storage?.close()
            storage = try SQLiteStorage(directory: dataDirectory, sync: .batch)
            registry = try Registry(storage: storage!, configuration: configuration, clock: clock)
        } else {
            let all = try listNow(ListOptions())
            let recovery = StorageRecovery(version: registry.currentVersion, objects: [ResourceDescriptor.pods.description: all.items.map(\.encoded)])
            registry = try Registry(storage: SnapshotStorage(recovery: recovery), configuration: configuration, clock: clock)
            old.close()
        }
        cache = try registry.register(.pods)
        try drainReady()
        let before = cache.statistics().initEvents
        try settle()
        return (CPUTime.wall() - start, Double(cache.statistics().initEvents - before))
    }

    /// Performs every pending client action now (backoffs skipped) until every watcher is live.
    private func settle() throws {
        while let due = actions.popAny() {
            try perform(due.client, due.action)
            try drainReady()
        }
    }
}

/// Starts a registry from a fixed recovery (objects and version, no history): a restarted server
/// whose objects survived and whose history did not.
struct SnapshotStorage: Storage {
    let recovery: StorageRecovery
    func recover(historyLimit: Int) throws -> StorageRecovery { recovery }
    func persist(_ writes: [StoredWrite]) throws {}
    var persistsInline: Bool { true }
}

/// Watchers with events waiting, as their `onReady` callbacks report them.
final class ReadyList: Sendable {
    private let items = Mutex<[Int]>([])
    func append(_ c: Int) { items.withLock { $0.append(c) } }
    func pop() -> Int? { items.withLock { $0.popLast() } }
}

final class ListBox: Sendable {
    let result = Mutex<Result<ListResult, Status>?>(nil)
}

/// Client actions by due time (then in scheduling order).
struct ActionQueue {
    struct Entry {
        var time: Double
        var sequence: Int
        var client: Int
        var action: ReconnectingWatcher.Action
    }
    private var heap: [Entry] = []
    private var sequence = 0

    var nextTime: Double? { heap.first?.time }

    mutating func schedule(at time: Double, client: Int, action: ReconnectingWatcher.Action) {
        sequence += 1
        heap.append(Entry(time: time, sequence: sequence, client: client, action: action))
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard Self.before(heap[i], heap[parent]) else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    mutating func popDue(now: Double) -> Entry? {
        guard let first = heap.first, first.time <= now else { return nil }
        return popAny()
    }

    mutating func popAny() -> Entry? {
        guard !heap.isEmpty else { return nil }
        let top = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count, Self.before(heap[l], heap[m]) { m = l }
                if r < heap.count, Self.before(heap[r], heap[m]) { m = r }
                if m == i { break }
                heap.swapAt(i, m)
                i = m
            }
        }
        return top
    }

    private static func before(_ a: Entry, _ b: Entry) -> Bool {
        a.time < b.time || (a.time == b.time && a.sequence < b.sequence)
    }
}

/// A benchmark that cannot go on.
public struct BenchError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
