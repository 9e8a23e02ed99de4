import Prometheus
import Synchronization

/// How many connection handlers of each protocol a server has alive — created and not yet freed —
/// so a handler that outlives its connection (a reference cycle) shows as a count that never
/// returns to zero: `watchcache_connection_handlers` in `/metrics`.
final class ConnectionCensus: Sendable {
    let http2 = Atomic(0)
    let http1 = Atomic(0)
    /// Connections whose protocol is not known yet (no full preface or request line).
    let undecided = Atomic(0)
    /// The gauges, by protocol, set from the counts at each scrape.
    private let http2Gauge: Gauge
    private let http1Gauge: Gauge
    private let undecidedGauge: Gauge

    init(metrics: PrometheusCollectorRegistry) {
        func gauge(_ name: String) -> Gauge {
            metrics.makeGauge(descriptor: .named("watchcache_connection_handlers",
                                                 help: "Connection handlers alive (a connection's state, until it is freed)."),
                              labels: [("protocol", name)])
        }
        http2Gauge = gauge("h2")
        http1Gauge = gauge("http/1.1")
        undecidedGauge = gauge("undecided")
    }

    /// Sets the gauges to the counts of this moment (before a scrape).
    func report() {
        http2Gauge.set(to: Double(http2.load(ordering: .relaxed)))
        http1Gauge.set(to: Double(http1.load(ordering: .relaxed)))
        undecidedGauge.set(to: Double(undecided.load(ordering: .relaxed)))
    }
}
