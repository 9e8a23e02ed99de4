import Synchronization
import WatchCache

/// kube-apiserver's max-in-flight filter: at most so many read-only and so many mutating requests
/// at once (`--max-requests-inflight`, `--max-mutating-requests-inflight`; 0 = no limit). Watches
/// are long-running and not counted; health and metrics are never turned away. Over the limit a
/// request gets 429 TooManyRequests with `Retry-After: 1`, which client-go backs off on and retries.
final class InFlightLimiter: Sendable {
    enum Kind: Int, Sendable { case readOnly = 0, mutating = 1 }

    private let readOnlyLimit: Int
    private let mutatingLimit: Int
    private let readOnlyNow = Atomic(0)
    private let mutatingNow = Atomic(0)
    private let readOnlyDropped = Atomic(0)
    private let mutatingDropped = Atomic(0)

    init(readOnly: Int, mutating: Int) {
        readOnlyLimit = readOnly
        mutatingLimit = mutating
    }

    static let tooManyRequests = Status(code: 429, reason: .tooManyRequests, message: "Too many requests, please try again later.",
                                        details: .init(retryAfterSeconds: 1))

    static func kind(of method: String) -> Kind {
        method == "GET" || method == "HEAD" || method == "OPTIONS" ? .readOnly : .mutating
    }

    /// Takes a slot; false (and counted as dropped) when all are taken.
    func acquire(_ kind: Kind) -> Bool {
        switch kind {
        case .readOnly: Self.acquire(readOnlyNow, limit: readOnlyLimit, dropped: readOnlyDropped)
        case .mutating: Self.acquire(mutatingNow, limit: mutatingLimit, dropped: mutatingDropped)
        }
    }

    private static func acquire(_ counter: borrowing Atomic<Int>, limit: Int, dropped: borrowing Atomic<Int>) -> Bool {
        let now = counter.wrappingAdd(1, ordering: .relaxed).newValue
        guard limit > 0, now > limit else { return true }
        counter.wrappingSubtract(1, ordering: .relaxed)
        dropped.wrappingAdd(1, ordering: .relaxed)
        return false
    }

    func release(_ kind: Kind) {
        switch kind {
        case .readOnly: readOnlyNow.wrappingSubtract(1, ordering: .relaxed)
        case .mutating: mutatingNow.wrappingSubtract(1, ordering: .relaxed)
        }
    }

    /// Appends `apiserver_current_inflight_requests` and `apiserver_dropped_requests_total`.
    func render(into out: inout String) {
        out += "# HELP apiserver_current_inflight_requests Requests being answered now (watches excluded), by kind.\n"
        out += "# TYPE apiserver_current_inflight_requests gauge\n"
        out += "apiserver_current_inflight_requests{request_kind=\"readOnly\"} \(readOnlyNow.load(ordering: .relaxed))\n"
        out += "apiserver_current_inflight_requests{request_kind=\"mutating\"} \(mutatingNow.load(ordering: .relaxed))\n"
        out += "# HELP apiserver_dropped_requests_total Requests answered 429 because the in-flight limit was reached, by kind.\n"
        out += "# TYPE apiserver_dropped_requests_total counter\n"
        out += "apiserver_dropped_requests_total{request_kind=\"readOnly\"} \(readOnlyDropped.load(ordering: .relaxed))\n"
        out += "apiserver_dropped_requests_total{request_kind=\"mutating\"} \(mutatingDropped.load(ordering: .relaxed))\n"
    }
}
