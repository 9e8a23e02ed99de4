import Foundation
import GRPCCore
import Logging
import Synchronization
import WatchCache

/// Keeps etcd's history bounded as kube-apiserver does (`--etcd-compaction-interval`): every
/// interval one process compacts etcd to the revision it saw one interval before. Replicas take
/// turns through a compare-and-swap on one key, `compact_rev_key`: the one whose view of that key's
/// version is current wins the interval, the others learn the new version and wait for the next.
public final class EtcdCompactor: Sendable {
    /// The key the replicas (and kube-apiservers on the same etcd) coordinate on.
    static let key = Data("compact_rev_key".utf8)
    private let task = Mutex<Task<Void, Never>?>(nil)
    /// Compactions this process made.
    public let compactions = Atomic(0)

    /// Starts compacting through `storage` every `interval`.
    public static func start(_ storage: EtcdStorage, every interval: Duration) -> EtcdCompactor {
        let compactor = EtcdCompactor()
        let task = Task(executorPreference: EtcdExecutor.shared) {
            var seenVersion: Int64 = 0
            var revision: Int64 = 0
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: interval)
                    (seenVersion, revision) = try await compactor.round(storage, seenVersion: seenVersion, revision: revision)
                } catch {
                    if Task.isCancelled { return }
                    storage.logger.warning("etcd compaction failed", metadata: ["error": "\(error)"])
                }
            }
        }
        compactor.task.withLock { $0 = task }
        return compactor
    }

    public func stop() {
        task.withLock { $0?.cancel() }
    }

    /// One interval: claims it if `compact_rev_key` is still at `seenVersion`, then compacts to
    /// `revision` (the store's revision a round ago). Returns the key's version now and the
    /// store's revision, for the next round.
    func round(_ storage: EtcdStorage, seenVersion: Int64, revision: Int64) async throws -> (Int64, Int64) {
        var compare = Etcdserverpb_Compare()
        compare.key = Self.key
        compare.target = .version
        compare.result = .equal
        compare.version = seenVersion
        var put = Etcdserverpb_PutRequest()
        put.key = Self.key
        put.value = Data(String(revision).utf8)
        var claim = Etcdserverpb_RequestOp()
        claim.requestPut = put
        var get = Etcdserverpb_RangeRequest()
        get.key = Self.key
        var look = Etcdserverpb_RequestOp()
        look.requestRange = get
        var txn = Etcdserverpb_TxnRequest()
        txn.compare = [compare]
        txn.success = [claim]
        txn.failure = [look]
        let transaction = txn
        let response = try await storage.call { try await storage.client.kv.txn(transaction, options: EtcdClient.unary()) }
        let now = response.header.revision
        guard response.succeeded else {
            // Another process claimed this interval.
            guard case .responseRange(let range)? = response.responses.first?.response, let kv = range.kvs.first else {
                return (seenVersion, now)
            }
            return (kv.version, now)
        }
        guard revision > 0 else { return (seenVersion + 1, now) }  // nothing to compact at the first round
        var request = Etcdserverpb_CompactionRequest()
        request.revision = revision
        let compaction = request
        do {
            _ = try await storage.call { try await storage.client.kv.compact(compaction, options: EtcdClient.unary(timeout: .seconds(60))) }
            compactions.add(1, ordering: .relaxed)
            storage.logger.info("compacted etcd", metadata: ["revision": "\(revision)"])
        } catch EtcdError.compacted {
            // Someone compacted further already.
        }
        return (seenVersion + 1, now)
    }
}
