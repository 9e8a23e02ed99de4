import GRDB
import WatchCache

extension SQLiteStorage {
    /// Removes history beyond the retention, oldest first, one small transaction at a time (so
    /// writes wait for one chunk at most). Before removing an event whose object is the state
    /// before a kept event, copies it into that event. Returns how many events it removed.
    @discardableResult
    public func compact(now: Double = WallClock.secondsSince1970()) throws -> Int {
        var removed = 0
        while true {
            let n = try compactChunk(now: now)
            if n == 0 { return removed }
            removed += n
        }
    }

    func compactLogged() {
        do {
            let removed = try compact()
            if removed > 0 { logger.debug("compacted the history", metadata: ["events": "\(removed)"]) }
        } catch {
            logger.error("history compaction failed", metadata: ["error": "\(error)"])
        }
    }

    private func compactChunk(now: Double) throws -> Int {
        let started = ContinuousClock.now
        let removed = try removeChunk(now: now)
        if removed > 0 {
            let seconds = (ContinuousClock.now - started).seconds
            writer.withLock { w in
                w.compactedEvents += removed
                w.compactionChunks += 1
                w.longestCompactionChunk = max(w.longestCompactionChunk, seconds)
            }
        }
        return removed
    }

    private func removeChunk(now: Double) throws -> Int {
        try pool.write { db in
            try writer.withLock { w in
                let excess = retention.events.map { max(0, w.eventCount - $0) } ?? 0
                let cutoff = retention.seconds.map { now - $0 }
                let oldest = try Row.fetchAll(db, sql: "SELECT version, wall_time FROM events ORDER BY version LIMIT ?",
                                              arguments: [Self.compactionChunk])
                var newFloor: Int64?
                var count = 0
                for row in oldest {
                    let wallTime: Double = row[1]
                    guard count < excess || cutoff.map({ wallTime < $0 }) == true else { break }
                    newFloor = row[0]
                    count += 1
                }
                guard let newFloor else { return 0 }
                try db.execute(sql: """
                    UPDATE events SET previous = (SELECT p.body FROM events p WHERE p.version = events.previous_version)
                    WHERE previous IS NULL AND previous_version IS NOT NULL AND previous_version <= ? AND version > ?
                    """, arguments: [newFloor, newFloor])
                try db.execute(sql: "DELETE FROM events WHERE version <= ?", arguments: [newFloor])
                try db.execute(sql: "UPDATE meta SET value = ? WHERE key = 'floor'", arguments: [newFloor])
                // Set inside the transaction, before any later write can run: a failed commit leaves
                // the floor too high, which only makes writes store states they could have shared.
                w.floor = newFloor
                w.eventCount -= count
                return count
            }
        }
    }
}
