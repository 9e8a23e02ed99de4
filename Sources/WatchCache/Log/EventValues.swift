/// An event's label values and selectable-field values, after and before the change, as the ids
/// of its log's ``LabelTable`` and ``FieldValueTable``: kept beside its ``EventDigest`` and read
/// only by scans whose selectors check values, for the events the digest lets through.
struct EventValues: Sendable {
    var labelsNow = LabelPairs()
    var labelsBefore = LabelPairs()
    var fieldsNow = FieldValueIDs()
    var fieldsBefore = FieldValueIDs()

    /// Whether the event may concern a watch whose selectors are `labels` and `fields`, when its
    /// digest let the object after the change (`now`) and before it (`before`) through.
    @inline(__always)
    func admit(labels: LabelScan, fields: FieldScan, now: Bool, before: Bool) -> Bool {
        now && labels.admit(labelsNow) && fields.admit(fieldsNow) || before && labels.admit(labelsBefore) && fields.admit(fieldsBefore)
    }
}
