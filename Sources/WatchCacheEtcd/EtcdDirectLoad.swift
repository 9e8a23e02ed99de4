import Foundation
import GRPCCore
import Synchronization
import WatchCache

/// Load on etcd itself, without WatchCache in between — what the replica benchmark compares the
/// replicas with: raw watchers on one key range, as clients of etcd's own watch API (clientv3
/// puts the watchers of one context on one gRPC stream), and raw puts.
public final class EtcdDirectLoad: Sendable {
    let client: EtcdClient
    /// Events received by all watchers, their send → receipt latencies (seconds, from the
    /// `sent` time written into each value), and the watchers created.
    private let state = Mutex<(events: Int, latencies: [Double], created: Int)>((0, [], 0))
    private let tasks = Mutex<[Task<Void, Never>]>([])

    public init(endpoints: EtcdEndpoints) throws {
        client = try EtcdClient(endpoints: endpoints, executor: nil)  // a plain client, as clientv3 users have
    }

    /// Opens `watchers` watchers of the keys under `prefix` from `revision`, spread over `streams`
    /// gRPC streams; each value's first 8 bytes are taken as its send time (nanoseconds since
    /// 1970, little-endian) for the latency of one watcher in `sampleEvery`.
    public func watch(prefix: String, watchers: Int, streams: Int, sampleEvery: Int = 100) {
        for s in 0..<streams {
            let count = watchers / streams + (s < watchers % streams ? 1 : 0)
            let task = Task {
                var create = Etcdserverpb_WatchCreateRequest()
                create.key = Data(prefix.utf8)
                create.rangeEnd = Data(EtcdKeyLayout.rangeEnd(of: prefix))
                var request = Etcdserverpb_WatchRequest()
                request.createRequest = create
                let first = request
                try? await self.client.watch.watch(options: EtcdClient.streaming, requestProducer: { writer in
                    for _ in 0..<count { try await writer.write(first) }
                    while !Task.isCancelled { try await Task.sleep(for: .seconds(3600)) }
                }, onResponse: { response in
                    for try await message in response.messages {
                        if message.created { self.state.withLock { $0.created += 1 }; continue }
                        guard !message.events.isEmpty else { continue }
                        let sample = message.watchID % Int64(sampleEvery) == 0
                        let now = Date().timeIntervalSince1970
                        let latencies = sample ? message.events.compactMap { event -> Double? in
                            let value = event.kv.value
                            guard value.count >= 8 else { return nil }
                            let nanos = value.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
                            return now - Double(nanos) / 1e9
                        } : []
                        self.state.withLock { s in
                            s.events += message.events.count
                            s.latencies.append(contentsOf: latencies)
                        }
                    }
                })
            }
            tasks.withLock { $0.append(task) }
        }
    }

    /// Watchers etcd has confirmed, and events received so far.
    public var progress: (created: Int, events: Int) { state.withLock { ($0.created, $0.events) } }

    /// The sampled latencies so far (seconds).
    public var latencies: [Double] { state.withLock { $0.latencies } }

    /// Puts `value` (prefixed with the send time) at `key`; returns the revision.
    @discardableResult
    public func put(_ key: String, value: [UInt8]) async throws -> Int64 {
        var put = Etcdserverpb_PutRequest()
        put.key = Data(key.utf8)
        let nanos = UInt64(Date().timeIntervalSince1970 * 1e9)
        put.value = Data((0..<8).map { UInt8(truncatingIfNeeded: nanos >> (8 * UInt64($0))) } + value)
        let request = put
        return try await client.kv.put(request, options: EtcdClient.unary()).header.revision
    }

    /// Deletes every key under `prefix`.
    public func deleteAll(prefix: String) async throws {
        var delete = Etcdserverpb_DeleteRangeRequest()
        delete.key = Data(prefix.utf8)
        delete.rangeEnd = Data(EtcdKeyLayout.rangeEnd(of: prefix))
        let request = delete
        _ = try await client.kv.deleteRange(request, options: EtcdClient.unary(timeout: .seconds(60)))
    }

    public func close() {
        for task in tasks.withLock({ $0 }) { task.cancel() }
        client.close()
    }
}
