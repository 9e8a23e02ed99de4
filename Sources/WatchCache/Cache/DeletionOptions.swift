/// What a DELETE asks for, as kube-apiserver's `DeleteOptions`: preconditions, a grace period, and
/// what happens to the object's dependents (which only decides the garbage-collection finalizers
/// the object gets).
public struct DeletionOptions: Sendable {
    /// `propagationPolicy`.
    public enum Propagation: String, Sendable {
        /// The object goes now; the garbage collector deletes its dependents afterwards.
        case background = "Background"
        /// The object waits (finalizer `foregroundDeletion`) until its dependents are gone.
        case foreground = "Foreground"
        /// The object waits (finalizer `orphan`) until its dependents no longer point at it.
        case orphan = "Orphan"
    }

    /// `preconditions.resourceVersion`: 409 unless the object is at this version.
    public var resourceVersion: String?
    /// `preconditions.uid`: 409 unless the object has this uid.
    public var uid: String?
    /// `gracePeriodSeconds`: for kinds deleted gracefully, how long the object has; 0 deletes at
    /// once; negative values count as 1, as in kube-apiserver.
    public var gracePeriodSeconds: Int64?
    public var propagationPolicy: Propagation?
    /// The deprecated `orphanDependents`; it wins over ``propagationPolicy``.
    public var orphanDependents: Bool?
    public var dryRun: Bool

    public init(resourceVersion: String? = nil, uid: String? = nil, gracePeriodSeconds: Int64? = nil,
                propagationPolicy: Propagation? = nil, orphanDependents: Bool? = nil, dryRun: Bool = false) {
        self.resourceVersion = resourceVersion
        self.uid = uid
        self.gracePeriodSeconds = gracePeriodSeconds
        self.propagationPolicy = propagationPolicy
        self.orphanDependents = orphanDependents
        self.dryRun = dryRun
    }

    /// The finalizer that keeps an object until the garbage collector orphaned its dependents.
    public static let orphanFinalizer = "orphan"
    /// The finalizer that keeps an object until the garbage collector deleted its dependents.
    public static let foregroundFinalizer = "foregroundDeletion"

    /// `finalizers` with the garbage-collection finalizers the options ask for (kube-apiserver's
    /// `deletionFinalizersForGarbageCollection`): without a policy, the ones already there decide.
    func finalizers(_ finalizers: [String]) -> [String] {
        var orphan: Bool
        var foreground: Bool
        if let orphanDependents {
            orphan = orphanDependents
            foreground = false
        } else if let propagationPolicy {
            orphan = propagationPolicy == .orphan
            foreground = propagationPolicy == .foreground
        } else {
            let first = finalizers.first { $0 == Self.orphanFinalizer || $0 == Self.foregroundFinalizer }
            orphan = first == Self.orphanFinalizer
            foreground = first == Self.foregroundFinalizer
        }
        var result = finalizers.filter { $0 != Self.orphanFinalizer && $0 != Self.foregroundFinalizer }
        if orphan { result.append(Self.orphanFinalizer) }
        if foreground { result.append(Self.foregroundFinalizer) }
        return result
    }
}

/// How a kind is deleted gracefully (kube-apiserver's `CheckGracefulDelete`): given the object and
/// the requested grace period, the period it gets (0: at once). Kinds without one are deleted at
/// once, or marked deleting while finalizers remain.
public typealias GracefulDeletion = @Sendable (_ object: JSONObject, _ requestedSeconds: Int64?) -> Int64
