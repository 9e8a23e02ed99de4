/// The labels one event log has met: each key gets a bit of a 64-bit mask and each value an id, so
/// that an ``EventDigest`` can say exactly which keys an object's labels have and, for up to eight
/// of them, which values — and a scan can decide most label selectors without loading the event.
///
/// The Bloom signature of a label set answers "may have `k=v`": enough to pass over events an
/// equality cannot match, never enough for `!k` ("surely has `k`"), `k` ("surely lacks it"), or
/// `k!=v` ("surely has `k=v`"). These are exact: the first 63 distinct keys get bits 0...62 as the
/// log first meets them, bit 63 stands for every other key; values get ids until there are
/// `maximumValues` (then ``unknownValue``). Past those bounds a scan reads the events it cannot
/// decide in full, as before.
///
/// Nothing is forgotten while the log lives (a relist starts a new log and a new table), so a key
/// or value has the same bit or id in every digest of the log: the events holding one were all
/// digested after it got it, and one first met with the table full never gets one.
struct LabelTable {
    private var keyBits: [String: UInt8] = [:]
    /// Each keyed bit's values and their ids (1...; unique across keys).
    private var valueIDs: [[String: UInt32]] = []
    private var values = 0
    /// How many values get ids.
    let maximumValues: Int

    /// A table that gives ids to at most `maximumValues` values (the default, 2^18, holds at most
    /// about 20 MB of strings per log).
    init(maximumValues: Int = 1 << 18) {
        self.maximumValues = min(maximumValues, Int(Self.unknownValue) - 1)
    }

    /// The bit that stands for the keys without one of their own.
    static let otherKeys: UInt64 = 1 << 63
    /// The id of a value met once the table was full.
    static let unknownValue: UInt32 = 0xFF_FFFF

    /// The keys of `labels` as a mask, and up to eight of their (key, value) pairs, giving bits and
    /// ids to new keys and values while there is room.
    mutating func digest(of labels: LabelSet) -> (keys: UInt64, pairs: LabelPairs) {
        var mask: UInt64 = 0
        var pairs = LabelPairs()
        var lane = 0
        labels.forEachPair { key, value in
            let bit: UInt8
            if let known = keyBits[key] {
                bit = known
            } else if keyBits.count < 63 {
                bit = UInt8(keyBits.count)
                keyBits[key] = bit
                valueIDs.append([:])
            } else {
                mask |= Self.otherKeys
                return
            }
            mask |= 1 << bit
            guard lane < LabelPairs.lanes else { return }
            var id = valueIDs[Int(bit)][value] ?? Self.unknownValue
            if id == Self.unknownValue, values < maximumValues {
                values += 1
                id = UInt32(values)
                valueIDs[Int(bit)][value] = id
            }
            pairs.entries[lane] = LabelPairs.entry(bit: bit, id: id)
            lane += 1
        }
        return (mask, pairs)
    }

    /// `key`'s own bit, if it has one.
    func bit(of key: String) -> UInt8? {
        keyBits[key]
    }

    /// What a label set must hold, in this table's terms, to satisfy `selector`.
    ///
    /// `k=v`, `k in (…)`, `k`, `k>n` and `k<n` need `k` (a key without a bit needs ``otherKeys``:
    /// a label set without it has no key outside the table); `!k` needs `k` absent (only a key with
    /// a bit can be known present). The values of `=`, `in`, `!=` and `notin` on a key with a bit
    /// are checked against the pairs' ids (a value without an id is no event's known value).
    func scan(for selector: LabelSelector) -> LabelScan {
        var scan = LabelScan()
        for r in selector.requirements {
            let bit = keyBits[r.key]
            switch r.op {
            case .equals, .doubleEquals, .in, .exists, .greaterThan, .lessThan:
                scan.present |= bit.map { 1 << $0 } ?? Self.otherKeys
            case .doesNotExist:
                if let bit { scan.absent |= 1 << bit }
            case .notEquals, .notIn:
                break
            }
            // At most two value terms of at most four values each: kept inline, nothing allocated.
            guard let bit, scan.valueTerms < 2, r.values.count <= 4 else { continue }
            switch r.op {
            case .equals, .doubleEquals, .in, .notEquals, .notIn:
                var ids = SIMD4<UInt32>()  // 0 is no value's id
                for (i, value) in r.values.enumerated() { ids[i] = valueIDs[Int(bit)][value] ?? 0 }
                let term = LabelScan.ValueTerm(tag: LabelPairs.tag(of: bit), ids: ids, accepts: r.op != .notEquals && r.op != .notIn)
                if scan.valueTerms == 0 { scan.first = term } else { scan.second = term }
                scan.valueTerms += 1
            default:
                break
            }
        }
        return scan
    }
}

/// Up to eight of a label set's (key bit, value id) pairs, one per lane: `(bit + 1) << 24 | id`,
/// 0 for an empty lane. 32 bytes.
struct LabelPairs: Sendable {
    static let lanes = 8
    var entries = SIMD8<UInt32>()

    static func tag(of bit: UInt8) -> UInt32 { UInt32(bit) + 1 }

    static func entry(bit: UInt8, id: UInt32) -> UInt32 { tag(of: bit) << 24 | id }

    /// The value id of the key with `tag`, if it is among the lanes.
    @inline(__always)
    func value(of tag: UInt32) -> UInt32? {
        for lane in 0..<Self.lanes where entries[lane] &>> 24 == tag { return entries[lane] & 0xFF_FFFF }
        return nil
    }
}

/// What a label selector needs of a ``LabelTable``'s digest: keys present and absent, and the
/// values up to two keys must or must not have. Inline: a scan makes one per chunk.
struct LabelScan {
    struct ValueTerm {
        /// ``LabelPairs/tag(of:)`` of the key.
        var tag: UInt32 = 0
        /// The ids of the selector's values (0 for a value without one).
        var ids = SIMD4<UInt32>()
        /// `=` and `in` (the value must be among `ids`), or `!=` and `notin` (must not).
        var accepts = true

        /// Whether a label set with `pairs` surely fails this term.
        @inline(__always)
        func rejects(_ pairs: LabelPairs) -> Bool {
            // Not among the lanes (absent, or past the eighth), or a value without an id: unknown.
            guard let id = pairs.value(of: tag), id != LabelTable.unknownValue else { return false }
            return (ids[0] == id || ids[1] == id || ids[2] == id || ids[3] == id) != accepts
        }
    }

    var present: UInt64 = 0
    var absent: UInt64 = 0
    var first = ValueTerm()
    var second = ValueTerm()
    /// How many of `first` and `second` are set.
    var valueTerms = 0

    /// Whether it requires nothing.
    var isEmpty: Bool { present == 0 && absent == 0 && valueTerms == 0 }

    /// Whether a label set with the keys `keys` may satisfy the selector.
    @inline(__always)
    func admit(keys: UInt64) -> Bool {
        keys & present == present && keys & absent == 0
    }

    /// Whether a label set with the pairs `pairs` may satisfy the selector's value terms.
    @inline(__always)
    func admit(_ pairs: LabelPairs) -> Bool {
        !(valueTerms > 0 && first.rejects(pairs) || valueTerms > 1 && second.rejects(pairs))
    }

}
