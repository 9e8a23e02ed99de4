import ArgumentParser
import CNghttp2
import WatchCache

@main
struct WatchCacheCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watchcache",
        abstract: "A Kubernetes-compatible watch cache: objects, a versioned event log and watch fan-out.",
        discussion: """
            WatchCache keeps objects and a ring buffer of their changes in memory and serves LIST and \
            WATCH with Kubernetes semantics (resourceVersion, 410 Expired, bookmarks, watch-list, \
            label and field selectors).

            Commands:
              serve     the Kubernetes REST API over HTTP/2 (libnghttp2) and HTTP/1.1
              bench     benchmarks: `bench recovery` (watch restarts with and without bookmarks)
              version   print the versions of watchcache and the libnghttp2 it links

            The same core is a Swift library: `import WatchCache` (see the README).
            """,
        version: WatchCacheVersion.string,
        subcommands: [ServeCommand.self, BenchCommand.self, VersionCommand.self]
    )
}

enum WatchCacheVersion {
    static let string = "0.1.0"
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Print the versions of watchcache and of the libnghttp2 it is linked with."
    )

    func run() throws {
        let info = nghttp2_version(0).pointee
        let nghttp2 = String(cString: info.version_str)
        print("watchcache \(WatchCacheVersion.string)")
        print("libnghttp2 \(nghttp2) (\(String(cString: info.proto_str)))")
    }
}
