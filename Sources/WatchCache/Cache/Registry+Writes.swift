import Synchronization

/// The registry's writes: create, update, modify (PATCH), delete, each decided against the newest
/// state and handed to the commit pipeline (`Registry+CommitPipeline.swift`); the rules they apply
/// to metadata are in `Registry+WriteRules.swift`.
extension Registry {
    // MARK: - Writes

    /// Creates an object. Sets `metadata.resourceVersion`, `uid`, `creationTimestamp` and `generation`
    /// (and `name` from `generateName`: a name taken is generated again, up to 8 tries, as
    /// kube-apiserver 1.32 does). 409 AlreadyExists if the name is taken; 400 if the object sets
    /// `resourceVersion` or names another namespace than `namespace`. Deletion fields
    /// (`deletionTimestamp`, `deletionGracePeriodSeconds`) are dropped.
    /// With `dryRun`, validates and answers but stores and emits nothing. Returns once the write is
    /// durable and fanned out.
    public func create(_ json: JSONObject, in resource: ResourceDescriptor, namespace: String? = nil,
                       dryRun: Bool = false) throws(Status) -> KubeObject {
        try Self.wait { create(json, in: resource, namespace: namespace, dryRun: dryRun, completion: $0) }
    }

    /// ``create(_:in:namespace:dryRun:)-8c225`` without waiting: `completion` gets the result once the
    /// write is durable and fanned out (at once for errors, dry runs and in-memory storage).
    public func create(_ json: JSONObject, in resource: ResourceDescriptor, namespace: String? = nil, dryRun: Bool = false,
                       completion: @escaping @Sendable (Result<KubeObject, Status>) -> Void) {
        var object = json
        var metadata = object["metadata"]?.objectValue ?? JSONObject()
        var generateFrom: String?
        let suffix = generatedNameSuffix
        do throws(Status) {
            if let rv = metadata["resourceVersion"]?.stringValue, !rv.isEmpty {
                throw Status.badRequest("resourceVersion should not be set on objects to be created")
            }
            if (metadata["name"]?.stringValue ?? "").isEmpty, let prefix = metadata["generateName"]?.stringValue, !prefix.isEmpty {
                generateFrom = prefix
                metadata["name"] = .string(prefix + suffix())
            }
            try Self.scope(&metadata, to: namespace, resource: resource)
        } catch {
            return completion(.failure(error))
        }
        metadata["uid"] = .string(Self.randomUID())
        metadata["creationTimestamp"] = .string(WallClock.rfc3339Now())
        metadata["generation"] = .number("1")
        metadata["deletionTimestamp"] = nil
        metadata["deletionGracePeriodSeconds"] = nil
        Self.setTypeMeta(&object, resource)

        // Counted across the decisions of one create (a name taken in the cache is checked again
        // in the store, and a concurrent create may take it before the commit): 8 in all.
        var tries = 1
        submit(resource, dryRun: dryRun, completion: completion) { (current, version) throws(Status) in
            metadata["resourceVersion"] = .string(version.description)
            while true {
                object["metadata"] = .object(metadata)
                let stored = try KubeObject(json: object, resource: resource)
                guard current(stored.namespace, stored.name) != nil else { return (.put(stored), stored, nil) }
                // A generated name that is taken: another one, as kube-apiserver retries (8 tries).
                guard let prefix = generateFrom, tries < Self.generateNameTries else {
                    throw Status.alreadyExists(resource, name: stored.name)
                }
                tries += 1
                metadata["name"] = .string(prefix + suffix())
            }
        }
    }

    /// Replaces an object. 404 if it does not exist; 409 Conflict if `metadata.resourceVersion` is
    /// set and not the current one (an empty one updates unconditionally). Keeps `uid` and
    /// `creationTimestamp`; bumps `generation` when anything outside `metadata` and `status` changed.
    public func update(_ json: JSONObject, in resource: ResourceDescriptor, namespace: String? = nil,
                       dryRun: Bool = false) throws(Status) -> KubeObject {
        try Self.wait { update(json, in: resource, namespace: namespace, dryRun: dryRun, completion: $0) }
    }

