/// What was built, where, and when: the git fields and the date come from the build (a file
/// `scripts/build-info.sh` generates before compiling), the platform and compiler from the
/// compiler itself. `/version` and `watchcache version` report them.
public enum BuildInfo {
    /// The release of WatchCache.
    public static let release = "0.1.0"

    /// The Kubernetes version whose API and semantics the server follows (kube-apiserver's
    /// `major`/`minor` in `/version`).
    public static let kubernetesMajor = "1"
    public static let kubernetesMinor = "32"

    /// `/version`'s `gitVersion`: kube-apiserver's semantic-version form, the Kubernetes version
    /// served, a `watchcache` pre-release tag, and the commit as build metadata
    /// (`v1.32.0-watchcache+72c32fa` or `...+72c32fa.dirty`).
    public static var gitVersion: String {
        var version = "v\(kubernetesMajor).\(kubernetesMinor).0-watchcache"
        guard !gitCommit.isEmpty else { return version }
        version += "+" + gitCommit.prefix(7)
        if gitTreeState == "dirty" { version += ".dirty" }
        return version
    }

    /// `os/arch` in Go's names, as kube-apiserver reports its platform.
    public static var platform: String {
        #if os(Linux)
        let os = "linux"
        #elseif os(macOS)
        let os = "darwin"
        #elseif os(Windows)
        let os = "windows"
        #else
        let os = "unknown"
        #endif
        #if arch(x86_64)
        let arch = "amd64"
        #elseif arch(arm64)
        let arch = "arm64"
        #else
        let arch = "unknown"
        #endif
        return "\(os)/\(arch)"
    }

    /// The Swift compiler that built it, as far as it tells (`swift6.3`).
    public static var compiler: String {
        #if compiler(>=6.4)
        "swift6.4+"
        #elseif compiler(>=6.3)
        "swift6.3"
        #elseif compiler(>=6.2)
        "swift6.2"
        #elseif compiler(>=6.1)
        "swift6.1"
        #else
        "swift6.0"
        #endif
    }
}
