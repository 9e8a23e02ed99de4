import Foundation

/// Which CPUs a process may run on, for saying where a benchmark's client ran (pin it with
/// `taskset -c`; the server it starts is pinned with `--server-cpus`).
public enum CPUAffinity {
    /// `Cpus_allowed_list` of this process ("0-1", "1"), or nil where /proc does not say.
    public static func current() -> String? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        return status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces)
    }

    /// Whether `text` is a CPU list taskset takes ("0", "1-3", "0,2").
    public static func isList(_ text: String) -> Bool {
        !text.isEmpty && text.split(separator: ",", omittingEmptySubsequences: false).allSatisfy { part in
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            return (1...2).contains(bounds.count) && bounds.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) }
        }
    }
}