    /// ``update(_:in:namespace:dryRun:)-224sq`` without waiting (see ``create(_:in:namespace:dryRun:completion:)``).
    public func update(_ json: JSONObject, in resource: ResourceDescriptor, namespace: String? = nil, dryRun: Bool = false,
                       completion: @escaping @Sendable (Result<KubeObject, Status>) -> Void) {
        var object = json
        var metadata = object["metadata"]?.objectValue ?? JSONObject()
        let name: String
        do throws(Status) {
            try Self.scope(&metadata, to: namespace, resource: resource)
            guard let given = metadata["name"]?.stringValue, !given.isEmpty else {
                throw Status.invalid(kind: resource.kind, group: resource.group, name: "",
                                     errors: [FieldError(field: "metadata.name", type: .required, detail: "name or generateName is required")])
            }
            name = given
        } catch {
            return completion(.failure(error))
        }
        let expected = metadata["resourceVersion"]?.stringValue ?? ""
        Self.setTypeMeta(&object, resource)

        submit(resource, dryRun: dryRun, completion: completion) { (current, version) throws(Status) in
            guard let existing = current(metadata["namespace"]?.stringValue, name) else {
                throw Status.notFound(resource, name: name)
            }
            if !expected.isEmpty, expected != existing.resourceVersion.description {
                throw Status.conflict(resource, name: name)
            }
            return try Self.updateDecision(existing, object, metadata: metadata, version: version)
        }
    }

    /// ``modify(_:namespace:name:dryRun:transform:completion:)`` for the writes that run a
    /// deletion: `transform` may set `deletionTimestamp` (a namespace starting to terminate) where
    /// any other update keeps it as it was.
    public func terminate(_ resource: ResourceDescriptor, namespace: String?, name: String, dryRun: Bool = false,
                          transform: sending @escaping (KubeObject) throws(Status) -> JSONObject,
                          completion: @escaping @Sendable (Result<KubeObject, Status>) -> Void) {
        modify(resource, namespace: namespace, name: name, dryRun: dryRun, setsDeletion: true, transform: transform, completion: completion)
    }

    /// Changes an object starting from its newest state, as kube-apiserver's `GuaranteedUpdate`
    /// does for PATCH: `transform` gets that state and returns the new object — and runs again on
    /// the store's newer state when another write came first, so concurrent writers never lose an
    /// update; the rest is ``update(_:in:namespace:dryRun:)-224sq``.
    /// A `metadata.resourceVersion` left in the result must still be the current one (409 otherwise).
    public func modify(_ resource: ResourceDescriptor, namespace: String?, name: String, dryRun: Bool = false,
                       transform: sending @escaping (KubeObject) throws(Status) -> JSONObject,
                       completion: @escaping @Sendable (Result<KubeObject, Status>) -> Void) {
        modify(resource, namespace: namespace, name: name, dryRun: dryRun, setsDeletion: false, transform: transform, completion: completion)
    }

    private func modify(_ resource: ResourceDescriptor, namespace: String?, name: String, dryRun: Bool, setsDeletion: Bool,
                        transform: sending @escaping (KubeObject) throws(Status) -> JSONObject,
                        completion: @escaping @Sendable (Result<KubeObject, Status>) -> Void) {
        submit(resource, dryRun: dryRun, completion: completion) { (current, version) throws(Status) in
            guard let existing = current(namespace, name) else {
                throw Status.notFound(resource, name: name)
            }
            var object = try transform(existing)
            var metadata = object["metadata"]?.objectValue ?? JSONObject()
            try Self.scope(&metadata, to: namespace, resource: resource)
            let given = metadata["name"]?.stringValue ?? ""
            if given.isEmpty {
                metadata["name"] = .string(name)
            } else if given != name {
                throw Status.badRequest("the name of the object (\(given)) does not match the name on the URL (\(name))")
            }
            if let expected = metadata["resourceVersion"]?.stringValue, !expected.isEmpty, expected != existing.resourceVersion.description {
                throw Status.conflict(resource, name: name)
            }
            Self.setTypeMeta(&object, resource)
            return try Self.updateDecision(existing, object, metadata: metadata, version: version, setsDeletion: setsDeletion)
        }
    }

