/// The label keys one event log has seen, each given a bit of a 64-bit mask, so that an
/// ``EventDigest`` can say exactly which keys an object's labels have.
///
/// The Bloom signature of a label set answers "may have `k=v`" — enough to pass over events a
/// selector's equalities cannot match, never enough for `!k` ("surely has `k`") or `k` ("surely
/// lacks it"). These masks are exact: the first 63 distinct keys get bits 0...62 as the log first
/// meets them, and bit 63 stands for every other key. A resource's objects use far fewer keys than
/// that; past them, a scan still skips on the keys that have bits and reads the rest in full.
///
/// Keys are never forgotten while the log lives (a relist starts a new log and a new table), so a
/// key has the same bit in every digest of the log: the events holding a key with a bit were all
/// digested after it got it, and a key without one was first met with the table full and so has
/// none in any digest.
struct LabelKeyTable {
    private var bits: [String: UInt8] = [:]

    /// The bit that stands for the keys without one of their own.
    static let otherKeys: UInt64 = 1 << 63

    /// The mask of `labels`' keys, giving a bit to each new key while there are bits left.
    mutating func mask(of labels: LabelSet) -> UInt64 {
        var mask: UInt64 = 0
        labels.forEachKey { key in
            if let bit = bits[key] {
                mask |= 1 << bit
            } else if bits.count < 63 {
                let bit = UInt8(bits.count)
                bits[key] = bit
                mask |= 1 << bit
            } else {
                mask |= Self.otherKeys
            }
        }
        return mask
    }

    /// `key`'s own bit, if it has one.
    func bit(of key: String) -> UInt64? {
        bits[key].map { 1 << $0 }
    }

    /// The keys a label set must have and must lack to satisfy `selector`, in this table's bits.
    ///
    /// `k=v`, `k in (…)`, `k`, `k>n` and `k<n` need `k` (a key without a bit needs ``otherKeys``:
    /// a label set without it has no key outside the table); `!k` needs `k` absent (only a key with
    /// a bit can be known present). `k!=v` and `k notin (…)` hold when `k` is absent: no mask.
    func masks(for selector: LabelSelector) -> LabelKeyMasks {
        var masks = LabelKeyMasks()
        for r in selector.requirements {
            switch r.op {
            case .equals, .doubleEquals, .in, .exists, .greaterThan, .lessThan:
                masks.present |= bit(of: r.key) ?? Self.otherKeys
            case .doesNotExist:
                if let bit = bit(of: r.key) { masks.absent |= bit }
            case .notEquals, .notIn:
                break
            }
        }
        return masks
    }
}

/// The label keys a selector needs present and absent, as bits of a ``LabelKeyTable``.
struct LabelKeyMasks: Sendable {
    var present: UInt64 = 0
    var absent: UInt64 = 0

    /// Whether it requires nothing.
    var isEmpty: Bool { present == 0 && absent == 0 }

    /// Whether a label set whose keys are `mask` may satisfy the selector.
    @inline(__always)
    func admit(_ mask: UInt64) -> Bool {
        mask & present == present && mask & absent == 0
    }
}
