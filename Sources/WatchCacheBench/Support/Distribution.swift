/// Summary figures of a sample: count, total, mean, p50, p99, max.
public struct Distribution: Sendable, Hashable {
    public var count: Int
    public var total: Double
    public var mean: Double
    public var p50: Double
    public var p99: Double
    public var max: Double

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
