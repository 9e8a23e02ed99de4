/// When the durable storage syncs to disk. Either way a write is acknowledged only after the
/// transaction holding it has been committed and synced.
public enum SyncMode: String, Sendable, CaseIterable {
    /// One transaction, and one sync, per write.
    case always
    /// Writes that arrive while a commit is under way are committed together: one sync for the group.
    case batch
}
