/// The live watchers of one resource, indexed so that an event reaches only the watchers that can
/// care: those pinned to the event's old or new indexed-field value, those pinned to its object,
/// those scoped to its namespace, and the unscoped ones. Each watcher is in exactly one set.
struct WatcherIndex {
    private var byIndexValue: [String: WatcherSet] = [:]
    private var byKey: [String: WatcherSet] = [:]
    private var byNamespace: [String: WatcherSet] = [:]
    private var unscoped = WatcherSet()
    private(set) var count = 0

    mutating func insert(_ w: Watcher) {
        count += 1
        if let v = w.filter.indexValue { byIndexValue[v, default: WatcherSet()].insert(w) }
        else if let k = w.filter.key { byKey[k, default: WatcherSet()].insert(w) }
        else if let ns = w.filter.namespace { byNamespace[ns, default: WatcherSet()].insert(w) }
        else { unscoped.insert(w) }
    }

    mutating func remove(_ w: Watcher) {
        let removed: Bool
        if let v = w.filter.indexValue { removed = Self.remove(w, from: &byIndexValue, at: v) }
        else if let k = w.filter.key { removed = Self.remove(w, from: &byKey, at: k) }
        else if let ns = w.filter.namespace { removed = Self.remove(w, from: &byNamespace, at: ns) }
        else { removed = unscoped.remove(w) }
        if removed { count -= 1 }
    }

    private static func remove(_ w: Watcher, from sets: inout [String: WatcherSet], at value: String) -> Bool {
        guard var set = sets.removeValue(forKey: value) else { return false }
        let removed = set.remove(w)
        if !set.isEmpty { sets[value] = set }
        return removed
    }

    /// Calls `body` once for every watcher that may be interested in `event`.
    func forEachCandidate(for event: CacheEvent, _ body: (Watcher) -> Void) {
        unscoped.forEach(body)
        let object = event.object
        if !byNamespace.isEmpty, !object.namespace.isEmpty { byNamespace[object.namespace]?.forEach(body) }
        if !byKey.isEmpty { byKey[object.key]?.forEach(body) }
        if !byIndexValue.isEmpty {
            let newValue = object.indexedValue
            if let newValue { byIndexValue[newValue]?.forEach(body) }
            if let oldValue = event.previous?.indexedValue, oldValue != newValue { byIndexValue[oldValue]?.forEach(body) }
        }
    }

    /// Every live watcher.
    func forEach(_ body: (Watcher) -> Void) {
        unscoped.forEach(body)
        for set in byNamespace.values { set.forEach(body) }
        for set in byKey.values { set.forEach(body) }
        for set in byIndexValue.values { set.forEach(body) }
    }
}

/// A set of watchers with O(1) insert and remove and a dense array to iterate.
struct WatcherSet {
    private var members: [Watcher] = []
    private var positions: [ObjectIdentifier: Int] = [:]

    var isEmpty: Bool { members.isEmpty }

    mutating func insert(_ w: Watcher) {
        guard positions[ObjectIdentifier(w)] == nil else { return }
        positions[ObjectIdentifier(w)] = members.count
        members.append(w)
    }

    mutating func remove(_ w: Watcher) -> Bool {
        guard let i = positions.removeValue(forKey: ObjectIdentifier(w)) else { return false }
        let last = members.removeLast()
        if i < members.count {
            members[i] = last
            positions[ObjectIdentifier(last)] = i
        }
        return true
    }

    func forEach(_ body: (Watcher) -> Void) {
        for w in members { body(w) }
    }
}
