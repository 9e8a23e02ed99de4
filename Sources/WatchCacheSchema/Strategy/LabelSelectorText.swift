import WatchCache

/// A `metav1.LabelSelector` as selector text (`app=web,tier in (a,b)`), as `Scale.status.selector`
/// carries it: requirements sorted by key, values of set requirements sorted.
enum LabelSelectorText {
    static func text(_ selector: JSONValue?) -> String {
        guard case .object(let object)? = selector else { return "" }
        var requirements: [(key: String, text: String)] = []
        for (key, value) in object["matchLabels"]?.objectValue?.members ?? JSONObject().members {
            requirements.append((key, "\(key)=\(value.stringValue ?? "")"))
        }
        for expression in object["matchExpressions"]?.arrayValue ?? [] {
            guard let key = expression["key"]?.stringValue, let op = expression["operator"]?.stringValue else { continue }
            let values = (expression["values"]?.arrayValue ?? []).compactMap(\.stringValue).sorted()
            switch op {
            case "In": requirements.append((key, "\(key) in (\(values.joined(separator: ",")))"))
            case "NotIn": requirements.append((key, "\(key) notin (\(values.joined(separator: ",")))"))
            case "Exists": requirements.append((key, key))
            case "DoesNotExist": requirements.append((key, "!\(key)"))
            default: continue
            }
        }
        return requirements.enumerated()
            .sorted { ($0.element.key, $0.offset) < ($1.element.key, $1.offset) }
            .map(\.element.text)
            .joined(separator: ",")
    }
}
