import WatchCache
import Foundation

/// What a benchmark ran on: CPU model, cores, memory, kernel.
public struct MachineInfo: Sendable {
    public var cpu: String
    public var cores: Int
    public var memoryGiB: Double
    public var kernel: String

    /// This machine, read from /proc (Linux) and `ProcessInfo`.
    public static func current() -> MachineInfo {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
        let info = ProcessInfo.processInfo
        return MachineInfo(cpu: model, cores: info.activeProcessorCount, memoryGiB: Double(info.physicalMemory) / 1_073_741_824,
                           kernel: info.operatingSystemVersionString)
    }

    public var summary: String { "\(cores) cores (\(cpu)), \(Int(memoryGiB.rounded())) GiB" }

    public var json: JSONValue {
        .object(JSONObject([("cpu", .string(cpu)), ("cores", .number(String(cores))),
                            ("memoryGiB", .number(String((memoryGiB * 10).rounded() / 10))), ("kernel", .string(kernel))]))
    }
}
