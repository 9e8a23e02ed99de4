import DequeModule

/// Where in the log the events of each indexed-field value, each namespace and each object are:
/// what lets a watcher pinned to one of them resume by visiting only those events instead of
/// scanning the whole window (``WatchReplay/indexed``).
///
/// An event is listed under the indexed values of the object before *and* after the change, so a
/// watcher sees every selector transition (the object entering its value, or leaving it). Each
/// list holds absolute log positions in ascending order; the log removes an event's entries when
/// it drops the event, which is then the front of each of its lists, so a list never holds more
/// than the window does and a value no longer written leaves no entry behind.
struct ReplayIndex {
    enum Dimension {
        case indexedValue, namespace, key
    }

    private var byValue: [String: Deque<Int>] = [:]
    private var byNamespace: [String: Deque<Int>] = [:]
    private var byKey: [String: Deque<Int>] = [:]

    /// Lists `event` at `position` (newer than every position listed).
    mutating func add(_ event: CacheEvent, at position: Int) {
        Self.forEachList(of: event) { dimension, value in
            switch dimension {
            case .indexedValue: byValue[value, default: []].append(position)
            case .namespace: byNamespace[value, default: []].append(position)
            case .key: byKey[value, default: []].append(position)
            }
        }
    }

    /// Unlists `event`, dropped from the log at `position` (the oldest position listed).
    mutating func remove(_ event: CacheEvent, at position: Int) {
        Self.forEachList(of: event) { dimension, value in
            switch dimension {
            case .indexedValue: Self.dropFront(position, value, from: &byValue)
            case .namespace: Self.dropFront(position, value, from: &byNamespace)
            case .key: Self.dropFront(position, value, from: &byKey)
            }
        }
    }

    /// The positions of the events listed under `value`, oldest first.
    func positions(_ dimension: Dimension, _ value: String) -> Deque<Int> {
        switch dimension {
        case .indexedValue: byValue[value] ?? []
        case .namespace: byNamespace[value] ?? []
        case .key: byKey[value] ?? []
        }
    }

    /// How many values have events listed, per dimension (for tests and statistics).
    var listCounts: (indexedValues: Int, namespaces: Int, keys: Int) { (byValue.count, byNamespace.count, byKey.count) }

    private static func forEachList(of event: CacheEvent, _ body: (Dimension, String) -> Void) {
        let object = event.object
        body(.key, object.key)
        if !object.namespace.isEmpty { body(.namespace, object.namespace) }
        let now = object.indexedValue
        let before = event.previous?.indexedValue
        if let now { body(.indexedValue, now) }
        if let before, before != now { body(.indexedValue, before) }
    }

    private static func dropFront(_ position: Int, _ value: String, from lists: inout [String: Deque<Int>]) {
        guard var list = lists.removeValue(forKey: value) else { preconditionFailure("an event dropped from the log was not listed") }
        precondition(list.first == position, "events leave the log oldest first")
        list.removeFirst()
        if !list.isEmpty { lists[value] = list }
    }
}

/// How a resuming watch finds the events it missed in the log.
public enum WatchReplay: String, Sendable, Hashable, CaseIterable {
    /// Every event since the watch's version, matching or not — kube-apiserver's replay, the cost
    /// bookmarks shorten (KEP-956).
    case scan
    /// For a watch pinned to an indexed value, a name or a namespace, only the events of that
    /// value (before or after the change); a watch without such a pin scans.
    case indexed
}
