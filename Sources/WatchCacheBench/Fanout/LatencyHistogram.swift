/// Latencies in log-linear buckets (about 1% wide), so quantiles of millions of samples cost a
/// fixed few kilobytes; mergeable across event loops.
public struct LatencyHistogram: Sendable, Hashable {
    /// 100 sub-buckets per power of two, from 1 µs to ~1.2 hours.
    static let subBuckets = 100
    static let octaves = 32
    private(set) var counts = [UInt64](repeating: 0, count: LatencyHistogram.subBuckets * LatencyHistogram.octaves)
    public private(set) var count: UInt64 = 0
    public private(set) var sumSeconds = 0.0
    public private(set) var maxSeconds = 0.0

    public init() {}

    public mutating func record(seconds: Double) {
        let micros = max(1, seconds * 1e6)
        let octave = min(Self.octaves - 1, Int(micros.exponent))
        let fraction = micros / Double(sign: .plus, exponent: octave, significand: 1) - 1  // 0..<1
        let sub = min(Self.subBuckets - 1, Int(fraction * Double(Self.subBuckets)))
        counts[octave * Self.subBuckets + sub] += 1
        count += 1
        sumSeconds += max(0, seconds)
        maxSeconds = max(maxSeconds, seconds)
    }

    public mutating func merge(_ other: LatencyHistogram) {
        for i in counts.indices { counts[i] += other.counts[i] }
        count += other.count
        sumSeconds += other.sumSeconds
        maxSeconds = max(maxSeconds, other.maxSeconds)
    }

    /// The upper bound of the bucket holding the `q` quantile, in seconds (0 when empty).
    public func quantile(_ q: Double) -> Double {
        guard count > 0 else { return 0 }
        let rank = UInt64((q * Double(count)).rounded(.up))
        var seen: UInt64 = 0
        for (i, n) in counts.enumerated() where n > 0 {
            seen += n
            if seen >= rank {
                let octave = i / Self.subBuckets, sub = i % Self.subBuckets
                let upper = Double(sign: .plus, exponent: octave, significand: 1) * (1 + Double(sub + 1) / Double(Self.subBuckets))
                return min(upper / 1e6, maxSeconds)
            }
        }
        return maxSeconds
    }

    public var meanSeconds: Double { count == 0 ? 0 : sumSeconds / Double(count) }
}
