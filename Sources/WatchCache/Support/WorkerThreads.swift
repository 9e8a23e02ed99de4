import DequeModule
import Dispatch
import Foundation
import Synchronization

/// A few threads of their own for blocking work handed off — the caches' reads of a watch's events
/// from the history archive on disk, the etcd storage's tasks (`EtcdExecutor`) — run in the order
/// it was submitted.
///
/// Not Dispatch's global queue: on Linux it runs about as many blocks at once as there are cores
/// and adds a thread about once a second while they block, so a read queued behind other blocking
/// work in the process (an embedder's, a test run's) could start seconds late — a resumed watch
/// waiting that long for events it is owed. These threads wait for nothing but their own work.
package final class WorkerThreads: Sendable {
    /// The archive readers: two, so one slow read does not hold up the next.
    static let archive = WorkerThreads(name: "watchcache-archive", count: 2)

    private let work = Mutex(Deque<@Sendable () -> Void>())
    private let ready = DispatchSemaphore(value: 0)

    package init(name: String, count: Int) {
        for n in 0..<count {
            let thread = Thread { [self] in run() }
            thread.name = "\(name)-\(n)"
            thread.start()
        }
    }

    /// Runs `body` on one of the threads, after the work submitted before it has started.
    package func submit(_ body: @escaping @Sendable () -> Void) {
        work.withLock { $0.append(body) }
        ready.signal()
    }

    private func run() {
        while true {
            ready.wait()
            // One signal per submission: there is one to take.
            guard let body = work.withLock({ $0.popFirst() }) else { continue }
            body()
        }
    }
}
