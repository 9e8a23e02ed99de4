import Foundation

/// The SVG chart of a recovery report: the measured and the model's init-event ratio (off / on)
/// against N/R, the seconds between one watcher's own events, and beside it the measured server
/// CPU ratio. Both axes are logarithmic.
public enum RecoveryChart {
    struct Series {
        var label: String
        var color: String
        var points: [(x: Double, y: Double)]
        var line: Bool
        var dashed = false
    }

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]

    public static func svg(_ report: RecoveryReport) -> String {
        // Node-scoped points without a restart, one per (N, R): the sweep's shape — with the scan
        // replay when it ran (the bookmark ratio KEP-956 is about).
        var seen = Set<String>()
        let scanned = report.comparisons.contains { $0.parameters.replay == .scan }
        let comparisons = report.comparisons.filter { c in
            let p = c.parameters
            return p.selective && p.restartAt == nil && (!scanned || p.replay == .scan) && seen.insert("\(p.watchers)/\(p.writesPerSecond)").inserted
        }
        let byWatchers = Dictionary(grouping: comparisons) { $0.parameters.watchers }
        let counts = byWatchers.keys.sorted()
        func quiet(_ c: RecoveryComparison) -> Double { Double(c.parameters.watchers) / c.parameters.writesPerSecond }

        var initSeries: [Series] = []
        var cpuSeries: [Series] = []
        for (i, n) in counts.enumerated() {
            let points = byWatchers[n]!.sorted { quiet($0) < quiet($1) }
            let color = palette[i % palette.count]
            let label = "measured, N = \(RecoveryReport.grouped(Double(n)))"
            initSeries.append(Series(label: label, color: color, points: points.map { (quiet($0), $0.initEventRatio) }, line: false))
            cpuSeries.append(Series(label: label, color: color, points: points.map { (quiet($0), $0.cpuRatio) }, line: false))
        }
        // The model's curve, for the reports' window and bookmark lead (the first point's).
        let xs = comparisons.map(quiet)
        let xRange = (min: max(0.5, (xs.min() ?? 1) / 2), max: (xs.max() ?? 100) * 2)
        if let template = comparisons.first?.parameters {
            var curve: [(Double, Double)] = []
            var x = xRange.min
            while x <= xRange.max * 1.0001 {
                var p = template
                p.writesPerSecond = Double(p.watchers) / x
                if let events = template.windowEvents {
                    // Keep the window's events per watcher as in the runs.
                    p.windowEvents = Int(Double(events) / Double(template.watchers) * Double(p.watchers))
                }
                curve.append((x, RecoveryModel.ratio(p)))
                x *= 1.08
            }
            initSeries.insert(Series(label: "model (section 6.3)", color: "#555555", points: curve, line: true, dashed: true), at: 0)
        }

        let width = 1100.0, height = 470.0
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="13">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(width / 2)" y="24" text-anchor="middle" font-size="17" font-weight="bold">Watch restarts with and without bookmarks (\(escape(report.scenario)), \(escape(report.mode)))</text>

        """
        svg += panel(title: "Init events per reconnect, off / on", yLabel: "ratio (bookmarks off / on)", series: initSeries,
                     origin: (70, 60), size: (440, 330), xRange: xRange, markKEP: true)
        svg += panel(title: "Server CPU seconds, off / on", yLabel: "ratio (bookmarks off / on)", series: cpuSeries,
                     origin: (620, 60), size: (440, 330), xRange: xRange, markKEP: false)
        let note = "N watchers, each watching one node's pods; R writes/s over all pods; N/R = seconds between one watcher's own events. "
            + "Machine: \(report.machine.summary). Revision \(report.revision.prefix(12))."
        svg += "<text x=\"\(width / 2)\" y=\"\(height - 14)\" text-anchor=\"middle\" font-size=\"11\" fill=\"#444\">\(escape(note))</text>\n"
        svg += "</svg>\n"
        return svg
    }

    private static func panel(title: String, yLabel: String, series: [Series], origin: (x: Double, y: Double), size: (w: Double, h: Double),
                              xRange: (min: Double, max: Double), markKEP: Bool) -> String {
        let ys = series.flatMap { $0.points.map(\.y) }.filter { $0.isFinite && $0 > 0 }
        let yMin = pow(10, floor(log10(min(ys.min() ?? 1, 0.8))))
        let yMax = pow(10, ceil(log10(max(ys.max() ?? 10, markKEP ? 50 : 2) * 1.2)))
        let xMin = pow(10, floor(log10(xRange.min))), xMax = pow(10, ceil(log10(xRange.max)))
        func px(_ x: Double) -> Double { origin.x + (log10(x) - log10(xMin)) / (log10(xMax) - log10(xMin)) * size.w }
        func py(_ y: Double) -> Double { origin.y + size.h - (log10(y) - log10(yMin)) / (log10(yMax) - log10(yMin)) * size.h }

        var out = "<text x=\"\(origin.x + size.w / 2)\" y=\"\(origin.y - 12)\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">\(escape(title))</text>\n"
        out += "<rect x=\"\(origin.x)\" y=\"\(origin.y)\" width=\"\(size.w)\" height=\"\(size.h)\" fill=\"none\" stroke=\"#333\"/>\n"
        // Decade grid and tick labels, with 2 and 5 in between.
        for tick in ticks(from: xMin, to: xMax) {
            let x = px(tick)
            out += "<line x1=\"\(x)\" y1=\"\(origin.y)\" x2=\"\(x)\" y2=\"\(origin.y + size.h)\" stroke=\"#ddd\"/>\n"
            out += "<text x=\"\(x)\" y=\"\(origin.y + size.h + 18)\" text-anchor=\"middle\">\(label(tick))</text>\n"
        }
        for tick in ticks(from: yMin, to: yMax) {
            let y = py(tick)
            out += "<line x1=\"\(origin.x)\" y1=\"\(y)\" x2=\"\(origin.x + size.w)\" y2=\"\(y)\" stroke=\"#ddd\"/>\n"
            out += "<text x=\"\(origin.x - 6)\" y=\"\(y + 4)\" text-anchor=\"end\">\(label(tick))x</text>\n"
        }
        out += "<text x=\"\(origin.x + size.w / 2)\" y=\"\(origin.y + size.h + 40)\" text-anchor=\"middle\">N/R: seconds between one watcher's own events (log scale)</text>\n"
        out += "<text transform=\"translate(\(origin.x - 48) \(origin.y + size.h / 2)) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel)), log scale</text>\n"
        // Reference lines: 1x (no gain) and KEP-956's ~40x.
        out += "<line x1=\"\(origin.x)\" y1=\"\(py(1))\" x2=\"\(origin.x + size.w)\" y2=\"\(py(1))\" stroke=\"#999\" stroke-width=\"1.5\"/>\n"
        if markKEP, 40 < yMax {
            out += "<line x1=\"\(origin.x)\" y1=\"\(py(40))\" x2=\"\(origin.x + size.w)\" y2=\"\(py(40))\" stroke=\"#e377c2\" stroke-dasharray=\"2 4\" stroke-width=\"1.5\"/>\n"
            out += "<text x=\"\(origin.x + size.w - 6)\" y=\"\(py(40) - 5)\" text-anchor=\"end\" fill=\"#c2185b\" font-size=\"11\">KEP-956: ~40x</text>\n"
        }
        for s in series {
            let visible = s.points.filter { $0.y.isFinite && $0.y > 0 && $0.x >= xMin && $0.x <= xMax }
            if s.line {
                let path = visible.map { "\(px($0.x)),\(py(min(max($0.y, yMin), yMax)))" }.joined(separator: " ")
                out += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"2\"\(s.dashed ? " stroke-dasharray=\"6 4\"" : "")/>\n"
            } else {
                for p in visible {
                    out += "<circle cx=\"\(px(p.x))\" cy=\"\(py(p.y))\" r=\"5\" fill=\"\(s.color)\" stroke=\"white\"/>\n"
                }
            }
        }
        // Legend, top left inside the panel, over a white box.
        let legendWidth = 30 + 7.5 * Double(series.map(\.label.count).max() ?? 0)
        out += "<rect x=\"\(origin.x + 4)\" y=\"\(origin.y + 4)\" width=\"\(legendWidth)\" height=\"\(Double(series.count) * 18 + 6)\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#ccc\"/>\n"
        for (i, s) in series.enumerated() {
            let y = origin.y + 18 + Double(i) * 18
            let x = origin.x + 10
            if s.line {
                out += "<line x1=\"\(x)\" y1=\"\(y - 4)\" x2=\"\(x + 22)\" y2=\"\(y - 4)\" stroke=\"\(s.color)\" stroke-width=\"2\"\(s.dashed ? " stroke-dasharray=\"6 4\"" : "")/>\n"
            } else {
                out += "<circle cx=\"\(x + 11)\" cy=\"\(y - 4)\" r=\"5\" fill=\"\(s.color)\"/>\n"
            }
            out += "<text x=\"\(x + 30)\" y=\"\(y)\">\(escape(s.label))</text>\n"
        }
        return out
    }

    /// 1, 2 and 5 times each power of ten from `low` (a power of ten) up to `high`.
    private static func ticks(from low: Double, to high: Double) -> [Double] {
        var out: [Double] = []
        var decade = low
        while decade <= high * 1.0001 {
            out += [1.0, 2, 5].map { decade * $0 }.filter { $0 <= high * 1.0001 }
            decade *= 10
        }
        return out
    }

    private static func label(_ v: Double) -> String {
        v >= 1 ? RecoveryReport.grouped(v) : String(v)
    }

    private static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
