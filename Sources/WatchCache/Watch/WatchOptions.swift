/// How a LIST's `resourceVersion` is to be matched (`resourceVersionMatch`).
public enum ResourceVersionMatch: String, Sendable, Hashable {
    /// The state at exactly `resourceVersion` (410 once it left the window).
    case exact = "Exact"
    /// Any state at least as new as `resourceVersion`: the cache serves its current one.
    case notOlderThan = "NotOlderThan"
}

/// The options of a WATCH request, as kube-apiserver takes them from the query string.
public struct WatchOptions: Sendable, Hashable {
    /// `nil` = unset (start at the most recent state with synthetic ADDED events), `"0"` (any
    /// state, with synthetic ADDED events), or a version to resume after (no synthetic events).
    public var resourceVersion: String?
    /// `NotOlderThan` with ``sendInitialEvents``; anything else is a 422.
    public var resourceVersionMatch: String?
    /// Watch-list: stream the current state as ADDED events first, then a bookmark marking its end.
    public var sendInitialEvents: Bool?
    /// Whether the watch gets `BOOKMARK` events: periodic, before its timeout, and at shutdown.
    public var allowWatchBookmarks: Bool
    /// When the server ends the watch. `nil` or 0: never (library) — servers fill in their
    /// default; negative: at once, with nothing sent (as kube-apiserver's expired timer).
    public var timeoutSeconds: Int?
    /// A label selector in Kubernetes syntax (`app=web,tier!=db`); `nil` or empty selects everything.
    public var labelSelector: String?
    /// A field selector (`spec.nodeName=node-1`) on the resource's selectable fields.
    public var fieldSelector: String?
    /// The namespace from the request path; `nil` for all namespaces.
    public var namespace: String?

    /// Options as a client would send them; every one defaults to unset.
    public init(resourceVersion: String? = nil, resourceVersionMatch: String? = nil, sendInitialEvents: Bool? = nil,
                allowWatchBookmarks: Bool = false, timeoutSeconds: Int? = nil, labelSelector: String? = nil,
                fieldSelector: String? = nil, namespace: String? = nil) {
        self.resourceVersion = resourceVersion
        self.resourceVersionMatch = resourceVersionMatch
        self.sendInitialEvents = sendInitialEvents
        self.allowWatchBookmarks = allowWatchBookmarks
        self.timeoutSeconds = timeoutSeconds
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.namespace = namespace
    }

    /// Kubernetes' watch validation (`validateWatchOptions`): a 422 Invalid `ListOptions` Status.
    func validate() throws(Status) {
        var errors: [FieldError] = []
        let match = resourceVersionMatch ?? ""
        if sendInitialEvents != nil, match != ResourceVersionMatch.notOlderThan.rawValue {
            errors.append(FieldError(field: "resourceVersionMatch", type: .forbidden,
                                     detail: "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"))
        }
        if !match.isEmpty {
            if sendInitialEvents == nil {
                errors.append(FieldError(field: "resourceVersionMatch", type: .forbidden,
                                         detail: "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"))
            }
            if match != ResourceVersionMatch.notOlderThan.rawValue {
                errors.append(FieldError(field: "resourceVersionMatch", type: .notSupported(value: match, supported: ["NotOlderThan"]), detail: ""))
            }
        }
        if !errors.isEmpty { throw Status.invalid(kind: "ListOptions", group: "meta.k8s.io", name: "", errors: errors) }
    }
}

/// The options of a LIST request.
public struct ListOptions: Sendable, Hashable {
    /// `nil` = most recent; `"0"` = any; otherwise a version (see ``resourceVersionMatch``).
    public var resourceVersion: String?
    /// `Exact` or `NotOlderThan` (needs ``resourceVersion``); unset means `NotOlderThan`
    /// without a ``limit`` and `Exact` with one, as kube-apiserver reads it.
    public var resourceVersionMatch: String?
    /// The most items to return; more pages follow through ``continueToken``.
    public var limit: Int?
    /// The token from a previous page's `metadata.continue`.
    public var continueToken: String?
    /// A label selector in Kubernetes syntax; `nil` or empty selects everything.
    public var labelSelector: String?
    /// A field selector on the resource's selectable fields; `nil` or empty selects everything.
    public var fieldSelector: String?
    /// The namespace from the request path; `nil` for all namespaces.
    public var namespace: String?

    /// Options as a client would send them; every one defaults to unset.
    public init(resourceVersion: String? = nil, resourceVersionMatch: String? = nil, limit: Int? = nil,
                continueToken: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil,
                namespace: String? = nil) {
        self.resourceVersion = resourceVersion
        self.resourceVersionMatch = resourceVersionMatch
        self.limit = limit
        self.continueToken = continueToken
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.namespace = namespace
    }

    /// Kubernetes' list validation (`ValidateListOptions`): a 422 Invalid `ListOptions` Status.
    func validate() throws(Status) {
        var errors: [FieldError] = []
        if let match = resourceVersionMatch, !match.isEmpty {
            if (resourceVersion ?? "").isEmpty {
                errors.append(FieldError(field: "resourceVersionMatch", type: .forbidden,
                                         detail: "resourceVersionMatch is forbidden unless resourceVersion is provided"))
            }
            if !(continueToken ?? "").isEmpty {
                errors.append(FieldError(field: "resourceVersionMatch", type: .forbidden,
                                         detail: "resourceVersionMatch is forbidden when continue is provided"))
            }
            if ResourceVersionMatch(rawValue: match) == nil {
                errors.append(FieldError(field: "resourceVersionMatch",
                                         type: .notSupported(value: match, supported: ["Exact", "NotOlderThan", ""]), detail: ""))
            }
            if match == ResourceVersionMatch.exact.rawValue, resourceVersion == "0" {
                errors.append(FieldError(field: "resourceVersionMatch", type: .forbidden,
                                         detail: "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\""))
            }
        }
        if let limit, limit < 0 {
            errors.append(FieldError(field: "limit", type: .invalid(value: String(limit)), detail: "must be non-negative"))
        }
        if !errors.isEmpty { throw Status.invalid(kind: "ListOptions", group: "meta.k8s.io", name: "", errors: errors) }
        if !(continueToken ?? "").isEmpty, let rv = resourceVersion, !rv.isEmpty, rv != "0" {
            throw Status.badRequest("specifying resource version is not allowed when using continue")
        }
    }
}

/// Parses a request `resourceVersion` parameter.
func parseResourceVersion(_ text: String) throws(Status) -> ResourceVersion {
    guard let rv = ResourceVersion(wire: text) else {
        throw Status.badRequest("resourceVersion: Invalid value: \"\(text)\": strconv.ParseUint: parsing \"\(text)\": invalid syntax")
    }
    return rv
}
