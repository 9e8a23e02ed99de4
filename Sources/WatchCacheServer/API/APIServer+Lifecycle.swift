import Dispatch
import Synchronization
import WatchCache
import WatchCacheSchema

/// Objects' lifecycle around the registry's deletion rules, as kube-apiserver and its controllers
/// run it: `DeleteOptions`, the NamespaceLifecycle admission (no new objects in a missing or
/// terminating namespace; `default`, `kube-system` and `kube-public` cannot be deleted), namespace
/// termination, and — since a standalone server has no controller manager and no kubelet — the
/// namespace controller (a terminating namespace's objects are deleted, then the namespace) and the
/// end of pods' grace periods (a kubelet would confirm the pod stopped; here the period ending does).
extension APIServer {
    /// The namespaces kube-apiserver creates at start.
    static let systemNamespaces = ["default", "kube-system", "kube-public", "kube-node-lease"]
    /// The namespaces that may not be deleted.
    static let immortalNamespaces: Set<String> = ["default", "kube-system", "kube-public"]

    /// Creates the system namespaces that do not exist yet, once the registry is ready, and waits
    /// until they are stored: no request is admitted before (the first one after a load may wait
    /// for that one write).
    func ensureSystemNamespaces() {
        guard namespaceLifecycle, !systemNamespacesReady.load(ordering: .acquiring), registry.isReady,
              let namespaces = registry.cache(for: .namespaces) else { return }
        systemNamespacesSetup.withLock { _ in
            guard !systemNamespacesReady.load(ordering: .acquiring) else { return }
            for name in Self.systemNamespaces where namespaces.get(namespace: nil, name: name) == nil {
                var object = JSONObject([("apiVersion", .string("v1")), ("kind", .string("Namespace")),
                                         ("metadata", .object(JSONObject([("name", .string(name))])))])
                strategies[.namespaces]?.prepareForCreate(&object)
                do throws(Status) {
                    _ = try registry.create(object, in: .namespaces)
                } catch {
                    if error.reason != .alreadyExists {
                        logger.error("cannot create a system namespace", metadata: ["namespace": "\(name)", "error": "\(error.message)"])
                        return
                    }
                }
            }
            systemNamespacesReady.store(true, ordering: .releasing)
        }
    }

    /// NamespaceLifecycle for a create in `namespace`: 404 if it does not exist, 403 if it is
    /// being deleted.
    func admitCreate(_ object: JSONObject, in namespace: String?, resource: ResourceDescriptor) throws(Status) {
        guard namespaceLifecycle, resource.namespaced, let namespace, !namespace.isEmpty,
              let namespaces = registry.cache(for: .namespaces) else { return }
        guard let existing = namespaces.get(namespace: nil, name: namespace) else {
            throw Status.notFound(.namespaces, name: namespace)
        }
        if existing.deletionTimestamp != nil {
            throw Status(code: 403, reason: .forbidden,
                         message: "\(resource.qualifiedPlural) \"\(object["metadata"]?["name"]?.stringValue ?? "")\" is forbidden: unable to create new content in namespace \(namespace) because it is being terminated",
                         details: .init(name: "", group: resource.group, kind: resource.plural,
                                        causes: [.init(reason: "NamespaceTerminating", message: "namespace \(namespace) is being terminated",
                                                       field: "metadata.namespace")]))
        }
    }

    /// The `DeleteOptions` of a DELETE: its body (JSON or protobuf), else the query parameters.
    static func deletionOptions(_ request: APIRequest) throws(Status) -> DeletionOptions {
        var options = DeletionOptions()
        let query = request.query
        if let value = query.last(where: { $0.0 == "gracePeriodSeconds" })?.1 {
            guard let seconds = Int64(value) else { throw Status.badRequest("gracePeriodSeconds must be an integer: \(value)") }
            options.gracePeriodSeconds = seconds
        }
        if let value = query.last(where: { $0.0 == "propagationPolicy" })?.1 {
            options.propagationPolicy = try propagation(value)
        }
        if let value = query.last(where: { $0.0 == "orphanDependents" })?.1 { options.orphanDependents = value == "true" }
        options.dryRun = query.contains { $0.0 == "dryRun" && $0.1 == "All" }
        guard !request.body.isEmpty else { return options }
        let body = try RequestBody.message(request, typeName: "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions")
        if let grace = body["gracePeriodSeconds"], grace != .null {
            guard let seconds = Int64(grace.fieldText ?? "") else { throw Status.badRequest("gracePeriodSeconds must be an integer") }
            options.gracePeriodSeconds = seconds
        }
        if let policy = body["propagationPolicy"]?.stringValue { options.propagationPolicy = try propagation(policy) }
        if case .bool(let orphan)? = body["orphanDependents"] { options.orphanDependents = orphan }
        if options.orphanDependents != nil && options.propagationPolicy != nil {
            throw Status.invalid(kind: "DeleteOptions", group: "meta.k8s.io", name: "", errors: [
                FieldError(field: "propagationPolicy", type: .invalid(value: options.propagationPolicy!.rawValue),
                           detail: "orphanDependents and deletionPropagation cannot be both set"),
            ])
        }
        options.resourceVersion = body["preconditions"]?["resourceVersion"]?.stringValue
        options.uid = body["preconditions"]?["uid"]?.stringValue
        if case .array(let values)? = body["dryRun"], values.contains(.string("All")) { options.dryRun = true }
        return options
    }

