/// A few hashes of an event, kept beside it in the log so that a scan for a watch can pass over
/// events that cannot concern it without loading them: the indexed-field value, namespace and
/// store key of the object after and before the change, small Bloom filters of its labels and
/// selectable fields, and its label keys exactly (its label and field values are beside it:
/// ``EventValues``).
///
/// A digest only ever says "may concern": an event that passes is then checked in full, so a hash
/// collision costs a full check, never a wrong answer. 64 bytes: one cache line per event.
struct EventDigest {
    /// The indexed-field value's hash after the change (for `.deleted`, in the last state) and
    /// before it (for `.added`, the same: its previous object does not exist).
    var valueNow: UInt32 = 0
    var valueBefore: UInt32 = 0
    /// The object's namespace and store key (the same before and after).
    var namespace: UInt32 = 0
    var key: UInt32 = 0
    /// ``LabelSet/signature`` of the labels after and before the change.
    var labelsNow: UInt64 = 0
    var labelsBefore: UInt64 = 0
    /// ``KubeObject/fieldSignature`` after and before the change.
    var fieldsNow: UInt64 = 0
    var fieldsBefore: UInt64 = 0
    /// The label keys after and before the change, as bits of the log's ``LabelTable``.
    var keysNow: UInt64 = 0
    var keysBefore: UInt64 = 0

    init() {}

    /// The digest of `event`, whose labels get their bits and ids from `labels` and field values
    /// their ids from `fields`; `values` gets those ids.
    init(_ event: CacheEvent, labels table: inout LabelTable, fields: inout FieldValueTable, values: inout EventValues) {
        let object = event.object, previous = event.previous ?? object
        valueNow = object.indexedValue.map(Self.hash) ?? 0
        valueBefore = previous.indexedValue.map(Self.hash) ?? 0
        namespace = Self.hash(object.namespace)
        key = Self.hash(object.key)
        labelsNow = object.labels.signature
        labelsBefore = previous.labels.signature
        fieldsNow = object.fieldSignature
        fieldsBefore = previous.fieldSignature
        (keysNow, values.labelsNow) = table.digest(of: object.labels)
        // Most changes keep the labels: comparing a few short strings is cheaper than hashing them.
        (keysBefore, values.labelsBefore) = previous.labels == object.labels ? (keysNow, values.labelsNow) : table.digest(of: previous.labels)
        values.fieldsNow = fields.ids(of: object)
        values.fieldsBefore = previous === object ? values.fieldsNow : fields.ids(of: previous)
    }

    /// A value's hash, never 0 (that means "no value"); stable within the process.
    static func hash(_ value: String) -> UInt32 {
        let h = UInt32(truncatingIfNeeded: value.hashValue)
        return h == 0 ? 1 : h
    }
}

/// What a watch's filter requires of an object, in ``EventDigest`` terms: an event whose digest
/// fails it on both sides (after and before the change) cannot be selected, nor leave the
/// selection, so a scan skips it.
struct DigestRequirement: Sendable {
    /// Hashes that must be equal (0: no requirement).
    var indexedValue: UInt32 = 0
    var namespace: UInt32 = 0
    var key: UInt32 = 0
    /// Bits that must all be set in the label signature (the selector's equality requirements).
    var labels: UInt64 = 0
    /// Bits that must all be set in the field signature (the field selector's `=` terms).
    var fields: UInt64 = 0
    /// Alternatives, one of which must be all set in the label signature (a `k in (a,b)`
    /// requirement: ``LabelSelector/alternativeSignatures``); empty: no such requirement.
    var labelsAnyOf: [UInt64] = []

    /// Whether it requires nothing (a scan then reads every event).
    var isEmpty: Bool { indexedValue == 0 && namespace == 0 && key == 0 && labels == 0 && fields == 0 && labelsAnyOf.isEmpty }

    /// Whether the event with `digest` and `values` may concern a watch with this requirement
    /// whose label and field selectors are `labels` and `fields` in the terms of the event's log
    /// (``LabelTable/scan(for:)``, ``FieldValueTable/scan(for:)``): its object may match after
    /// the change or before it. (A scan does the same in two steps, reading `values` only for
    /// the events ``sides(_:selector:)`` lets through.)
    @inline(__always)
    func mayConcern(_ digest: EventDigest, labels selector: LabelScan, fields: FieldScan, values: EventValues) -> Bool {
        let (now, before) = sides(digest, selector: selector)
        return values.admit(labels: selector, fields: fields, now: now, before: before)
    }

    /// Whether the object after the change (`now`) and before it (`before`) may match, as far as
    /// the digest tells (with `selector`'s label keys, not its values).
    @inline(__always)
    func sides(_ digest: EventDigest, selector: LabelScan) -> (now: Bool, before: Bool) {
        guard namespace == 0 || digest.namespace == namespace, key == 0 || digest.key == key else { return (false, false) }
        let now = (indexedValue == 0 || digest.valueNow == indexedValue) && digest.labelsNow & labels == labels
            && digest.fieldsNow & fields == fields && Self.holdsOne(of: labelsAnyOf, digest.labelsNow)
            && selector.admit(keys: digest.keysNow)
        let before = (indexedValue == 0 || digest.valueBefore == indexedValue) && digest.labelsBefore & labels == labels
            && digest.fieldsBefore & fields == fields && Self.holdsOne(of: labelsAnyOf, digest.labelsBefore)
            && selector.admit(keys: digest.keysBefore)
        return (now, before)
    }

    /// Whether `signature` has all the bits of one of `alternatives` (true when there are none).
    @inline(__always)
    static func holdsOne(of alternatives: [UInt64], _ signature: UInt64) -> Bool {
        alternatives.isEmpty || alternatives.contains { signature & $0 == $0 }
    }
}
