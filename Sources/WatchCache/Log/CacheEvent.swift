import Synchronization

/// The kind of a watch event.
public enum EventType: String, Sendable, Hashable {
    case added = "ADDED"
    case modified = "MODIFIED"
    case deleted = "DELETED"
    case bookmark = "BOOKMARK"
    case error = "ERROR"
}

/// One change held in the event log: what happened to one object at one resource version.
///
/// Immutable apart from a lazily built DELETED form, and shared by the log and every watcher it
/// reaches.
final class CacheEvent: Sendable {
    /// `.added`, `.modified` or `.deleted`.
    let type: EventType
    /// The object after the change; for `.deleted`, the last state with the deletion's version.
    let object: KubeObject
    /// The object before the change (`nil` for `.added`).
    let previous: KubeObject?
    let resourceVersion: ResourceVersion
    /// When the cache recorded the change (for the history-freshness rule).
    let recordedAt: Timestamp
    /// The previous object carrying this event's version: what a watcher whose selector the object
    /// leaves receives as DELETED. Built at most once, on first need.
    private let departedForm: Mutex<KubeObject?>

    init(type: EventType, object: KubeObject, previous: KubeObject?, recordedAt: Timestamp) {
        self.type = type
        self.object = object
        self.previous = previous
        self.resourceVersion = object.resourceVersion
        self.recordedAt = recordedAt
        self.departedForm = Mutex(type == .deleted ? object : nil)
    }

    /// The previous object with this event's resource version (the object of a synthesized DELETED).
    var departedObject: KubeObject {
        departedForm.withLock { cached in
            if let cached { return cached }
            let made = (previous ?? object).withResourceVersion(resourceVersion)
            cached = made
            return made
        }
    }
}
