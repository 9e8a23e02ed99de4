import Prometheus
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
    /// `apiserver_dropped_requests_total`, by kind.
    private let readOnlyDropped: Counter
    private let mutatingDropped: Counter
    /// `apiserver_current_inflight_requests`, by kind: set from the counts at each scrape.
    private let readOnlyGauge: Gauge
    private let mutatingGauge: Gauge

    init(readOnly: Int, mutating: Int, metrics: PrometheusCollectorRegistry) {
        readOnlyLimit = readOnly
        mutatingLimit = mutating
        func dropped(_ kind: String) -> Counter {
            metrics.makeCounter(descriptor: .named("apiserver_dropped_requests_total",
                                                   help: "Requests answered 429 because the in-flight limit was reached, by kind."),
                                labels: [("request_kind", kind)])
        }
        func current(_ kind: String) -> Gauge {
            metrics.makeGauge(descriptor: .named("apiserver_current_inflight_requests",
                                                 help: "Requests being answered now (watches excluded), by kind."),
                              labels: [("request_kind", kind)])
        }
        readOnlyDropped = dropped("readOnly")
        mutatingDropped = dropped("mutating")
        readOnlyGauge = current("readOnly")
        mutatingGauge = current("mutating")
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

    private static func acquire(_ counter: borrowing Atomic<Int>, limit: Int, dropped: Counter) -> Bool {
        let now = counter.wrappingAdd(1, ordering: .relaxed).newValue
        guard limit > 0, now > limit else { return true }
        counter.wrappingSubtract(1, ordering: .relaxed)
        dropped.increment()
        return false
    }

    func release(_ kind: Kind) {
        switch kind {
        case .readOnly: readOnlyNow.wrappingSubtract(1, ordering: .relaxed)
        case .mutating: mutatingNow.wrappingSubtract(1, ordering: .relaxed)
        }
    }

    /// Sets the in-flight gauges to the counts of this moment (before a scrape).
    func reportInFlight() {
        readOnlyGauge.set(to: Double(readOnlyNow.load(ordering: .relaxed)))
        mutatingGauge.set(to: Double(mutatingNow.load(ordering: .relaxed)))
    }
}
