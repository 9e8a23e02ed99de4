import Foundation
import Testing
import WatchCacheFuzz

/// Every fuzz target on its committed seeds (Fuzz/corpus) and on the inputs that once crashed it
/// (Fuzz/regressions): each must be handled — answered or refused — without a crash.
@Suite struct FuzzCorpusTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func inputs(_ directory: String, _ target: FuzzTarget) -> [(String, [UInt8])] {
        let path = root.appendingPathComponent("Fuzz/\(directory)/\(target.rawValue)").path
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
        return names.compactMap { name in FileManager.default.contents(atPath: path + "/" + name).map { (name, Array($0)) } }
    }

    @Test(arguments: FuzzTarget.allCases)
    func seedsAndRegressionsAreHandled(target: FuzzTarget) {
        let seeds = Self.inputs("corpus", target)
        #expect(seeds.count >= 3, "\(target.rawValue) has its seed corpus")
        for (_, bytes) in seeds + Self.inputs("regressions", target) { target.run(bytes) }
    }
}
