/// A `/metrics` page read as Prometheus does: each sample's value by its series (name and labels as
/// written), the families in page order, and what breaks the text format's rules.
struct MetricsPageSamples {
    private(set) var values: [String: Double] = [:]
    private(set) var families: [String] = []
    private(set) var problems: [String] = []

    init(_ page: String) {
        var help = Set<String>(), type: [String: String] = [:]
        var current: String?
        for line in page.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
            if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") {
                let words = line.split(separator: " ", maxSplits: 3)
                guard words.count >= 4 else { problems.append("short comment: \(line)"); continue }
                let name = String(words[2])
                if current != name {
                    if families.contains(name) { problems.append("family \(name) appears twice") }
                    families.append(name)
                    current = name
                }
                if words[1] == "HELP" {
                    if !help.insert(name).inserted { problems.append("two HELP lines for \(name)") }
                    if type[name] != nil { problems.append("HELP after TYPE for \(name)") }
                } else {
                    if type[name] != nil { problems.append("two TYPE lines for \(name)") }
                    type[name] = String(words[3])
                }
                continue
            }
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                problems.append("unreadable sample: \(line)")
                continue
            }
            let series = String(line[..<space])
            let name = String(series.prefix { $0 != "{" })
            guard let family = current, let kind = type[family] else {
                problems.append("sample before any TYPE: \(line)")
                continue
            }
            let suffixes = kind == "histogram" ? ["_bucket", "_sum", "_count"] : [""]
            if !suffixes.contains(where: { family + $0 == name }) { problems.append("sample \(name) in family \(family)") }
            if !help.contains(family) { problems.append("family \(family) has no HELP") }
            if values.updateValue(value, forKey: series) != nil { problems.append("series \(series) twice") }
        }
    }

    subscript(series: String) -> Double? { values[series] }
}
