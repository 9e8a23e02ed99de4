/// The ring buffer of recent events of one resource.
///
/// Positions are absolute and only grow: the live events are positions `start..<end`, and position
/// `p` lives in slot `p & mask`. The slot array's size is a power of two at least ``capacity``.
/// Capacity follows Kubernetes' rule: when the log is full, double it if the oldest event is younger
/// than the window's freshness; halve it if even the event a quarter from the end is older; always
/// within the window's bounds.
struct EventLog {
    private var slots: [CacheEvent?]
    /// Beside each slot, its event's ``EventDigest``: a scan reads these, in order, and touches
    /// only the events that may concern its watch.
    private var digests: [EventDigest]
    /// Beside each digest, its event's label and field values (read only by scans that check values).
    private var values: [EventValues]
    private var mask: Int
    /// Absolute position of the oldest kept event.
    private(set) var start = 0
    /// Absolute position one past the newest event.
    private(set) var end = 0
    /// How many events the log keeps before dropping the oldest.
    private(set) var capacity: Int
    let window: HistoryWindow
    /// Whether any event was ever dropped: until then the history reaches back to ``initialVersion``.
    private(set) var hasEvicted = false
    /// The version the cache started from (its initial LIST); events in the log are all newer.
    let initialVersion: ResourceVersion
    /// The positions of each value's, namespace's and object's events, for indexed replay (`nil`:
    /// replays scan).
    private(set) var index: ReplayIndex?
    /// The bits and ids of the label keys and values in the digests.
    private(set) var labels = LabelTable()
    /// The ids of the field values beside the digests.
    private(set) var fieldValues = FieldValueTable()

    /// An empty log whose first event gets absolute position `position` (a log that replaces another
    /// continues its positions, so a position taken from the old one is never read in the new one:
    /// it is below ``start``).
    init(window: HistoryWindow, initialVersion: ResourceVersion, indexed: Bool = false, startingAt position: Int = 0) {
        self.window = window
        self.initialVersion = initialVersion
        start = position
        end = position
        index = indexed ? ReplayIndex() : nil
        capacity = window.minimumEvents
        let size = Self.slotCount(for: capacity)
        slots = Array(repeating: nil, count: size)
        digests = Array(repeating: EventDigest(), count: size)
        values = Array(repeating: EventValues(), count: size)
        mask = size - 1
    }

    /// A log refilled with `events` (oldest first, all newer than `initialVersion`), holding the
    /// history after `initialVersion`: at most the window's maximum (the newest), at least its
    /// minimum capacity.
    init(window: HistoryWindow, initialVersion: ResourceVersion, events: [CacheEvent], indexed: Bool = false) {
        self.init(window: window, initialVersion: initialVersion, indexed: indexed)
        let kept = events.suffix(window.maximumEvents)
        setCapacity(min(max(kept.count, window.minimumEvents), window.maximumEvents))
        for event in kept {
            precondition(event.resourceVersion > (newestVersion ?? initialVersion), "refilled events must be newer than the initial version, in order")
            slots[end & mask] = event
            digests[end & mask] = EventDigest(event, labels: &labels, fields: &fieldValues, values: &values[end & mask])
            index?.add(event, at: end)
            end += 1
        }
        hasEvicted = kept.count < events.count
        checkInvariants()
    }

    var count: Int { end - start }
    var isEmpty: Bool { start == end }

    /// The event at absolute `position` (`start <= position < end`).
    subscript(position: Int) -> CacheEvent {
        precondition(position >= start && position < end, "position \(position) outside \(start)..<\(end)")
        return slots[position & mask]!
    }

    /// The digest of the event at `position` (`start <= position < end`).
    func digest(at position: Int) -> EventDigest {
        digests[position & mask]
    }

    /// The label and field values of the event at `position` (`start <= position < end`).
    func values(at position: Int) -> EventValues {
        values[position & mask]
    }

    var newestVersion: ResourceVersion? { isEmpty ? nil : self[end - 1].resourceVersion }

    /// The oldest version a watch may resume from: any `rv >= resumableFrom` replays exactly the
    /// events after it; anything older is gone (410). `oldest - 1` in Kubernetes' terms.
    var resumableFrom: ResourceVersion {
        if !hasEvicted { return initialVersion }
        guard !isEmpty else { return initialVersion }
        return ResourceVersion(self[start].resourceVersion.rawValue - 1)
    }

    /// The position of the first event newer than `rv` (``end`` if none): a binary search.
    func firstPosition(after rv: ResourceVersion) -> Int {
        var low = start, high = end
        while low < high {
            let mid = low + (high - low) / 2
            if self[mid].resourceVersion <= rv { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Appends `event` (which must be newer than every event in the log), resizing and dropping the
    /// oldest event as the window rules say.
    mutating func append(_ event: CacheEvent) {
        precondition(newestVersion.map { $0 < event.resourceVersion } ?? true, "events must be appended in version order")
        resize(at: event.recordedAt)
        if count == capacity {
            index?.remove(slots[start & mask]!, at: start)
            slots[start & mask] = nil
            start += 1
            hasEvicted = true
        }
        slots[end & mask] = event
        digests[end & mask] = EventDigest(event, labels: &labels, fields: &fieldValues, values: &values[end & mask])
        index?.add(event, at: end)
        end += 1
        checkInvariants()
    }

    private mutating func resize(at now: Timestamp) {
        guard count == capacity, count > 0 else { return }
        if now - self[start].recordedAt < window.freshness, capacity < window.maximumEvents {
            setCapacity(min(capacity * 2, window.maximumEvents))
        } else if capacity > window.minimumEvents, now - self[capacity < 4 ? start : end - capacity / 4].recordedAt > window.freshness {
            // (Kubernetes reads slot `(end - capacity/4) % capacity`: the oldest event below 4.)
            setCapacity(max(capacity / 2, window.minimumEvents))
        }
    }

    /// Re-lays the live events into slots sized for `newCapacity`, keeping the newest ones.
    private mutating func setCapacity(_ newCapacity: Int) {
        let keep = min(count, newCapacity)
        if keep < count { hasEvicted = true }
        let newStart = end - keep
        if index != nil {
            for p in start..<newStart { index!.remove(slots[p & mask]!, at: p) }
        }
        let size = Self.slotCount(for: newCapacity)
        if size != slots.count {
            var newSlots = [CacheEvent?](repeating: nil, count: size)
            var newDigests = [EventDigest](repeating: EventDigest(), count: size)
            var newValues = [EventValues](repeating: EventValues(), count: size)
            for p in newStart..<end {
                newSlots[p & (size - 1)] = slots[p & mask]
                newDigests[p & (size - 1)] = digests[p & mask]
                newValues[p & (size - 1)] = values[p & mask]
            }
            slots = newSlots
            digests = newDigests
            values = newValues
            mask = size - 1
        } else {
            for p in start..<newStart { slots[p & mask] = nil }
        }
        start = newStart
        capacity = newCapacity
    }

    private static func slotCount(for capacity: Int) -> Int {
        var size = 1
        while size < capacity { size <<= 1 }
        return size
    }

    private func checkInvariants() {
        #if DEBUG
        assert(count <= capacity && capacity <= slots.count && slots.count & mask == 0 && mask == slots.count - 1)
        #endif
    }
}
