/// Reading LIST and WATCH options from query parameters, with kube-apiserver's spellings and its
/// 400 BadRequest for values it cannot parse.
public enum RequestQuery {
    /// Whether the query asks for a watch (`watch=true`, `watch=1`, …).
    public static func isWatch(_ query: [(String, String)]) throws(Status) -> Bool {
        try value("watch", in: query).map { (v: String) throws(Status) in try parseBool(v, name: "watch") } ?? false
    }

    /// The watch options in `query`, scoped to `namespace`.
    public static func watchOptions(_ query: [(String, String)], namespace: String?) throws(Status) -> WatchOptions {
        var options = WatchOptions(namespace: namespace)
        options.resourceVersion = value("resourceVersion", in: query)
        options.resourceVersionMatch = value("resourceVersionMatch", in: query).flatMap { $0.isEmpty ? nil : $0 }
        if let v = value("sendInitialEvents", in: query) { options.sendInitialEvents = try parseBool(v, name: "sendInitialEvents") }
        if let v = value("allowWatchBookmarks", in: query) { options.allowWatchBookmarks = try parseBool(v, name: "allowWatchBookmarks") }
        if let v = value("timeoutSeconds", in: query) { options.timeoutSeconds = try parseInt(v, name: "timeoutSeconds") }
        options.labelSelector = value("labelSelector", in: query)
        options.fieldSelector = value("fieldSelector", in: query)
        return options
    }

    /// The list options in `query`, scoped to `namespace`.
    public static func listOptions(_ query: [(String, String)], namespace: String?) throws(Status) -> ListOptions {
        var options = ListOptions(namespace: namespace)
        options.resourceVersion = value("resourceVersion", in: query)
        options.resourceVersionMatch = value("resourceVersionMatch", in: query).flatMap { $0.isEmpty ? nil : $0 }
        if let v = value("limit", in: query) {
            let limit = try parseInt(v, name: "limit")
            options.limit = limit == 0 ? nil : limit
        }
        options.continueToken = value("continue", in: query).flatMap { $0.isEmpty ? nil : $0 }
        options.labelSelector = value("labelSelector", in: query)
        options.fieldSelector = value("fieldSelector", in: query)
        if value("sendInitialEvents", in: query) != nil {
            throw Status.invalid(kind: "ListOptions", group: "meta.k8s.io", name: "",
                                 errors: [FieldError(field: "sendInitialEvents", type: .forbidden, detail: "sendInitialEvents is forbidden for list")])
        }
        return options
    }

    /// The last value of `name` (Go's `url.Values.Get` takes the first; clients never repeat these).
    static func value(_ name: String, in query: [(String, String)]) -> String? {
        query.first { $0.0 == name }?.1
    }

    /// Go's `strconv.ParseBool`.
    static func parseBool(_ v: String, name: String) throws(Status) -> Bool {
        switch v {
        case "1", "t", "T", "true", "TRUE", "True": return true
        case "0", "f", "F", "false", "FALSE", "False": return false
        default: throw Status.badRequest("\(name): strconv.ParseBool: parsing \"\(v)\": invalid syntax")
        }
    }

    static func parseInt(_ v: String, name: String) throws(Status) -> Int {
        guard let n = Int(v) else { throw Status.badRequest("\(name): strconv.ParseInt: parsing \"\(v)\": invalid syntax") }
        return n
    }
}
