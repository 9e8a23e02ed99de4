/// One clause of an `Accept` header: a media type and its parameters
/// (`application/json;as=Table;v=v1;g=meta.k8s.io`).
struct MediaRange {
    /// The type, lower case (`application/json`).
    let type: String
    /// The parameters, names lower case, values as sent.
    let parameters: [String: String]

    /// `accept`'s clauses in the client's order.
    static func parse(_ accept: String) -> [MediaRange] {
        accept.split(separator: ",").compactMap { clause in
            let parts = clause.split(separator: ";").map { $0.trimming(" ") }
            guard let type = parts.first?.lowercased() else { return nil }
            var parameters: [String: String] = [:]
            for p in parts.dropFirst() {
                let kv = p.split(separator: "=", maxSplits: 1).map { $0.trimming(" ") }
                if kv.count == 2 { parameters[kv[0].lowercased()] = kv[1] }
            }
            return MediaRange(type: type, parameters: parameters)
        }
    }

    /// `q=0`: the client will not take this type.
    var isRefused: Bool { parameters["q"].flatMap(Double.init) == 0 }

    /// JSON, or a wildcard that covers it.
    var coversJSON: Bool { ["application/json", "application/*", "*/*"].contains(type) }
}
