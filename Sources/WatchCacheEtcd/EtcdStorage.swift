import Foundation
import GRPCCore
import Logging
import WatchCache

/// etcd as the source of truth, as kube-apiserver keeps objects there: JSON values under
/// ``EtcdKeyLayout``'s keys, `mod_revision` as the resourceVersion, writes as transactions that
/// compare the key's revision, and each cache following its resource's key range with a watch.
public final class EtcdStorage: SourceOfTruth {
    public let layout: EtcdKeyLayout
    let client: EtcdClient
    let logger: Logger
    /// The most keys one range request of a list reads.
    static let pageSize: Int64 = 1_000

    /// Connects to the members of `endpoints` (lazily: calls wait for a member to answer).
    public init(endpoints: EtcdEndpoints, prefix: String = "/registry", logger: Logger = Logger(label: "watchcache.etcd")) throws {
        layout = EtcdKeyLayout(prefix: prefix)
        client = try EtcdClient(endpoints: endpoints)
        self.logger = logger
    }

    /// Stops the connection to etcd (feeds end with it).
    public func close() {
        client.close()
    }

    // MARK: - SourceOfTruth

    public func commit(_ write: GuardedWrite) async throws -> CommitOutcome {
        let key = Data(layout.key(of: write.object).utf8)
        var compare = Etcdserverpb_Compare()
        compare.key = key
        compare.result = .equal
        switch write.precondition {
        case .absent:
            compare.target = .create
            compare.createRevision = 0
        case .version(let version):
            compare.target = .mod
            compare.modRevision = Int64(version.rawValue)
        }
        var success = Etcdserverpb_RequestOp()
        switch write.change {
        case .put(let object):
            var put = Etcdserverpb_PutRequest()
            put.key = key
            put.value = Data(EtcdValueCodec.encode(object))
            success.requestPut = put
        case .delete:
            var delete = Etcdserverpb_DeleteRangeRequest()
            delete.key = key
            success.requestDeleteRange = delete
        }
        var current = Etcdserverpb_RangeRequest()
        current.key = key
        var failure = Etcdserverpb_RequestOp()
        failure.requestRange = current
        var txn = Etcdserverpb_TxnRequest()
        txn.compare = [compare]
        txn.success = [success]
        txn.failure = [failure]
        let transaction = txn
        let response = try await call { try await self.client.kv.txn(transaction, options: EtcdClient.unary()) }
        if response.succeeded { return .committed(ResourceVersion(UInt64(response.header.revision))) }
        guard case .responseRange(let range)? = response.responses.first?.response else {
            throw EtcdError.protocolViolation("a failed transaction did not return its range")
        }
        guard let kv = range.kvs.first else { return .conflict(current: nil) }
        return .conflict(current: try EtcdValueCodec.decode(Array(kv.value), key: Array(kv.key), revision: kv.modRevision,
                                                            resource: write.resource))
    }

    public func census(of resource: ResourceDescriptor, changedAfter version: ResourceVersion) async throws -> StoreCensus {
        let folder = layout.folder(of: resource)
        var all = rangeRequest(folder: folder)
        all.countOnly = true
        var changed = rangeRequest(folder: folder)
        changed.keysOnly = true
        changed.minModRevision = Int64(version.rawValue) + 1
        var count = Etcdserverpb_RequestOp()
        count.requestRange = all
        var recent = Etcdserverpb_RequestOp()
        recent.requestRange = changed
        var txn = Etcdserverpb_TxnRequest()
        txn.success = [count, recent]
        let transaction = txn
        let response = try await call { try await self.client.kv.txn(transaction, options: EtcdClient.unary()) }
        guard response.responses.count == 2,
              case .responseRange(let total)? = response.responses[0].response,
              case .responseRange(let newer)? = response.responses[1].response else {
            throw EtcdError.protocolViolation("a census transaction did not return its two ranges")
        }
        // A count-only range ignores the revision filters: the changed keys are counted one by one.
        return StoreCensus(version: ResourceVersion(UInt64(response.header.revision)), objects: Int(total.count), changed: newer.kvs.count)
    }

    public func get(_ resource: ResourceDescriptor, namespace: String?, name: String) async throws -> KubeObject? {
        var request = Etcdserverpb_RangeRequest()
        request.key = Data(layout.key(of: resource, namespace: namespace, name: name).utf8)
        let range = request
        let response = try await call { try await self.client.kv.range(range, options: EtcdClient.unary()) }
        guard let kv = response.kvs.first else { return nil }
        return try EtcdValueCodec.decode(Array(kv.value), key: Array(kv.key), revision: kv.modRevision, resource: resource)
    }

    public func list(_ resource: ResourceDescriptor) async throws -> StoreSnapshot {
        let folder = layout.folder(of: resource)
        var objects: [KubeObject] = []
        var revision: Int64 = 0
        var request = rangeRequest(folder: folder)
        request.limit = Self.pageSize
        while true {
            let page = request
            let response = try await call { try await self.client.kv.range(page, options: EtcdClient.unary(timeout: .seconds(60))) }
            if revision == 0 {
                revision = response.header.revision
                request.revision = revision  // every page at the first one's revision
            }
            for kv in response.kvs {
                do {
                    objects.append(try EtcdValueCodec.decode(Array(kv.value), key: Array(kv.key), revision: kv.modRevision, resource: resource))
                } catch {
                    logger.error("skipping a stored value", metadata: ["error": "\(error)"])
                }
            }
            guard response.more, let last = response.kvs.last else { break }
            request.key = last.key + Data([0])
        }
        return StoreSnapshot(objects: objects, version: ResourceVersion(UInt64(revision)))
    }

    /// ``commit(_:)`` in a task on ``EtcdExecutor``: a caller that blocks a thread of the global
    /// pool until `completion` runs (a synchronous registry write) cannot hold up its own commit.
    public func commit(_ write: GuardedWrite, completion: @escaping @Sendable (Result<CommitOutcome, any Error>) -> Void) {
        Task(executorPreference: EtcdExecutor.shared) {
            do {
                completion(.success(try await self.commit(write)))
            } catch {
                completion(.failure(error))
            }
        }
    }

    /// ``get(_:namespace:name:)`` in a task on ``EtcdExecutor`` (see ``commit(_:completion:)``).
    public func get(_ resource: ResourceDescriptor, namespace: String?, name: String,
                    completion: @escaping @Sendable (Result<KubeObject?, any Error>) -> Void) {
        Task(executorPreference: EtcdExecutor.shared) {
            do {
                completion(.success(try await self.get(resource, namespace: namespace, name: name)))
            } catch {
                completion(.failure(error))
            }
        }
    }

    public func follow(_ resource: ResourceDescriptor, sink: any ChangeFeedSink) -> any FeedSubscription {
        EtcdFeed.start(resource: resource, storage: self, sink: sink)
    }

    // MARK: - Helpers

    func rangeRequest(folder: String) -> Etcdserverpb_RangeRequest {
        var request = Etcdserverpb_RangeRequest()
        request.key = Data(folder.utf8)
        request.rangeEnd = Data(EtcdKeyLayout.rangeEnd(of: folder))
        return request
    }

    /// Runs an etcd call on ``EtcdExecutor``, turning its failures into what the API answers (503,
    /// 504, 500).
    func call<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        do {
            return try await withTaskExecutorPreference(EtcdExecutor.shared) { try await body() }
        } catch let error as RPCError {
            if error.isCompacted { throw EtcdError.compacted(.zero) }
            throw error.status
        }
    }
}
