extension CacheEvent {
    /// The cache events for `stored` (one resource's history, oldest first), as if recorded at the
    /// wall-clock times they carry. An object's state before a change is taken from the event that
    /// made it when that event is in `stored`, so each state is parsed once.
    static func fromStored(_ stored: [StoredEvent], resource: ResourceDescriptor, now: Timestamp,
                           wallNow: Double) throws(Status) -> [CacheEvent] {
        var events: [CacheEvent] = []
        events.reserveCapacity(stored.count)
        // The newest state seen of each object, by key, to serve as the next event's previous state.
        var latest: [String: KubeObject] = [:]
        let objects = try KubeObject.parseAll(stored.map(\.object), resource: resource)
        for (e, parsed) in zip(stored, objects) {
            let age = max(0, wallNow - e.wallTime)
            let recordedAt = now - Duration.seconds(age)
            let event: CacheEvent
            switch e.type {
            case .added:
                event = CacheEvent(type: .added, object: parsed, previous: nil, recordedAt: recordedAt)
                latest[parsed.key] = parsed
            case .deleted:
                // Stored as the last state: the event carries the deletion's version.
                let last = latest[parsed.key].flatMap { $0.resourceVersion == parsed.resourceVersion ? $0 : nil } ?? parsed
                event = CacheEvent(type: .deleted, object: last.withResourceVersion(e.version), previous: last, recordedAt: recordedAt)
                latest[parsed.key] = nil
            default:
                var previous = latest[parsed.key]
                if previous == nil, let bytes = e.previous { previous = try KubeObject(storedBytes: bytes, resource: resource) }
                event = CacheEvent(type: .modified, object: parsed, previous: previous, recordedAt: recordedAt)
                latest[parsed.key] = parsed
            }
            events.append(event)
        }
        return events
    }
}
