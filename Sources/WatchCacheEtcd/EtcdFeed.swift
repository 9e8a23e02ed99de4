import Foundation
import GRPCCore
import Logging
import Synchronization
import WatchCache

/// One resource's feed from etcd, as kube-apiserver's reflector runs it: a list at one revision,
/// then a watch of the resource's key range from the next revision with `prev_kv` and progress
/// notifications. A broken stream (a member gone, the network) resumes from the last revision
/// delivered, on whichever member answers — no relist while etcd still has that history; a watch
/// that etcd cancels because its start was compacted relists.
final class EtcdFeed: FeedSubscription {
    private let task = Mutex<Task<Void, Never>?>(nil)
    /// The newest revision delivered to the sink (`nil`: list first).
    private let position = Mutex<Int64?>(nil)
    /// Relists (after the first list) and watch restarts, for tests and logs.
    let relists = Atomic(0)
    let restarts = Atomic(0)
    /// Set when a watch stream delivered its first answer: failures counted before it are forgiven.
    private let streaming = Atomic(false)

    /// Starts following `resource` into `sink`: from a list, or — `resumingAfter` — by watching
    /// from the revision after that one, as a feed does when its stream broke.
    static func start(resource: ResourceDescriptor, storage: EtcdStorage, sink: any ChangeFeedSink,
                      resumingAfter revision: ResourceVersion? = nil) -> EtcdFeed {
        let feed = EtcdFeed()
        feed.position.withLock { $0 = revision.map { Int64($0.rawValue) } }
        let task = Task(executorPreference: EtcdExecutor.shared) { await feed.run(resource: resource, storage: storage, sink: sink) }
        feed.task.withLock { $0 = task }
        return feed
    }

    func cancel() {
        task.withLock { $0?.cancel() }
    }

    private func run(resource: ResourceDescriptor, storage: EtcdStorage, sink: any ChangeFeedSink) async {
        let logger = storage.logger
        var failures = 0
        var listed = false
        while !Task.isCancelled {
            do {
                if position.withLock({ $0 }) == nil {
                    let snapshot = try await storage.list(resource)
                    sink.replace(snapshot)
                    position.withLock { $0 = Int64(snapshot.version.rawValue) }
                    if listed { relists.add(1, ordering: .relaxed) }
                    listed = true
                } else {
                    listed = true
                }
                try await watch(resource, storage: storage, sink: sink)
            } catch EtcdError.compacted {
                logger.warning("etcd compacted past the cache's revision: listing again",
                               metadata: ["watchcache.resource": "\(resource.qualifiedPlural)",
                                          "revision": "\(position.withLock { $0 } ?? 0)"])
                position.withLock { $0 = nil }
                continue
            } catch {
                if Task.isCancelled { return }
                if streaming.exchange(false, ordering: .relaxed) { failures = 0 }
                failures += 1
                if failures == 1 || failures % 20 == 0 {
                    logger.warning("etcd watch broke, resuming from the last revision", metadata: [
                        "watchcache.resource": "\(resource.qualifiedPlural)", "error": "\(error)",
                        "revision": "\(position.withLock { $0 } ?? 0)", "attempt": "\(failures)"])
                }
            }
            if Task.isCancelled { return }
            restarts.add(1, ordering: .relaxed)
            // Quick after a first failure, slower while etcd stays away.
            try? await Task.sleep(for: .milliseconds(min(2_000, 50 * (1 << min(failures, 6)))))
        }
    }

    /// Watches from the revision after the last delivered one until the stream ends or fails.
    private func watch(_ resource: ResourceDescriptor, storage: EtcdStorage, sink: any ChangeFeedSink) async throws {
        guard let from = position.withLock({ $0 }) else { return }
        let folder = storage.layout.folder(of: resource)
        var create = Etcdserverpb_WatchCreateRequest()
        create.key = Data(folder.utf8)
        create.rangeEnd = Data(EtcdKeyLayout.rangeEnd(of: folder))
        create.startRevision = from + 1
        create.progressNotify = true
        create.prevKv = true
        var request = Etcdserverpb_WatchRequest()
        request.createRequest = create
        let first = request
        let logger = storage.logger
        try await storage.client.watch.watch(options: EtcdClient.streaming, requestProducer: { writer in
            try await writer.write(first)
            // The request stream stays open for as long as the watch runs.
            while !Task.isCancelled { try await Task.sleep(for: .seconds(3600)) }
        }, onResponse: { response in
            var flowing = false
            for try await message in response.messages {
                if message.compactRevision > 0 {
                    throw EtcdError.compacted(ResourceVersion(UInt64(message.compactRevision)))
                }
                if message.canceled {
                    throw EtcdError.protocolViolation("watch canceled: \(message.cancelReason)")
                }
                if !flowing {
                    flowing = true
                    self.streaming.store(true, ordering: .relaxed)
                }
                if message.created { continue }
                if message.events.isEmpty {
                    // A progress notification: everything up to this revision has been sent.
                    let revision = message.header.revision
                    let advanced = self.position.withLock { p in
                        guard revision > (p ?? 0) else { return false }
                        p = revision
                        return true
                    }
                    if advanced { sink.progress(ResourceVersion(UInt64(revision))) }
                    continue
                }
                for event in message.events {
                    let revision = event.kv.modRevision
                    guard revision > (self.position.withLock { $0 } ?? 0) else { continue }  // delivered before a reconnect
                    do {
                        sink.apply(try Self.change(event, resource: resource, layout: storage.layout))
                    } catch {
                        logger.error("skipping an etcd event", metadata: ["error": "\(error)"])
                    }
                    self.position.withLock { $0 = revision }
                }
            }
        })
    }

    /// The cache's change for one etcd event.
    static func change(_ event: Mvccpb_Event, resource: ResourceDescriptor, layout: EtcdKeyLayout) throws(EtcdError) -> Change {
        let kv = event.kv
        switch event.type {
        case .put:
            return .put(try EtcdValueCodec.decode(Array(kv.value), key: Array(kv.key), revision: kv.modRevision, resource: resource))
        case .delete:
            if event.hasPrevKv {
                return .delete(try EtcdValueCodec.decode(Array(event.prevKv.value), key: Array(kv.key), revision: kv.modRevision, resource: resource))
            }
            // The previous value was compacted away: the key names the object.
            return .delete(try tombstone(key: Array(kv.key), revision: kv.modRevision, resource: resource, layout: layout))
        case .UNRECOGNIZED(let value):
            throw EtcdError.protocolViolation("unknown event type \(value)")
        }
    }

    private static func tombstone(key: [UInt8], revision: Int64, resource: ResourceDescriptor, layout: EtcdKeyLayout) throws(EtcdError) -> KubeObject {
        let text = String(decoding: key, as: UTF8.self)
        let path = text.dropFirst(layout.folder(of: resource).count).split(separator: "/").map(String.init)
        var metadata = JSONObject([("name", .string(path.last ?? ""))])
        if resource.namespaced, path.count == 2 { metadata["namespace"] = .string(path[0]) }
        let json = JSONObject([("kind", .string(resource.kind)), ("apiVersion", .string(resource.apiVersion)), ("metadata", .object(metadata))])
        return try EtcdValueCodec.decode(JSONWriter.encode(.object(json)), key: key, revision: revision, resource: resource)
    }
}
