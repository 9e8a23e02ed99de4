/// The current state of one resource: every object by key, the keys in sorted order (for LIST
/// pages and synthetic ADDED events, which Kubernetes orders by key), and a secondary index on the
/// resource's indexed field.
///
/// Sorted order is kept lazily: new keys collect in an unsorted tail and are merged in on the next
/// ordered read, so a burst of creates costs one sort, not one array insertion each.
struct ObjectStore {
    private(set) var objects: [String: KubeObject] = [:]
    private var sortedKeys: [String] = []
    /// Keys created since the last merge (unsorted).
    private var newKeys: [String] = []
    /// Keys deleted since the last merge (still present in `sortedKeys`).
    private var removedSinceMerge = 0
    /// Indexed-field value → keys of the objects with that value.
    private(set) var index: [String: Set<String>] = [:]
    let indexed: Bool

    init(resource: ResourceDescriptor) {
        indexed = resource.indexedField != nil
    }

    /// A store of `objects` (a refill: no rehashing as it grows).
    init(resource: ResourceDescriptor, objects: [KubeObject]) {
        self.init(resource: resource)
        self.objects.reserveCapacity(objects.count)
        newKeys.reserveCapacity(objects.count)
        for o in objects { put(o) }
    }

    var count: Int { objects.count }

    subscript(key: String) -> KubeObject? { objects[key] }

    /// Stores `object` under its key, returning the object it replaced.
    @discardableResult
    mutating func put(_ object: KubeObject) -> KubeObject? {
        let old = objects.updateValue(object, forKey: object.key)
        if old == nil { newKeys.append(object.key) }
        if indexed {
            let oldValue = old?.indexedValue, newValue = object.indexedValue
            if oldValue != newValue {
                if let oldValue { removeFromIndex(oldValue, object.key) }
                if let newValue { index[newValue, default: []].insert(object.key) }
            } else if old == nil, let newValue {
                index[newValue, default: []].insert(object.key)
            }
        }
        return old
    }

    /// Removes the object under `key`, returning it.
    @discardableResult
    mutating func remove(_ key: String) -> KubeObject? {
        guard let old = objects.removeValue(forKey: key) else { return nil }
        removedSinceMerge += 1
        if indexed, let value = old.indexedValue { removeFromIndex(value, key) }
        return old
    }

    private mutating func removeFromIndex(_ value: String, _ key: String) {
        index[value]?.remove(key)
        if index[value]?.isEmpty == true { index[value] = nil }
    }

    /// Every key in ascending order.
    mutating func orderedKeys() -> [String] {
        if !newKeys.isEmpty || removedSinceMerge > 0 { merge() }
        return sortedKeys
    }

    /// Keys of the objects whose indexed field equals `value`, ascending.
    func keys(indexedBy value: String) -> [String] {
        (index[value] ?? []).sorted()
    }

    private mutating func merge() {
        newKeys.sort()
        var merged: [String] = []
        merged.reserveCapacity(objects.count)
        var i = 0, j = 0
        let existing = sortedKeys
        while i < existing.count || j < newKeys.count {
            let next: String
            if j >= newKeys.count || (i < existing.count && existing[i] < newKeys[j]) {
                next = existing[i]; i += 1
            } else {
                next = newKeys[j]; j += 1
            }
            // Drop keys deleted since, and duplicates from a delete-then-recreate.
            if objects[next] != nil, merged.last != next { merged.append(next) }
        }
        sortedKeys = merged
        newKeys.removeAll(keepingCapacity: true)
        removedSinceMerge = 0
    }
}

extension ObjectStore {
    /// Keys in `namespace`, ascending: a contiguous range of the sorted keys (`ns/...`).
    mutating func keys(inNamespace namespace: String) -> [String] {
        let all = orderedKeys()
        let prefix = namespace + "/"
        var low = 0, high = all.count
        while low < high {
            let mid = (low + high) / 2
            if all[mid] < prefix { low = mid + 1 } else { high = mid }
        }
        var keys: [String] = []
        var i = low
        while i < all.count, all[i].hasPrefix(prefix) {
            keys.append(all[i])
            i += 1
        }
        return keys
    }
}
