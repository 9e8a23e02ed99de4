import ArgumentParser
import CNghttp2
import WatchCache
import WatchCacheBuildInfo

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
              serve              the Kubernetes REST API over HTTP/2 (libnghttp2) and HTTP/1.1, on SQLite, in memory or over etcd
              bench recovery     watch restarts with bookmarks off and on (KEP-956's cut in init events)
              bench fanout       streams held, memory per stream, delivery latency, reconnect storms, restarts
              bench storage      durable write throughput, start-up time, disk per history event
              bench encoding     a watch event in JSON and in protobuf: bytes and server CPU
              bench compression  gzipped LISTs: bytes saved, compressor CPU, fetch time
              bench etcd         raw etcd watchers, and writes to etcd direct or through a replica
              bench guarantees   the watch guarantees under faults (writes, watchers, server kills)
              version            what was built (commit, tree state, date) and the libnghttp2 it links

            `watchcache help <command>` or `watchcache <command> --help` for each command's options.

            The same core is a Swift library: `import WatchCache` (see the README).
            """,
        version: WatchCacheVersion.string,
        subcommands: [ServeCommand.self, BenchCommand.self, VersionCommand.self]
    )
}

enum WatchCacheVersion {
    /// `0.1.0 (72c32fa, clean tree, built 2026-12-01T12:00:00Z)`.
    static var string: String {
        guard !BuildInfo.gitCommit.isEmpty else { return "\(BuildInfo.release) (built \(BuildInfo.buildDate) outside a git checkout)" }
        return "\(BuildInfo.release) (\(BuildInfo.gitCommit.prefix(12)), \(BuildInfo.gitTreeState) tree, built \(BuildInfo.buildDate))"
    }
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
        print("commit \(BuildInfo.gitCommit.isEmpty ? "unknown" : BuildInfo.gitCommit) (\(BuildInfo.gitDescribe.isEmpty ? "-" : BuildInfo.gitDescribe))")
        print("serves Kubernetes \(BuildInfo.gitVersion), platform \(BuildInfo.platform), compiler \(BuildInfo.compiler)")
        print("libnghttp2 \(nghttp2) (\(String(cString: info.proto_str)))")
    }
}
