/// kube-apiserver's rules for the metadata of writes: what an update keeps, when an update or a
/// DELETE marks an object deleting or removes it (finalizers, grace periods), and the helpers
/// writes share (namespace scope, type meta, uid and generated names, what counts as a spec change).
extension Registry {
    /// An update of `existing` to `object` at `version`: `uid`, `creationTimestamp` and the deletion
    /// fields kept, `generation` bumped when anything outside `metadata` and `status` changed. On
    /// an object being deleted no finalizer may be added, and the update that removes the last
    /// finalizer deletes it (kube-apiserver's `ShouldDeleteDuringUpdate`; a namespace also waits
    /// for its `spec.finalizers`).
    static func updateDecision(_ existing: KubeObject, _ object: JSONObject, metadata: JSONObject,
                                       version: ResourceVersion, setsDeletion: Bool = false) throws(Status) -> Decision {
        var object = object
        var metadata = metadata
        let existingJSON = existing.json
        let existingMetadata = existingJSON["metadata"]?.objectValue ?? JSONObject()
        for key in ["uid", "creationTimestamp"] { metadata[key] = existingMetadata[key] }
        if !setsDeletion {
            for key in ["deletionTimestamp", "deletionGracePeriodSeconds"] { metadata[key] = existingMetadata[key] }
        }
        let deleting = existingMetadata["deletionTimestamp"] != nil && existingMetadata["deletionTimestamp"] != .null
        let finalizers = Self.finalizers(metadata)
        if deleting {
            let existingFinalizers = Set(Self.finalizers(existingMetadata))
            let added = finalizers.filter { !existingFinalizers.contains($0) }
            if !added.isEmpty {
                throw Status.invalid(kind: existing.resource.kind, group: existing.resource.group, name: existing.name, errors: [
                    FieldError(field: "metadata.finalizers", type: .forbidden,
                               detail: "no new finalizers can be added if the object is being deleted, found new finalizers \(Self.goStrings(added))"),
                ])
            }
            let grace = existingMetadata["deletionGracePeriodSeconds"].flatMap { Int64($0.fieldText ?? "") } ?? 0
            let namespaceFinalizers = existing.resource.isNamespaceKind
                ? (object["spec"]?["finalizers"]?.arrayValue ?? []).isEmpty : true
            if finalizers.isEmpty && grace == 0 && namespaceFinalizers {
                let final = existing.withResourceVersion(version)
                return (.delete(final), final, existing)
            }
        }
        let generation = existing.generation ?? 1
        metadata["generation"] = .number(String(specChanged(existingJSON, object) ? generation + 1 : generation))
        metadata["resourceVersion"] = .string(version.description)
        object["metadata"] = .object(metadata)
        let stored = try KubeObject(json: object, resource: existing.resource)
        return (.put(stored), stored, existing)
    }

    /// `metadata.finalizers`.
    static func finalizers(_ metadata: JSONObject) -> [String] {
        (metadata["finalizers"]?.arrayValue ?? []).compactMap(\.stringValue)
    }

    /// A list of strings as Go's `%#v` writes it: `[]string{"a", "b"}`.
    static func goStrings(_ values: [String]) -> String {
        "[]string{" + values.map { "\"\($0)\"" }.joined(separator: ", ") + "}"
    }

