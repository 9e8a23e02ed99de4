import Testing

/// The README's embedding example is the compiled `EmbeddingExample` target, word for word.
@Suite struct ReadmeTests {
    static let root = SourceTree.packageRoot(from: #filePath)

    @Test func readmeEmbeddingExampleIsTheCompiledExample() throws {
        let readme = try SourceTree.read(Self.root + "/README.md")
        let example = try SourceTree.read(Self.root + "/Examples/Embedding/main.swift")
        let fence = "```swift\n"
        guard let start = readme.range(of: fence), let end = readme.range(of: "```", range: start.upperBound..<readme.endIndex) else {
            Issue.record("README has no swift block")
            return
        }
        #expect(String(readme[start.upperBound..<end.lowerBound]) == example)
    }
}

import Foundation

enum SourceTree {
    static func packageRoot(from file: String) -> String {
        var parts = file.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)  // Tests/WatchCacheTests/ReadmeTests.swift
        return parts.joined(separator: "/")
    }

    static func read(_ path: String) throws -> String {
        try String(contentsOfFile: path, encoding: .utf8)
    }
}
