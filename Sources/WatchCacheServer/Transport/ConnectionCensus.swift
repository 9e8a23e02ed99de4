import Synchronization

/// How many connection handlers of each protocol a server has alive — created and not yet freed —
/// so a handler that outlives its connection (a reference cycle) shows as a count that never
/// returns to zero: `watchcache_connection_handlers` in `/metrics`.
final class ConnectionCensus: Sendable {
    let http2 = Atomic(0)
    let http1 = Atomic(0)
    /// Connections whose protocol is not known yet (no full preface or request line).
    let undecided = Atomic(0)

    func render(into page: inout String) {
        page += "# HELP watchcache_connection_handlers Connection handlers alive (a connection's state, until it is freed).\n"
        page += "# TYPE watchcache_connection_handlers gauge\n"
        page += "watchcache_connection_handlers{protocol=\"h2\"} \(http2.load(ordering: .relaxed))\n"
        page += "watchcache_connection_handlers{protocol=\"http/1.1\"} \(http1.load(ordering: .relaxed))\n"
        page += "watchcache_connection_handlers{protocol=\"undecided\"} \(undecided.load(ordering: .relaxed))\n"
    }
}
