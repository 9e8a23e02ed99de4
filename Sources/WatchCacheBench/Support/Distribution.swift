/// Summary figures of a sample: count, total, mean, p50, p99, max.
public struct Distribution: Sendable, Hashable {
    public var count: Int
    public var total: Double
    public var mean: Double
    public var p50: Double
    public var p99: Double
    public var max: Double

    /// Figures known already (a histogram's bounds, say).
    public init(count: Int, total: Double, mean: Double, p50: Double, p99: Double, max: Double) {
        self.count = count
        self.total = total
        self.mean = mean
        self.p50 = p50
        self.p99 = p99
        self.max = max
    }

    public init(_ values: [Double]) {
        count = values.count
        total = values.reduce(0, +)
        mean = values.isEmpty ? 0 : total / Double(values.count)
        let sorted = values.sorted()
        func quantile(_ q: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            // Nearest rank: the smallest value with at least q of the sample at or below it.
            let rank = Int((q * Double(sorted.count)).rounded(.up))
            return sorted[Swift.max(0, Swift.min(sorted.count - 1, rank - 1))]
        }
        p50 = quantile(0.5)
        p99 = quantile(0.99)
        max = sorted.last ?? 0
    }
}
