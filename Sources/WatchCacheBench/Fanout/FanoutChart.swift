import Foundation

/// The SVG chart of a fan-out report: per run, the delivery latency's p50, p99 and p999 (log
/// scale, with the 20 ms p99 target) and the server memory per open stream (with the 2 KiB aim).
public enum FanoutChart {
    public static func svg(_ report: FanoutReport) -> String {
        let width = 1100.0, height = 480.0
        let runs = report.runs
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="13">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(width / 2)" y="24" text-anchor="middle" font-size="17" font-weight="bold">Watch fan-out: delivery latency and memory per stream</text>
        <text x="\(width / 2)" y="44" text-anchor="middle" fill="#555">\(escape(report.machine.summary)), \(escape(report.placement)), revision \(escape(String(report.revision.prefix(12))))</text>

        """
        // Left: latency quantiles per run, log scale from 0.1 ms to 1 s.
        let left = (x: 80.0, y: 70.0, w: 520.0, h: 300.0)
        let timed = runs.filter { $0.measurement.latency.count > 0 }
        let lo = log10(0.1), hi = log10(1000.0)
        func yLatency(_ ms: Double) -> Double { left.y + left.h - (log10(max(0.1, min(1000, ms))) - lo) / (hi - lo) * left.h }
        svg += axisBox(left)
        for tick in [0.1, 1, 10, 100, 1000] {
            let y = yLatency(tick)
            svg += "<line x1=\"\(left.x)\" y1=\"\(y)\" x2=\"\(left.x + left.w)\" y2=\"\(y)\" stroke=\"#eee\"/>\n"
            svg += "<text x=\"\(left.x - 6)\" y=\"\(y + 4)\" text-anchor=\"end\">\(tick < 1 ? String(tick) : String(Int(tick))) ms</text>\n"
        }
        let target = yLatency(20)
        svg += "<line x1=\"\(left.x)\" y1=\"\(target)\" x2=\"\(left.x + left.w)\" y2=\"\(target)\" stroke=\"#d62728\" stroke-dasharray=\"6 4\"/>\n"
        svg += "<text x=\"\(left.x + left.w - 4)\" y=\"\(target - 5)\" text-anchor=\"end\" fill=\"#d62728\">p99 target 20 ms</text>\n"
        let quantiles: [(String, Double, String)] = [("p50", 0.5, "#1f77b4"), ("p99", 0.99, "#ff7f0e"), ("p999", 0.999, "#9467bd")]
        let group = left.w / Double(max(1, timed.count))
        for (i, run) in timed.enumerated() {
            let bar = group / 5
            for (j, q) in quantiles.enumerated() {
                let ms = run.measurement.latency.quantile(q.1) * 1000
                let x = left.x + Double(i) * group + bar * (Double(j) + 1)
                let y = yLatency(ms)
                svg += "<rect x=\"\(x)\" y=\"\(y)\" width=\"\(bar * 0.9)\" height=\"\(left.y + left.h - y)\" fill=\"\(q.2)\"/>\n"
            }
            for (k, line) in labelLines(run.scenario).enumerated() {
                svg += "<text x=\"\(left.x + (Double(i) + 0.5) * group)\" y=\"\(left.y + left.h + 18 + Double(k) * 14)\" text-anchor=\"middle\">\(escape(line))</text>\n"
            }
        }
        for (j, q) in quantiles.enumerated() {
            let x = left.x + 10 + Double(j) * 70
            svg += "<rect x=\"\(x)\" y=\"\(left.y + 8)\" width=\"12\" height=\"12\" fill=\"\(q.2)\"/><text x=\"\(x + 16)\" y=\"\(left.y + 19)\">\(q.0)</text>\n"
        }
        svg += "<text x=\"\(left.x + left.w / 2)\" y=\"\(left.y + left.h + 54)\" text-anchor=\"middle\" fill=\"#555\">send → event parsed, per run (log scale)</text>\n"

        // Right: server memory per stream, KiB.
        let right = (x: 680.0, y: 70.0, w: 390.0, h: 300.0)
        let opened = runs.filter { $0.measurement.streamsEstablished > 0 }
        let top = max(3, (opened.map { $0.measurement.bytesPerStream / 1024 }.max() ?? 2) * 1.2)
        func yMemory(_ kib: Double) -> Double { right.y + right.h - kib / top * right.h }
        svg += axisBox(right)
        var tick = 0.0
        while tick <= top {
            let y = yMemory(tick)
            svg += "<line x1=\"\(right.x)\" y1=\"\(y)\" x2=\"\(right.x + right.w)\" y2=\"\(y)\" stroke=\"#eee\"/>\n"
            svg += "<text x=\"\(right.x - 6)\" y=\"\(y + 4)\" text-anchor=\"end\">\(Int(tick)) KiB</text>\n"
            tick += 1
        }
        let aim = yMemory(2)
        svg += "<line x1=\"\(right.x)\" y1=\"\(aim)\" x2=\"\(right.x + right.w)\" y2=\"\(aim)\" stroke=\"#d62728\" stroke-dasharray=\"6 4\"/>\n"
        svg += "<text x=\"\(right.x + 4)\" y=\"\(right.y + 16)\" fill=\"#d62728\">- - aim: 2 KiB per stream</text>\n"
        let slot = right.w / Double(max(1, opened.count))
        for (i, run) in opened.enumerated() {
            let kib = run.measurement.bytesPerStream / 1024
            let y = yMemory(kib)
            let x = right.x + Double(i) * slot + slot * 0.2
            svg += "<rect x=\"\(x)\" y=\"\(y)\" width=\"\(slot * 0.6)\" height=\"\(right.y + right.h - y)\" fill=\"#2ca02c\"/>\n"
            svg += "<text x=\"\(x + slot * 0.3)\" y=\"\(y + 16)\" text-anchor=\"middle\" fill=\"white\">\(String(format: "%.2f", kib))</text>\n"
            let streams = RecoveryReport.grouped(Double(run.measurement.streamsEstablished))
            for (k, line) in (labelLines(run.scenario) + [streams]).enumerated() {
                svg += "<text x=\"\(x + slot * 0.3)\" y=\"\(right.y + right.h + 16 + Double(k) * 13)\" text-anchor=\"middle\" font-size=\"11\" fill=\"\(k == 0 ? "#000" : "#555")\">\(escape(line))</text>\n"
            }
        }
        svg += "<text x=\"\(right.x + right.w / 2)\" y=\"\(right.y + right.h + 62)\" text-anchor=\"middle\" fill=\"#555\">server RSS growth per open stream</text>\n"
        svg += "</svg>\n"
        return svg
    }

    /// "storm (bookmarks on)" → ["storm", "bookmarks on"]: short lines under a bar.
    static func labelLines(_ name: String) -> [String] {
        guard let open = name.firstIndex(of: "("), name.hasSuffix(")") else { return [name] }
        return [String(name[..<open]).trimmingCharacters(in: .whitespaces), String(name[name.index(after: open)..<name.index(before: name.endIndex)])]
    }

    private static func axisBox(_ r: (x: Double, y: Double, w: Double, h: Double)) -> String {
        "<rect x=\"\(r.x)\" y=\"\(r.y)\" width=\"\(r.w)\" height=\"\(r.h)\" fill=\"none\" stroke=\"#999\"/>\n"
    }

    private static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
