import DequeModule

/// What one watcher (or LIST) selects: a namespace scope, a label selector and a field selector,
/// plus the exact values that let the dispatcher index it.
struct WatchFilter: Sendable {
    let labels: LabelSelector
    /// The field terms left to check after ``namespace``, ``name`` and ``indexValue``: a watcher
    /// pinned to a node by `spec.nodeName=X` alone keeps no terms (and no array: bytes per stream).
    let fields: FieldSelector
    /// Whether the request had a field selector at all.
    let hasFieldSelector: Bool
    /// Objects outside this namespace never match (from the path or `metadata.namespace=`).
    let namespace: String?
    /// `metadata.name=` pins the watcher to one object.
    let name: String?
    /// The exact value the selector pins the resource's indexed field to (`spec.nodeName=X`).
    let indexValue: String?
    /// The store key of the single object this filter can match, when it names one.
    let key: String?
    /// What a matching object's ``EventDigest`` has: a scan skips the events that fail it.
    let digestRequirement: DigestRequirement

    init(resource: ResourceDescriptor, namespace: String?, labelSelector: String?, fieldSelector: String?) throws(Status) {
        let labels = try labelSelector.map { (s: String) throws(Status) in try LabelSelector(parsing: s) } ?? .everything
        let fields = try fieldSelector.map { (s: String) throws(Status) in try FieldSelector(parsing: s, for: resource) } ?? .everything
        let scope = namespace.flatMap { $0.isEmpty ? nil : $0 } ?? fields.exactValue(for: "metadata.namespace")
        let name = fields.exactValue(for: "metadata.name")
        let indexValue = resource.indexedField.flatMap { fields.exactValue(for: $0) }
        self.labels = labels
        self.namespace = scope
        self.name = name
        self.indexValue = indexValue
        self.hasFieldSelector = !fields.isEverything
        // A term ``matches(_:)`` checks anyway, through the namespace, the name or the indexed value.
        func checked(_ r: FieldSelector.Requirement) -> Bool {
            guard r.equals else { return false }
            if r.field == "metadata.namespace" { return r.value == scope }
            if r.field == "metadata.name" { return r.value == name }
            return r.field == resource.indexedField && r.value == indexValue
        }
        if fields.requirements.contains(where: checked) {
            let rest = fields.requirements.filter { !checked($0) }
            self.fields = rest.isEmpty ? .everything : FieldSelector(requirements: rest)
        } else {
            self.fields = fields
        }
        if let name {
            key = resource.namespaced ? scope.map { "\($0)/\(name)" } : name
        } else {
            key = nil
        }
        var required = DigestRequirement()
        required.indexedValue = indexValue.map(EventDigest.hash) ?? 0
        // `metadata.namespace=` (empty) on a cluster-scoped resource is every object's namespace.
        required.namespace = scope.map(EventDigest.hash) ?? 0
        required.key = key.map(EventDigest.hash) ?? 0
        required.labels = labels.requiredSignature
        required.labelsAnyOf = labels.alternativeSignatures
        required.fields = fields.requiredSignature
        digestRequirement = required
    }

    func matches(_ object: KubeObject) -> Bool {
        // Field by field: a copy of the requirement would retain its array.
        let labelBits = digestRequirement.labels, fieldBits = digestRequirement.fields
        if object.labels.signature & labelBits != labelBits || object.fieldSignature & fieldBits != fieldBits {
            return false
        }
        if let namespace, object.namespace != namespace { return false }
        if let name, object.name != name { return false }
        if let indexValue, object.indexedValue != indexValue { return false }
        return labels.matches(object.labels) && fields.matches(object)
    }
}

extension WatchFilter {
    /// The log positions of the events this filter can select, when it is pinned to an indexed
    /// value, an object or a namespace: the shortest of those lists (`nil`: not pinned, a replay
    /// scans).
    func replayPositions(in index: ReplayIndex) -> Deque<Int>? {
        var best: Deque<Int>?
        func consider(_ list: Deque<Int>) {
            if best.map({ list.count < $0.count }) ?? true { best = list }
        }
        if let indexValue { consider(index.positions(.indexedValue, indexValue)) }
        if let key { consider(index.positions(.key, key)) }
        // `metadata.namespace=` (empty) on a cluster-scoped resource matches every object: no pin.
        if let namespace, !namespace.isEmpty { consider(index.positions(.namespace, namespace)) }
        return best
    }
}

extension Deque<Int> {
    /// The index of the first element `>= value` in this ascending deque (`count` if none).
    func firstIndex(atLeast value: Int) -> Int {
        var low = 0, high = count
        while low < high {
            let mid = low + (high - low) / 2
            if self[mid] < value { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