    private static func propagation(_ value: String) throws(Status) -> DeletionOptions.Propagation {
        guard let policy = DeletionOptions.Propagation(rawValue: value) else {
            throw Status.invalid(kind: "DeleteOptions", group: "meta.k8s.io", name: "", errors: [
                FieldError(field: "propagationPolicy", type: .notSupported(value: value, supported: ["Foreground", "Background", "Orphan"]),
                           detail: ""),
            ])
        }
        return policy
    }

    /// DELETE of one object: a namespace starts terminating; anything else follows the registry's
    /// deletion rules with the kind's graceful deletion.
    func delete(_ resource: ResourceDescriptor, strategy: WriteStrategy?, namespace: String?, name: String,
                options: DeletionOptions, respond: @escaping @Sendable (APIResponse) -> Void) throws(Status) {
        if resource.isNamespaceKind {
            try deleteNamespace(name, options: options, respond: respond)
            return
        }
        let graceful = strategy?.gracefulDeletion
        let lifecycle = self.lifecycle
        registry.delete(resource, namespace: namespace, name: name, options: options, graceful: graceful) { result in
            if case .success(let object) = result, graceful != nil { lifecycle.track(object) }
            Self.answer(respond)(result)
        }
    }

    /// A namespace's DELETE, as its REST storage does: the first marks it terminating
    /// (`deletionTimestamp`, `status.phase: Terminating`) for the namespace controller; once its
    /// `spec.finalizers` are gone, a DELETE removes it.
    private func deleteNamespace(_ name: String, options: DeletionOptions, respond: @escaping @Sendable (APIResponse) -> Void) throws(Status) {
        if Self.immortalNamespaces.contains(name) {
            throw Status(code: 403, reason: .forbidden, message: "namespaces \"\(name)\" is forbidden: this namespace may not be deleted",
                         details: .init(name: name, group: "", kind: "namespaces"))
        }
        guard let current = registry.cache(for: .namespaces)?.get(namespace: nil, name: name) else {
            throw Status.notFound(.namespaces, name: name)
        }
        let specFinalizers = current.json["spec"]?["finalizers"]?.arrayValue ?? []
        if current.deletionTimestamp != nil && specFinalizers.isEmpty {
            registry.delete(.namespaces, namespace: nil, name: name, options: options, completion: Self.answer(respond))
            return
        }
        if current.deletionTimestamp != nil {
            respond(.object(current))
            return
        }
        registry.terminate(.namespaces, namespace: nil, name: name, dryRun: options.dryRun,
                           transform: { (existing) throws(Status) in
                               if let uid = options.uid, !uid.isEmpty, uid != existing.uid {
                                   throw Status(code: 409, reason: .conflict,
                                                message: "Operation cannot be fulfilled on namespaces \"\(name)\": the UID in the precondition (\(uid)) does not match the UID in record (\(existing.uid ?? "")). The object might have been deleted and then recreated")
                               }
                               var object = existing.json
                               var metadata = object["metadata"]?.objectValue ?? JSONObject()
                               if metadata["deletionTimestamp"] == nil {
                                   metadata["deletionTimestamp"] = .string(WallClock.rfc3339(secondsSince1970: Int64(WallClock.secondsSince1970())))
                               }
                               metadata["resourceVersion"] = options.resourceVersion.map { .string($0) }
                               object["metadata"] = .object(metadata)
                               var status = object["status"]?.objectValue ?? JSONObject()
                               status["phase"] = .string("Terminating")
                               object["status"] = .object(status)
                               return object
                           },
                           completion: Self.answer(respond))
    }

    // MARK: - The controllers a standalone server runs

