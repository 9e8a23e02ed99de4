import GRDB

/// The tables of a ``SQLiteStorage``, created and upgraded by GRDB's migrator.
///
/// - `meta`: `version` (the newest write) and `floor` (every event above it is kept).
/// - `resources`: a small id per resource, so events and objects do not repeat its name.
/// - `objects`: the current objects, unique by resource and key. A rowid table: in a `WITHOUT ROWID`
///   table a 1 KiB row would spill into an overflow page of its own.
/// - `events`: the history, by version. `previous` is set only when the event's state before is
///   not the object of a kept event (`previous_version`); a partial index finds the events whose
///   state before compaction must copy in.
enum SQLiteSchema {
    static func migrate(_ writer: some DatabaseWriter) throws {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL) WITHOUT ROWID;
                INSERT INTO meta (key, value) VALUES ('version', 0), ('floor', 0);
                CREATE TABLE resources (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
                CREATE TABLE objects (
                    id INTEGER PRIMARY KEY, resource INTEGER NOT NULL, key TEXT NOT NULL, version INTEGER NOT NULL, body BLOB NOT NULL);
                CREATE UNIQUE INDEX objects_by_key ON objects (resource, key);
                CREATE TABLE events (
                    version INTEGER PRIMARY KEY, resource INTEGER NOT NULL, type INTEGER NOT NULL, key TEXT NOT NULL,
                    body BLOB NOT NULL, previous_version INTEGER, previous BLOB, wall_time REAL NOT NULL);
                CREATE INDEX events_by_resource ON events (resource, version);
                CREATE INDEX events_needing_previous ON events (previous_version) WHERE previous IS NULL AND previous_version IS NOT NULL;
                """)
        }
        try migrator.migrate(writer)
    }
}
