import Foundation
import PackagePlugin

/// `scripts/build-info.sh` writes the package's git commit, tree state and the build date into a
/// Swift file of the target (rewritten only when the tree changed, so an unchanged tree is not
/// recompiled and keeps its build date).
///
/// A build command, not a prebuild one: SwiftPM runs prebuild commands only when it plans the build
/// anew, so after a commit (or an edit) a rebuild kept the old commit. A build command runs
/// whenever one of its inputs changed: git's HEAD, the branch it points to, the index, every source
/// file of the package and every directory of it (a file added or removed changes its directory:
/// the tree state).
@main
struct BuildInfoPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let generated = context.pluginWorkDirectoryURL.appending(path: "Generated")
        let state = context.pluginWorkDirectoryURL.appending(path: "State")
        let package = context.package.directoryURL
        let script = package.appending(path: "scripts/build-info.sh")
        return [
            .buildCommand(
                displayName: "Capturing the git commit, tree state and build date",
                executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: [script.path, package.path, generated.path, state.path],
                inputFiles: [script] + Self.gitFiles(of: package) + Self.sourceFiles(of: context.package) + Self.directories(of: package),
                outputFiles: [generated.appending(path: "BuildInfo+Generated.swift")]
            ),
        ]
    }

    /// The files of `package`'s git directory that change with a commit, a checkout or staging.
    static func gitFiles(of package: URL) -> [URL] {
        let git = package.appending(path: ".git")
        var files = ["HEAD", "index", "packed-refs"].map { git.appending(path: $0) }
        if let head = try? String(contentsOf: git.appending(path: "HEAD"), encoding: .utf8), head.hasPrefix("ref: ") {
            files.append(git.appending(path: head.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        return files.filter { FileManager.default.fileExists(atPath: $0.path) }
    }

    /// Every source file of every target of `package` (tests and plugins included).
    static func sourceFiles(of package: Package) -> [URL] {
        package.targets.flatMap { target in (target as? SourceModuleTarget)?.sourceFiles.map(\.url) ?? [] }
            + [package.directoryURL.appending(path: "Package.swift")]
    }

    /// `package` and every directory under it but git's and the build's.
    static func directories(of package: URL) -> [URL] {
        var found = [package]
        guard let walk = FileManager.default.enumerator(at: package, includingPropertiesForKeys: [.isDirectoryKey]) else { return found }
        for case let url as URL in walk where (try? url.resourceValues(forKeys: [.isDirectoryKey]).isDirectory) == true {
            if url.lastPathComponent == ".git" || url.lastPathComponent.hasPrefix(".build") {
                walk.skipDescendants()
            } else {
                found.append(url)
            }
        }
        return found
    }
}
