import Dispatch
import Foundation
import GRDB
import Logging
import Synchronization
import WatchCache

/// The embedded durable storage: the current objects and a bounded history of changes in one
/// SQLite database (WAL, `synchronous = FULL`) in a data directory.
///
/// - Every write the ``Registry`` hands over is committed and synced before ``persist(_:)``
///   returns, with the newest version recorded in the same transaction, so versions keep
///   increasing across restarts.
/// - The history is what lets watches survive a restart: ``recover(historyLimit:)`` refills each
///   resource's window, and ``history(of:after:through:)`` serves watches from versions older
///   than the window. It is compacted in the background, a small batch per transaction, to the
///   ``HistoryRetention``.
/// - An event stores the object after the change; its state before is the previous event of the
///   same object while that event is kept, and is copied into the event when compaction removes it.
public final class SQLiteStorage: Storage {
    public let directory: String
    public let sync: SyncMode
    public let retention: HistoryRetention
    let pool: DatabasePool
    let logger: Logger
    private let lock: DataDirectoryLock
    /// Writer-side bookkeeping, changed only inside the database's (serialised) write transactions.
    let writer = Mutex(WriterState())
    private let compactionQueue = DispatchQueue(label: "watchcache.storage.compactor", qos: .utility)
    private let stopped = Atomic(false)
    /// Events removed per compaction transaction: small enough that a write waits a few ms at most
    /// (1,000 took up to 19 ms on this machine kind, 250 about a quarter of that).
    static let compactionChunk = 250

    struct WriterState {
        var resourceIDs: [String: Int64] = [:]
        /// Every event with a version above it is kept.
        var floor: Int64 = 0
        var eventCount = 0
        /// Compaction so far: events removed, transactions, and the longest one (seconds).
        var compactedEvents = 0
        var compactionChunks = 0
        var longestCompactionChunk = 0.0
    }

    /// The database file inside the data directory.
    public static let fileName = "watchcache.sqlite"

