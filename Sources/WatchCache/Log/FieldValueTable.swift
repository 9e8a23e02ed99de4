/// The selectable-field values one event log has met, each given an id per field, so that a scan
/// can decide a field selector's terms — `status.phase!=Failed` above all, which no Bloom
/// signature can rule out — from ids kept beside the digests, without loading the event.
///
/// The first eight of a resource's own selectable fields have lanes (a pod's are its seven and
/// `spec.nodeName`; `metadata.name` and `metadata.namespace` are the digest's exact hashes).
/// Values get ids until there are `maximumValues`, then ``LabelTable/unknownValue``; an id is
/// never reassigned while the log lives, as in ``LabelTable``.
struct FieldValueTable {
    private var ids: [[String: UInt32]] = Array(repeating: [:], count: FieldValueIDs.lanes)
    private var values = 0
    /// How many values get ids.
    let maximumValues: Int

    /// The position of the first field with a lane (after `metadata.name` and `metadata.namespace`).
    static let firstPosition = 2

    init(maximumValues: Int = 1 << 18) {
        self.maximumValues = min(maximumValues, Int(LabelTable.unknownValue) - 1)
    }

    /// The ids of `object`'s field values, giving ids to new values while there is room.
    mutating func ids(of object: KubeObject) -> FieldValueIDs {
        var result = FieldValueIDs()
        let values = object.fieldValues
        for lane in 0..<min(FieldValueIDs.lanes, values.count - Self.firstPosition) {
            let value = values[Self.firstPosition + lane]
            var id = ids[lane][value] ?? LabelTable.unknownValue
            if id == LabelTable.unknownValue, self.values < maximumValues {
                self.values += 1
                id = UInt32(self.values)
                ids[lane][value] = id
            }
            result.lanes[lane] = id
        }
        return result
    }

    /// The terms of `selector` a scan can decide from ids: up to four, on fields with lanes.
    func scan(for selector: FieldSelector) -> FieldScan {
        var scan = FieldScan()
        for r in selector.requirements where scan.terms < 4 {
            let lane = r.position - Self.firstPosition
            guard lane >= 0, lane < FieldValueIDs.lanes else { continue }
            scan.lanes[scan.terms] = UInt32(lane)
            scan.ids[scan.terms] = ids[lane][r.value] ?? 0  // 0 is no value's id
            scan.equals[scan.terms] = r.equals ? 1 : 0
            scan.terms += 1
        }
        return scan
    }
}

/// An object's field value ids, one lane per field with a lane (0 past the resource's fields).
struct FieldValueIDs: Sendable {
    static let lanes = 8
    var lanes = SIMD8<UInt32>()
}

/// A field selector's terms in a ``FieldValueTable``'s ids. Inline: a scan makes one per chunk.
struct FieldScan {
    var lanes = SIMD4<UInt32>()
    var ids = SIMD4<UInt32>()
    /// 1 for `=`, 0 for `!=`.
    var equals = SIMD4<UInt32>()
    var terms = 0

    /// Whether an object with `values` may satisfy the terms: false only when one surely fails.
    @inline(__always)
    func admit(_ values: FieldValueIDs) -> Bool {
        for i in 0..<terms {
            let id = values.lanes[Int(lanes[i])]
            if id != LabelTable.unknownValue, (id == ids[i]) != (equals[i] == 1) { return false }
        }
        return true
    }
}
