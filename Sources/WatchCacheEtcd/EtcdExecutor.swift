import Foundation
import WatchCache

/// Threads of their own for everything that talks to etcd: the gRPC client's connection task, the
/// commits and reads, the feeds and the compactor all run with this executor as their preference
/// (SE-0417), not on Swift's global concurrent pool.
///
/// A ``WatchCache/Registry``'s synchronous writes wait for their commit. Called on the global
/// pool — from an async function, which is where an embedder's code runs — each such write
/// holds one of the pool's threads (as many as there are cores) while its commit is in flight;
/// were the commit itself, or the gRPC connection it needs, queued behind those threads, a few
/// writes at once would wait for each other forever (seen in a test run: two servers starting at
/// once on two cores). Here the etcd side never needs a pool thread, so such a write only waits
/// for etcd.
final class EtcdExecutor: TaskExecutor {
    /// The one executor of the process: its threads idle when there is no etcd work.
    static let shared = EtcdExecutor(threads: max(2, ProcessInfo.processInfo.activeProcessorCount))

    private let threads: WorkerThreads

    private init(threads: Int) {
        self.threads = WorkerThreads(name: "etcd", count: threads)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        threads.submit { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
