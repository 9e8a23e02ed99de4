import Foundation
import WatchCacheBench

/// A real etcd for a test: `scripts/etcd.sh` through ``LocalEtcd``.
typealias EtcdCluster = LocalEtcd

extension LocalEtcd {
    /// The repository's root.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    convenience init(members: Int = 1, tls: Bool = false) throws {
        try self.init(script: Self.root.appendingPathComponent("scripts/etcd.sh").path, members: members, tls: tls)
    }
}
