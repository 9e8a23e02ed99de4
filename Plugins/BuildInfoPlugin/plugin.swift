import Foundation
import PackagePlugin

/// Before every build, `scripts/build-info.sh` writes the package's git commit, tree state and
/// the build date into a Swift file of the target (rewritten only when the tree changed, so an
/// unchanged tree is not recompiled and keeps its build date).
@main
struct BuildInfoPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let generated = context.pluginWorkDirectoryURL.appending(path: "Generated")
        let state = context.pluginWorkDirectoryURL.appending(path: "State")
        let script = context.package.directoryURL.appending(path: "scripts/build-info.sh")
        return [
            .prebuildCommand(
                displayName: "Capturing the git commit, tree state and build date",
                executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: [script.path, context.package.directoryURL.path, generated.path, state.path],
                outputFilesDirectory: generated
            ),
        ]
    }
}
