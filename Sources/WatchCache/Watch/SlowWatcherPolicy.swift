/// What becomes of a live watcher whose consumer does not keep up (its queue is full).
public enum SlowWatcherPolicy: String, Sendable, Hashable, CaseIterable {
    /// It stops taking live events and, once its consumer has drained its queue, reads the log
    /// from the first event it did not take, live again when it catches up — so it holds no more
    /// than its queue while behind. It is ended only when the log no longer holds that event (the
    /// 410 it would get on reconnecting anyway). Upstream Kubernetes has not shipped this.
    case park
    /// kube-apiserver's: it gets what is left of a shared time budget to drain its queue and is
    /// then ended; its client reconnects and replays.
    case terminate
}
