import Prometheus
import Synchronization

/// Request counts and latencies by verb and code (`apiserver_request_total`,
/// `apiserver_request_duration_seconds`), on the server's Prometheus registry.
final class RequestMetrics: Sendable {
    /// Histogram bucket bounds.
    static let buckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5),
    ]
    static var totalName: MetricNameDescriptor { .named(
        "apiserver_request_total", help: "Requests answered, by verb and HTTP code (a watch counts when it starts).") }
    static var durationName: MetricNameDescriptor { .named(
        "apiserver_request_duration_seconds", help: "Time to answer a request (to the start of the stream for watches).") }

    private struct Series {
        var latency: DurationHistogram
        var byCode: [Int: Counter] = [:]
    }

    private let registry: PrometheusCollectorRegistry
    /// The series made so far, by verb: a lookup per request instead of a registration.
    private let series = Mutex<[String: Series]>([:])

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func record(verb: String, code: Int, seconds: Double) {
        let (latency, counter) = series.withLock { all in
            var s = all[verb] ?? Series(latency: registry.makeDurationHistogram(descriptor: Self.durationName, labels: [("verb", verb)], buckets: Self.buckets))
            let counter = s.byCode[code] ?? registry.makeCounter(descriptor: Self.totalName, labels: [("verb", verb), ("code", String(code))])
            s.byCode[code] = counter
            all[verb] = s
            return (s.latency, counter)
        }
        counter.increment()
        latency.record(.nanoseconds(Int64(max(0, seconds) * 1e9)))
    }
}
