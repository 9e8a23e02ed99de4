/// An object's labels: a few key/value pairs kept sorted by key in one array.
///
/// Objects carry a handful of labels, and selectors look up a key in every object a LIST or
/// replay scans: comparing a few strings directly is cheaper than hashing the key, and one small
/// array is far smaller than a hash table.
public struct LabelSet: Hashable, Sendable, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    private var pairs: [(key: String, value: String)]
    /// A 64-bit Bloom filter of the pairs (two bits each, ``bits(key:value:)``): a selector's
    /// equality requirements whose bits are not all here cannot match, without reading a string.
    private(set) var signature: UInt64 = 0

    /// The labels of `dictionary`.
    public init(_ dictionary: [String: String]) {
        pairs = dictionary.map { ($0.key, $0.value) }.sorted { $0.key < $1.key }
        for pair in pairs { signature |= Self.bits(key: pair.key, value: pair.value) }
    }

    /// The two signature bits of the label `key=value` (from one hash, stable within the process).
    static func bits(key: String, value: String) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(key)
        hasher.combine(value)
        let h = UInt64(truncatingIfNeeded: hasher.finalize())
        return 1 << (h & 63) | 1 << ((h >> 6) & 63)
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }

    /// The value of `key`, if the label is set.
    public subscript(key: String) -> String? {
        for pair in pairs where pair.key == key { return pair.value }
        return nil
    }

    /// Calls `body` with each key and value, in key order.
    func forEachPair(_ body: (String, String) -> Void) {
        for pair in pairs { body(pair.key, pair.value) }
    }

    public var count: Int { pairs.count }
    public var isEmpty: Bool { pairs.isEmpty }

    /// The labels as a dictionary.
    public var dictionary: [String: String] { Dictionary(uniqueKeysWithValues: pairs.map { ($0.key, $0.value) }) }

    public var description: String { pairs.map { "\($0.key)=\($0.value)" }.joined(separator: ",") }

    public static func == (a: LabelSet, b: LabelSet) -> Bool {
        a.pairs.count == b.pairs.count && zip(a.pairs, b.pairs).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        for pair in pairs {
            hasher.combine(pair.key)
            hasher.combine(pair.value)
        }
    }
}
