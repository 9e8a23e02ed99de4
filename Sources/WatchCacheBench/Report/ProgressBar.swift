#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A one-line progress bar on standard error, redrawn in place; silent when standard error is not
/// a terminal (CI logs stay readable).
public struct ProgressBar {
    private let enabled: Bool
    private var lastDrawn = -1

    public init(enabled: Bool = isatty(2) == 1) { self.enabled = enabled }

    /// Draws `fraction` (0...1) with a label.
    public mutating func update(_ fraction: Double, label: String) {
        guard enabled else { return }
        let percent = Int((min(max(fraction, 0), 1) * 100).rounded(.down))
        guard percent != lastDrawn else { return }
        lastDrawn = percent
        let width = 30
        let filled = percent * width / 100
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        writeToStandardError("\r[\(bar)] \(String(percent).leftPadded(3))% \(label)\u{1B}[K")
    }

    /// Clears the line.
    public mutating func finish() {
        guard enabled else { return }
        lastDrawn = -1
        writeToStandardError("\r\u{1B}[K")
    }
}

private func writeToStandardError(_ text: String) {
    var bytes = Array(text.utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