    /// Runs ``runLifecycleControllers()`` every `interval` until the task is cancelled, each pass
    /// on a Dispatch thread: its writes block until they are committed (over etcd, a round trip
    /// each), which a thread of the concurrency pool — one on a one-core machine — should not do.
    public func runLifecycle(every interval: Duration = .milliseconds(500)) async {
        while !Task.isCancelled {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().async {
                    self.runLifecycleControllers()
                    done.resume()
                }
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// One pass of the work kube-apiserver's companions would do: the system namespaces exist;
    /// terminating namespaces are emptied, then finalized (and so deleted); pods whose grace period
    /// is over are deleted.
    public func runLifecycleControllers() {
        guard registry.isReady else { return }
        ensureSystemNamespaces()
        finishTerminatingNamespaces()
        lifecycle.endGracePeriods(registry: registry, strategies: strategies)
    }

    private func finishTerminatingNamespaces() {
        guard let namespaces = registry.cache(for: .namespaces) else { return }
        for namespace in namespaces.snapshot() where namespace.deletionTimestamp != nil {
            var remaining = 0
            for cache in registry.caches where cache.resource.namespaced {
                for object in cache.snapshot(namespace: namespace.name) {
                    remaining += 1
                    guard object.deletionTimestamp == nil else { continue }
                    let graceful = strategies[cache.resource]?.gracefulDeletion
                    let lifecycle = self.lifecycle
                    registry.delete(cache.resource, namespace: object.namespace, name: object.name,
                                    options: DeletionOptions(propagationPolicy: .background), graceful: graceful) { result in
                        if case .success(let deleted) = result, graceful != nil { lifecycle.track(deleted) }
                    }
                }
            }
            let specFinalizers = namespace.json["spec"]?["finalizers"]?.arrayValue ?? []
            guard remaining == 0, specFinalizers.contains(.string("kubernetes")) else { continue }
            // Empty: the namespace controller's finalize; with no finalizer left the update deletes it.
            registry.terminate(.namespaces, namespace: nil, name: namespace.name, dryRun: false,
                               transform: { (existing) throws(Status) in
                                   var object = existing.json
                                   var spec = object["spec"]?.objectValue ?? JSONObject()
                                   spec["finalizers"] = .array((spec["finalizers"]?.arrayValue ?? []).filter { $0 != .string("kubernetes") })
                                   object["spec"] = .object(spec)
                                   return object
                               },
                               completion: { _ in })
        }
    }
}

/// Pods deleted gracefully, until their grace period ends.
final class GracefulDeletions: Sendable {
    private struct Entry {
        let resource: ResourceDescriptor
        let namespace: String
        let name: String
        let deadline: Int64
    }

    private let entries = Mutex<[String: Entry]>([:])
    /// Whether the stored objects were looked through once (after a restart, deletions in progress
    /// are found there).
    private let scanned = Atomic(false)

    /// Remembers `object` if it is being deleted with a grace period.
    func track(_ object: KubeObject) {
        guard let timestamp = object.deletionTimestamp, let deadline = WallClock.secondsSince1970(rfc3339: timestamp) else { return }
        let grace = object.json["metadata"]?["deletionGracePeriodSeconds"].flatMap { Int64($0.fieldText ?? "") } ?? 0
        guard grace > 0 else { return }
        entries.withLock { $0[object.resource.description + "|" + object.key] = Entry(resource: object.resource, namespace: object.namespace,
                                                                                       name: object.name, deadline: deadline) }
    }

    /// Deletes the objects whose grace period is over (with a period of 0, as a kubelet confirms a
    /// pod stopped).
    func endGracePeriods(registry: Registry, strategies: [ResourceDescriptor: WriteStrategy]) {
        if !scanned.exchange(true, ordering: .relaxed) {
            for cache in registry.caches where strategies[cache.resource]?.gracefulDeletion != nil {
                for object in cache.snapshot() where object.deletionTimestamp != nil { track(object) }
            }
        }
        let now = Int64(WallClock.secondsSince1970())
        let due: [Entry] = entries.withLock { entries in
            let due = entries.filter { $0.value.deadline <= now }
            for key in due.keys { entries[key] = nil }
            return Array(due.values)
        }
        for entry in due {
            registry.delete(entry.resource, namespace: entry.resource.namespaced ? entry.namespace : nil, name: entry.name,
                            options: DeletionOptions(gracePeriodSeconds: 0), graceful: strategies[entry.resource]?.gracefulDeletion) { _ in }
        }
    }
}
