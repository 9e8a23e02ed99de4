import CoreMetrics
import Prometheus
import Synchronization
import WatchCache

/// The server's `/metrics`: a swift-prometheus registry in the Prometheus text format.
///
/// The caches report into it through swift-metrics when their ``Registry`` was given a
/// `PrometheusMetricsFactory` over it (``APIServer/makeMetricsFactory(registry:)``; through the
/// bootstrapped `MetricsSystem` too), under kube-apiserver's names (``ReportedMetric``). The
/// server's own metrics — requests, in-flight requests, connection handlers, the process — are made
/// on it directly. Figures kept elsewhere (cache sizes, in-flight counts, CPU, memory) are brought
/// up to date at each scrape, as a Prometheus collector reads them at collection.
final class MetricsExposition: Sendable {
    let registry: PrometheusCollectorRegistry
    private let cpuSeconds: Prometheus.Counter
    /// The CPU time already added to ``cpuSeconds`` (a counter only grows: each scrape adds the difference).
    private let cpuReported = Mutex(0.0)
    private let residentBytes: Prometheus.Gauge
    /// `# HELP` texts of the families made through swift-metrics, which carries none.
    private static let help = Dictionary(ReportedMetric.all.map { ($0.label, $0.help) }, uniquingKeysWith: { first, _ in first })

    /// Exposes the metrics of `caches`' factory when it is a Prometheus one, else a registry of its own.
    init(caches: Registry) {
        let factory = caches.metricsFactory ?? MetricsSystem.factory
        if let prometheus = factory as? PrometheusMetricsFactory {
            registry = prometheus.registry
        } else {
            // The caches report elsewhere: the page has the server's own metrics only.
            registry = PrometheusCollectorRegistry()
        }
        cpuSeconds = registry.makeCounter(descriptor: .named("process_cpu_seconds_total", help: "Total user and system CPU time spent in seconds."))
        residentBytes = registry.makeGauge(descriptor: .named("process_resident_memory_bytes", help: "Resident memory size in bytes."))
    }

    /// A factory over `registry` with the caches' histogram buckets (init events per watch start).
    static func makeFactory(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.valueHistogramBuckets[ReportedMetric.watchInitEvents.label] = InitEventHistogram.bounds.map { Double($0) }
        return factory
    }

    /// The page: the process figures read now, then every family of the registry in name order,
    /// each with its `# HELP` line.
    func page() -> [UInt8] {
        let cpu = ProcessMetrics.cpuSeconds()
        cpuReported.withLock { reported in
            if cpu > reported {
                cpuSeconds.increment(by: cpu - reported)
                reported = cpu
            }
        }
        residentBytes.set(to: Double(ProcessMetrics.residentBytes()))
        return Self.arranged(registry.emitToBuffer(), help: Self.help)
    }

    /// `text` (the Prometheus text format, families in any order) with its families sorted by
    /// name and a `# HELP` line from `help` for each family that has none.
    static func arranged(_ text: [UInt8], help: [String: String]) -> [UInt8] {
        var families: [(name: Substring, lines: [Substring])] = []
        for line in String(decoding: text, as: UTF8.self).split(separator: "\n") {
            if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") {
                let name = line.dropFirst(7).prefix { $0 != " " }
                if families.last?.name != name { families.append((name, [])) }
            } else if families.isEmpty {
                families.append(("", []))
            }
            families[families.count - 1].lines.append(line)
        }
        var out: [UInt8] = []
        out.reserveCapacity(text.count + help.count * 80)
        for family in families.sorted(by: { $0.name < $1.name }) {
            if family.lines.first?.hasPrefix("# HELP ") == false, let text = help[String(family.name)] {
                out.append(contentsOf: "# HELP \(family.name) \(text)\n".utf8)
            }
            for line in family.lines {
                out.append(contentsOf: line.utf8)
                out.append(UInt8(ascii: "\n"))
            }
        }
        return out
    }
}

extension MetricNameDescriptor {
    /// A descriptor of the whole name `name`, with its help text.
    static func named(_ name: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
}
