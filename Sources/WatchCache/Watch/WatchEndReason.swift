/// Why a watch stream ended.
public enum WatchEndReason: Sendable, Hashable {
    /// `timeoutSeconds` (or the server's default) passed.
    case timeout
    /// The consumer cancelled it.
    case cancelled
    /// Its queue stayed full past the slow-watcher budget; the client should resume from its last version.
    case terminatedSlow
    /// It could not start or continue; the last event was an ERROR with this status. (Boxed: a
    /// status is ~100 bytes, and every watcher's state holds room for an end reason.)
    indirect case error(Status)
    /// The events it still had to replay left the history window; resuming gives a 410.
    case historyLost
    /// The cache shut down.
    case cacheClosed
    /// The cache listed its storage again (its feed fell behind the storage's compaction): the
    /// client resumes from its last version, as it does after a server restart.
    case cacheReset
}