    /// Deletes an object and returns its last state (with the deletion's version). 404 if it does
    /// not exist; 409 Conflict if `precondition` (a resourceVersion) does not match.
    public func delete(_ resource: ResourceDescriptor, namespace: String?, name: String,
                       precondition: String? = nil, dryRun: Bool = false) throws(Status) -> KubeObject {
        try Self.wait { delete(resource, namespace: namespace, name: name, precondition: precondition, dryRun: dryRun, completion: $0) }
    }

    /// ``delete(_:namespace:name:precondition:dryRun:)-9moin`` without waiting (see ``create(_:in:namespace:dryRun:completion:)``).
    public func delete(_ resource: ResourceDescriptor, namespace: String?, name: String, precondition: String? = nil, dryRun: Bool = false,
                       completion: @escaping @Sendable (Result<KubeObject, Status>) -> Void) {
        delete(resource, namespace: namespace, name: name, options: DeletionOptions(resourceVersion: precondition, dryRun: dryRun),
               completion: completion)
    }

    /// Deletes an object as kube-apiserver does, and returns its state: gone (with the deletion's
    /// version), or kept and marked deleting.
    ///
    /// - An object with finalizers is kept: it gets `deletionTimestamp` (now) and
    ///   `deletionGracePeriodSeconds` 0 (a MODIFIED event), and goes when an update removes its last
    ///   finalizer. A DELETE while it waits changes nothing.
    /// - A kind deleted gracefully (`graceful`: pods) gets `deletionTimestamp` = now + its grace
    ///   period; a later DELETE may shorten the period, never lengthen it; a period of 0 deletes at
    ///   once (when no finalizers remain).
    /// - `propagationPolicy` (or `orphanDependents`) adds the `orphan` or `foregroundDeletion`
    ///   finalizer that tells the garbage collector what to do first.
    ///
    /// 404 if the object does not exist; 409 Conflict if a precondition does not match.
    public func delete(_ resource: ResourceDescriptor, namespace: String?, name: String, options: DeletionOptions,
                       graceful: GracefulDeletion? = nil, completion: @escaping @Sendable (Result<KubeObject, Status>) -> Void) {
        // A graceful deletion with a period of 0 is two writes, as in kube-apiserver: the object
        // marked (MODIFIED), then gone (DELETED); the caller gets the second.
        let thenDelete = Atomic(false)
        let finish: @Sendable (Result<KubeObject, Status>) -> Void = { [self] result in
            guard case .success = result, thenDelete.load(ordering: .acquiring), !options.dryRun else { return completion(result) }
            var again = options
            again.resourceVersion = nil
            delete(resource, namespace: namespace, name: name, options: again, graceful: graceful, completion: completion)
        }
        submit(resource, dryRun: options.dryRun, completion: finish) { (current, version) throws(Status) in
            guard let existing = current(namespace, name) else {
                throw Status.notFound(resource, name: name)
            }
            if let uid = options.uid, !uid.isEmpty, uid != existing.uid {
                throw Status(code: 409, reason: .conflict,
                             message: "Operation cannot be fulfilled on \(resource.qualifiedPlural) \"\(name)\": the UID in the precondition (\(uid)) does not match the UID in record (\(existing.uid ?? "")). The object might have been deleted and then recreated",
                             details: Status.Details(name: name, group: resource.group, kind: resource.plural))
            }
            if let expected = options.resourceVersion, !expected.isEmpty, expected != existing.resourceVersion.description {
                throw Status.preconditionFailed(resource, name: name, expected: expected, actual: existing.resourceVersion)
            }
            let decision = try Self.deletionDecision(existing, options: options, graceful: graceful, version: version)
            if case .put(let marked)? = decision.change, marked.deletionTimestamp != nil,
               marked.json["metadata"]?["deletionGracePeriodSeconds"] == .number("0"), Self.finalizers(marked.json["metadata"]?.objectValue ?? JSONObject()).isEmpty {
                thenDelete.store(true, ordering: .releasing)
            }
            return decision
        }
    }

    /// Calls `start` with a completion and waits for it (at once when it completes inline).
    private static func wait(_ start: (@escaping @Sendable (Result<KubeObject, Status>) -> Void) -> Void) throws(Status) -> KubeObject {
        let box = ResultBox()
        start { box.set($0) }
        return try box.wait().get()
    }
}