    /// Opens (creating if needed) the storage in `directory`, taking its lock.
    public init(directory: String, sync: SyncMode = .batch, retention: HistoryRetention = .default,
                compactionInterval: Duration = .seconds(1), logger: Logger = Logger(label: "watchcache.storage")) throws {
        self.directory = directory
        self.sync = sync
        self.retention = retention
        self.logger = logger
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        lock = try DataDirectoryLock(directory: directory)
        var configuration = Configuration()
        configuration.label = "watchcache"
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // Committed means on disk: the WAL is synced at every commit.
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // The commit that fills the WAL copies it into the database (a checkpoint) and waits for
            // that: at 1 MiB rather than SQLite's 4 MiB, such a commit takes a few ms, not ~15.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 256")
        }
        pool = try DatabasePool(path: directory + "/" + Self.fileName, configuration: configuration)
        try SQLiteSchema.migrate(pool)
        try pool.write { db in
            let floor = try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'floor'") ?? 0
            let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM events") ?? 0
            var ids: [String: Int64] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, name FROM resources") { ids[row[1]] = row[0] }
            writer.withLock { $0 = WriterState(resourceIDs: ids, floor: floor, eventCount: count) }
        }
        scheduleCompaction(after: compactionInterval.seconds)
    }

    /// Compacts every `interval` seconds until closed.
    private func scheduleCompaction(after interval: Double) {
        compactionQueue.asyncAfter(deadline: .now() + interval) { [weak self] in
            guard let self, !self.stopped.load(ordering: .acquiring) else { return }
            self.compactLogged()
            self.scheduleCompaction(after: interval)
        }
    }

    /// Stops background compaction and closes the database. Later calls fail.
    public func close() throws {
        stopped.store(true, ordering: .releasing)
        compactionQueue.sync {}
        try pool.close()
        lock.release()
    }

    // MARK: - Storage

    public func recover(historyLimit: Int) throws -> StorageRecovery {
        var recovery = StorageRecovery()
        var names: [Int64: String] = [:]
        try pool.read { db in
            recovery.version = ResourceVersion(UInt64(try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'version'") ?? 0))
            recovery.historyFloor = ResourceVersion(UInt64(try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'floor'") ?? 0))
            for row in try Row.fetchAll(db, sql: "SELECT id, name FROM resources") { names[row[0]] = row[1] }
        }
        // Objects and history are read side by side, on two connections (nothing writes before
        // the recovery is over, so they see the same state): a restart waits for the longer.
        let objects = Mutex<Result<[String: [[UInt8]]], any Error>>(.success([:]))
        let history = Mutex<Result<[String: [StoredEvent]], any Error>>(.success([:]))
        let byID = names
        DispatchQueue.concurrentPerform(iterations: 2) { part in
            if part == 0 {
                objects.withLock { $0 = Result { try self.pool.read { db in try Self.allObjects(db, names: byID) } } }
            } else {
                history.withLock { result in
                    result = Result {
                        try self.pool.read { db in
                            var all: [String: [StoredEvent]] = [:]
                            for (id, name) in byID {
                                let events = try Self.recentEvents(db, resource: id, limit: historyLimit)
                                if !events.isEmpty { all[name] = events }
                            }
                            return all
                        }
                    }
                }
            }
        }
        recovery.objects = try objects.withLock { try $0.get() }
        recovery.history = try history.withLock { try $0.get() }
        return recovery
    }

    /// Every stored object's bytes, by resource name.
    private static func allObjects(_ db: Database, names: [Int64: String]) throws -> [String: [[UInt8]]] {
        var all: [String: [[UInt8]]] = [:]
        let rows = try Row.fetchCursor(db, sql: "SELECT resource, body FROM objects")
        while let row = try rows.next() {
            guard let name = names[row[0]] else { continue }
            all[name, default: []].append(bytes(row, 1))
        }
        return all
    }

    public var keepsHistory: Bool { true }

    public func persist(_ writes: [StoredWrite]) throws {
        guard !writes.isEmpty else { return }
        switch sync {
        case .batch:
            try commit(writes[...])
        case .always:
            for i in writes.indices { try commit(writes[i...i]) }
        }
    }

    public func history(of resource: ResourceDescriptor, after: ResourceVersion, through: ResourceVersion) throws -> [StoredEvent]? {
        try pool.read { db in
            // Read in one snapshot with the floor, so compaction cannot remove events in between.
            let floor = try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'floor'") ?? 0
            guard Int64(after.rawValue) >= floor else { return nil }
            guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM resources WHERE name = ?", arguments: [resource.description]) else {
                return []
            }
            return try Self.fetchEvents(db, sql: "\(Self.eventColumns) WHERE e.resource = ? AND e.version > ? AND e.version <= ? ORDER BY e.version",
                                        arguments: [id, Int64(after.rawValue), Int64(through.rawValue)])
        }
    }

    // MARK: - Writing

    private enum EventKind: Int64 {
        case added = 0, modified = 1, deleted = 2
    }

    /// Commits `writes` in one transaction (synced), with the newest version.
    private func commit(_ writes: ArraySlice<StoredWrite>) throws {
        try pool.write { db in
            try writer.withLock { w in
                let putObject = try db.cachedStatement(sql: "INSERT OR REPLACE INTO objects (resource, key, version, body) VALUES (?, ?, ?, ?)")
                let deleteObject = try db.cachedStatement(sql: "DELETE FROM objects WHERE resource = ? AND key = ?")
                let insertEvent = try db.cachedStatement(sql: """
                    INSERT INTO events (version, resource, type, key, body, previous_version, previous, wall_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """)
                for write in writes {
                    let id = try resourceID(write.resource, db: db, state: &w)
                    let version = Int64(write.version.rawValue)
                    switch write.change {
                    case .put(let object):
                        let body = Data(object.encoded)
                        try putObject.execute(arguments: [id, object.key, version, body])
                        let previousVersion = write.previous.map { Int64($0.resourceVersion.rawValue) }
                        // The state before is the previous event's object while that event is kept.
                        let previousBody = previousVersion.flatMap { $0 <= w.floor ? Data(write.previous!.encoded) : nil }
                        try insertEvent.execute(arguments: [version, id, (write.previous == nil ? EventKind.added : .modified).rawValue,
                                                            object.key, body, previousVersion, previousBody, write.wallTime])
                    case .delete(let object):
                        try deleteObject.execute(arguments: [id, object.key])
                        let last = write.previous ?? object
                        try insertEvent.execute(arguments: [version, id, EventKind.deleted.rawValue, object.key, Data(last.encoded),
                                                            nil, nil, write.wallTime])
                    }
                }
                try db.execute(sql: "UPDATE meta SET value = ? WHERE key = 'version'", arguments: [Int64(writes.last!.version.rawValue)])
                w.eventCount += writes.count
            }
        }
    }

    private func resourceID(_ resource: ResourceDescriptor, db: Database, state w: inout WriterState) throws -> Int64 {
        if let id = w.resourceIDs[resource.description] { return id }
        try db.execute(sql: "INSERT INTO resources (name) VALUES (?)", arguments: [resource.description])
        let id = db.lastInsertedRowID
        w.resourceIDs[resource.description] = id
        return id
    }

    // MARK: - Reading

    /// Events with their state before: stored in the row, or the kept previous event's object.
    private static let eventColumns = """
        SELECT e.version AS version, e.type, e.body, COALESCE(e.previous, p.body), e.wall_time
        FROM events e LEFT JOIN events p ON e.previous IS NULL AND p.version = e.previous_version
        """

    private static func fetchEvents(_ db: Database, sql: String, arguments: StatementArguments) throws -> [StoredEvent] {
        var events: [StoredEvent] = []
        let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments)
        while let row = try rows.next() {
            let type: EventType = switch EventKind(rawValue: row[1]) {
            case .added: .added
            case .deleted: .deleted
            default: .modified
            }
            let previous: [UInt8]? = type == .modified ? optionalBytes(row, 3) : nil
            events.append(StoredEvent(type: type, version: ResourceVersion(UInt64(row[0] as Int64)), object: bytes(row, 2),
                                      previous: previous, wallTime: row[4]))
        }
        return events
    }

    /// The newest `limit` events of a resource, oldest first, for a restart: the state before
    /// a change is read only for each object's first event among them — the cache takes the
    /// others' from the event before — so a restart reads each body once.
    private static func recentEvents(_ db: Database, resource: Int64, limit: Int) throws -> [StoredEvent] {
        guard limit > 0 else { return [] }
        let oldest = try Int64.fetchOne(db, sql: "SELECT version FROM events WHERE resource = ? ORDER BY version DESC LIMIT 1 OFFSET ?",
                                        arguments: [resource, limit - 1]) ?? Int64.min
        var events: [StoredEvent] = []
        var seen = Set<String>()
        var wanted: [(index: Int, version: Int64)] = []
        let rows = try Row.fetchCursor(db, sql: """
            SELECT version, type, key, body, previous, previous_version, wall_time FROM events
            WHERE resource = ? AND version >= ? ORDER BY version
            """, arguments: [resource, oldest])
        while let row = try rows.next() {
            let type: EventType = switch EventKind(rawValue: row[1]) {
            case .added: .added
            case .deleted: .deleted
            default: .modified
            }
            let key: String = row[2]
            var previous: [UInt8]?
            if type == .modified, seen.insert(key).inserted {
                previous = optionalBytes(row, 4)
                if previous == nil, let version: Int64 = row[5] { wanted.append((events.count, version)) }
            } else {
                seen.insert(key)
            }
            events.append(StoredEvent(type: type, version: ResourceVersion(UInt64(row[0] as Int64)), object: bytes(row, 3),
                                      previous: previous, wallTime: row[6]))
        }
        // The states before that live in older events (kept beyond the limit).
        for start in stride(from: 0, to: wanted.count, by: 500) {
            let chunk = wanted[start..<min(wanted.count, start + 500)]
            var index: [Int64: Int] = [:]
            for w in chunk { index[w.version] = w.index }
            let placeholders = Array(repeating: "?", count: chunk.count).joined(separator: ",")
            let found = try Row.fetchCursor(db, sql: "SELECT version, body FROM events WHERE version IN (\(placeholders))",
                                            arguments: StatementArguments(chunk.map(\.version)))
            while let row = try found.next() {
                if let i = index[row[0]] { events[i].previous = bytes(row, 1) }
            }
        }
        return events
    }

    static func bytes(_ row: Row, _ index: Int) -> [UInt8] {
        optionalBytes(row, index) ?? []
    }

    static func optionalBytes(_ row: Row, _ index: Int) -> [UInt8]? {
        (try? row.withUnsafeData(atIndex: index) { data in data.map { [UInt8]($0) } }) ?? nil
    }

    // MARK: - Statistics

    /// Copies the write-ahead log into the database file and truncates it (for measuring size).
    public func checkpoint() throws {
        try pool.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
    }

    /// What the storage holds now.
    public func statistics() throws -> SQLiteStorageStatistics {
        let w = writer.withLock { $0 }
        let objects = try pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM objects") ?? 0 }
        var bytes: Int64 = 0
        for suffix in ["", "-wal", "-shm"] {
            let path = directory + "/" + Self.fileName + suffix
            if let size = try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber { bytes += size.int64Value }
        }
        return SQLiteStorageStatistics(objects: objects, historyEvents: w.eventCount, historyFloor: ResourceVersion(UInt64(w.floor)),
                                       fileBytes: bytes, compactedEvents: w.compactedEvents, compactionChunks: w.compactionChunks,
                                       longestCompactionChunkSeconds: w.longestCompactionChunk)
    }
}

/// Sizes of a ``SQLiteStorage``.
public struct SQLiteStorageStatistics: Sendable, Hashable {
    public var objects: Int
    public var historyEvents: Int
    /// The history holds every change after this version.
    public var historyFloor: ResourceVersion
    /// The database, its WAL and shared-memory files, in bytes.
    public var fileBytes: Int64
    /// Events compaction removed since the storage was opened, in how many transactions, and the
    /// longest of them: how long a write could have waited behind compaction.
    public var compactedEvents: Int
    public var compactionChunks: Int
    public var longestCompactionChunkSeconds: Double
}