    /// kube-apiserver's `BeforeDelete` and `Store.Delete` as one decision: mark the object
    /// deleting, shorten its grace period, leave it, or delete it.
    static func deletionDecision(_ existing: KubeObject, options: DeletionOptions, graceful: GracefulDeletion?,
                                         version: ResourceVersion) throws(Status) -> Decision {
        var object = existing.json
        var metadata = object["metadata"]?.objectValue ?? JSONObject()
        let requested = options.gracePeriodSeconds.map { $0 < 0 ? 1 : $0 }
        let now = Int64(WallClock.secondsSince1970())
        let deletingSince = metadata["deletionTimestamp"]?.stringValue.flatMap(WallClock.secondsSince1970(rfc3339:))
        let currentGrace = metadata["deletionGracePeriodSeconds"].flatMap { Int64($0.fieldText ?? "") }

        // BeforeDelete: is the deletion graceful, or already pending?
        var isGraceful = false
        var gracePeriod: Int64 = 0
        if graceful != nil, let since = deletingSince {
            if let currentGrace, currentGrace > 0 {
                guard let requested, requested < currentGrace else {
                    return (nil, existing, existing)  // pending: only a shorter period changes anything
                }
                metadata["deletionTimestamp"] = .string(WallClock.rfc3339(secondsSince1970: since - currentGrace + requested))
                metadata["deletionGracePeriodSeconds"] = .number(String(requested))
                isGraceful = true
                gracePeriod = requested
            }
        } else if let graceful, deletingSince == nil {
            gracePeriod = graceful(object, requested)
            metadata["deletionTimestamp"] = .string(WallClock.rfc3339(secondsSince1970: now + gracePeriod))
            metadata["deletionGracePeriodSeconds"] = .number(String(gracePeriod))
            if let generation = existing.generation, generation > 0 { metadata["generation"] = .number(String(generation + 1)) }
            isGraceful = true
        }

        let oldFinalizers = finalizers(metadata)
        let newFinalizers = options.finalizers(oldFinalizers)
        let finalizersChange = Set(oldFinalizers) != Set(newFinalizers)
        if isGraceful || !oldFinalizers.isEmpty || finalizersChange {
            if finalizersChange { metadata["finalizers"] = .array(newFinalizers.map { .string($0) }) }
            let pendingFinalizers = !newFinalizers.isEmpty
            if !isGraceful && pendingFinalizers {
                // markAsDeleting: now, grace 0; the generation moves on the first mark.
                if deletingSince == nil, let generation = existing.generation, generation > 0 {
                    metadata["generation"] = .number(String(generation + 1))
                }
                if deletingSince == nil || deletingSince! > now {
                    metadata["deletionTimestamp"] = .string(WallClock.rfc3339(secondsSince1970: now))
                }
                metadata["deletionGracePeriodSeconds"] = .number("0")
            }
            if pendingFinalizers || isGraceful {
                // Marked already, nothing new: no write, as kube-apiserver skips an update that changes nothing.
                if metadata == existing.json["metadata"]?.objectValue { return (nil, existing, existing) }
                metadata["resourceVersion"] = .string(version.description)
                object["metadata"] = .object(metadata)
                let marked = try KubeObject(json: object, resource: existing.resource)
                return (.put(marked), marked, existing)
            }
        }
        let final = existing.withResourceVersion(version)
        return (.delete(final), final, existing)
    }

    // MARK: - Metadata helpers

    static func scope(_ metadata: inout JSONObject, to namespace: String?, resource: ResourceDescriptor) throws(Status) {
        guard resource.namespaced else {
            metadata["namespace"] = nil
            return
        }
        let given = metadata["namespace"]?.stringValue ?? ""
        if let namespace, !namespace.isEmpty {
            if !given.isEmpty, given != namespace {
                throw Status.badRequest("the namespace of the provided object does not match the namespace sent on the request")
            }
            metadata["namespace"] = .string(namespace)
        } else if given.isEmpty {
            metadata["namespace"] = .string("default")
        }
    }

    static func setTypeMeta(_ object: inout JSONObject, _ resource: ResourceDescriptor) {
        if object["kind"] == nil { object["kind"] = .string(resource.kind) }
        if object["apiVersion"] == nil { object["apiVersion"] = .string(resource.apiVersion) }
    }

    /// Whether anything but `metadata` and `status` differs.
    static func specChanged(_ a: JSONObject, _ b: JSONObject) -> Bool {
        var a = a, b = b
        for key in ["metadata", "status", "kind", "apiVersion"] { a[key] = nil; b[key] = nil }
        return Set(a.keys) != Set(b.keys) || a.keys.contains { a[$0] != b[$0] }
    }

    static func randomUID() -> String {
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255) }
        bytes[6] = bytes[6] & 0x0F | 0x40
        bytes[8] = bytes[8] & 0x3F | 0x80
        let hex = bytes.map { String($0, radix: 16).leftPadded(to: 2) }.joined()
        let h = Array(hex)
        return [h[0..<8], h[8..<12], h[12..<16], h[16..<20], h[20..<32]].map { String($0) }.joined(separator: "-")
    }

    static func randomSuffix() -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return String((0..<5).map { _ in alphabet.randomElement()! })
    }
}
