import Foundation
import WatchCache

/// Every change etcd holds under a key prefix, read with `etcdctl watch --rev 1` (the guarantee
/// runs keep every revision: compaction is off): what really happened, writes whose
/// acknowledgement was lost included, so the checker need not infer them from what the watchers
/// saw. A change's version is its etcd revision, which is the resourceVersion the servers serve.
enum EtcdHistoryReader {
    /// The changes to the objects under `prefix` (keys `prefix + name`), oldest first; `nil` when
    /// etcdctl is missing or said nothing. Reads for `seconds` (etcdctl's watch does not end).
    static func changes(endpoints: String, prefix: String, seconds: Int = 5) -> [WatchHistory.Change]? {
        let etcdctl = ["/usr/bin/etcdctl", "/usr/local/bin/etcdctl"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let etcdctl, let output = commandOutput("/usr/bin/timeout", [
            String(seconds), etcdctl, "--endpoints", endpoints, "watch", "--prefix", prefix, "--rev", "1", "-w", "json",
        ]), !output.isEmpty else { return nil }
        return parse(output, prefix: prefix)
    }

    /// The changes in etcdctl's JSON watch responses (one per line).
    static func parse(_ output: String, prefix: String) -> [WatchHistory.Change] {
        var changes: [WatchHistory.Change] = []
        for line in output.split(separator: "\n") {
            guard let response = try? JSONObject(parsing: String(line)), let events = response["Events"]?.arrayValue ?? response["events"]?.arrayValue else { continue }
            for event in events {
                guard let kv = event["kv"]?.objectValue,
                      let key = kv["key"]?.stringValue.flatMap({ Data(base64Encoded: $0) }).map({ String(decoding: $0, as: UTF8.self) }),
                      key.hasPrefix(prefix),
                      let revision = kv["mod_revision"]?.fieldText.flatMap({ UInt64($0) }) else { continue }
                let name = String(key.dropFirst(prefix.count))
                // DELETE is 1; PUT, 0, is left out of the JSON.
                if event["type"]?.fieldText == "1" || event["type"]?.stringValue == "DELETE" {
                    changes.append(WatchHistory.Change(version: revision, name: name, labels: nil))
                    continue
                }
                guard let value = kv["value"]?.stringValue.flatMap({ Data(base64Encoded: $0) }),
                      let object = try? JSONObject(parsing: String(decoding: value, as: UTF8.self)) else { continue }
                var labels: [String: String] = [:]
                for (label, text) in (object["metadata"]?["labels"]?.objectValue ?? JSONObject()).members { labels[label] = text.stringValue }
                changes.append(WatchHistory.Change(version: revision, name: name, labels: labels))
            }
        }
        return changes.sorted { $0.version < $1.version }
    }
}
