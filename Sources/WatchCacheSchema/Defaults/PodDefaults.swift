import WatchCache

/// Defaults of pods and pod specs (core/v1 `SetDefaults_Pod`, `SetDefaults_PodSpec` and what the
/// generated defaulters reach from a pod spec: volumes, containers, ports, env, probes, lifecycle
/// handlers). Workload pod templates get the pod-spec part only, as in kube-apiserver.
enum PodDefaults {
    /// The defaults of a Pod object.
    static func applyToPod(_ pod: inout JSONObject) {
        pod.withDefaultedObject("spec") { spec in
            applyPodOnlyDefaults(&spec)
            applyToPodSpec(&spec)
        }
    }

    /// The defaults of a pod template (`spec.template` of a workload): the pod-spec defaults only.
    static func applyToTemplate(_ template: inout JSONObject) {
        template.withDefaultedObject("spec") { spec in applyToPodSpec(&spec) }
    }

    /// `SetDefaults_Pod`: what only a Pod gets, not a pod template.
    private static func applyPodOnlyDefaults(_ spec: inout JSONObject) {
        // Requests default to the limits, resource by resource (regular and init containers).
        for key in ["containers", "initContainers"] {
            spec.withEachObject(in: key) { container in
                container.withObject("resources") { resources in
                    guard case .object(let limits)? = resources["limits"] else { return }
                    var requests: JSONObject
                    switch resources["requests"] {
                    case .object(let existing)?: requests = existing
                    case nil, .null?: requests = JSONObject()
                    default: return
                    }
                    var added = false
                    for (name, quantity) in limits.members where requests[name] == nil {
                        requests[name] = quantity
                        added = true
                    }
                    if added { resources["requests"] = .object(requests) }
                }
            }
        }
        spec.defaultValue("enableServiceLinks", .bool(true))
        // With host networking, a container port is also the host port.
        if spec["hostNetwork"] == .bool(true) {
            for key in ["containers", "initContainers"] {
                spec.withEachObject(in: key) { container in
                    container.withEachObject(in: "ports") { port in
                        guard port.isZeroInteger("hostPort"), let containerPort = port["containerPort"],
                              case .number = containerPort, !containerPort.isZeroNumber else { return }
                        port["hostPort"] = containerPort
                    }
                }
            }
        }
    }

    /// `SetDefaults_PodSpec` and the defaults of everything nested in a pod spec.
    static func applyToPodSpec(_ spec: inout JSONObject) {
        spec.defaultString("dnsPolicy", "ClusterFirst")
        spec.defaultString("restartPolicy", "Always")
        spec.defaultValue("securityContext", .object(JSONObject()))
        spec.defaultValue("terminationGracePeriodSeconds", .number("30"))
        spec.defaultString("schedulerName", "default-scheduler")
        spec.withEachObject(in: "volumes") { applyToVolume(&$0) }
        for key in ["initContainers", "containers", "ephemeralContainers"] {
            spec.withEachObject(in: key) { applyToContainer(&$0) }
        }
    }

    // MARK: Containers

    /// `SetDefaults_Container` (ephemeral containers too), port protocols, env field references,
    /// probes and lifecycle handlers.
    private static func applyToContainer(_ container: inout JSONObject) {
        if container.isEmptyString("imagePullPolicy") {
            let image = container["image"]?.stringValue ?? ""
            container["imagePullPolicy"] = .string(ImageReference.tag(of: image) == "latest" ? "Always" : "IfNotPresent")
        }
        container.defaultString("terminationMessagePath", "/dev/termination-log")
        container.defaultString("terminationMessagePolicy", "File")
        container.withEachObject(in: "ports") { $0.defaultString("protocol", "TCP") }
        container.withEachObject(in: "env") { env in
            env.withObject("valueFrom") { valueFrom in
                valueFrom.withObject("fieldRef") { applyToFieldSelector(&$0) }
            }
        }
        for key in ["livenessProbe", "readinessProbe", "startupProbe"] {
            container.withObject(key) { applyToProbe(&$0) }
        }
        container.withObject("lifecycle") { lifecycle in
            for key in ["postStart", "preStop"] {
                lifecycle.withObject(key) { handler in
                    handler.withObject("httpGet") { applyToHTTPGet(&$0) }
                }
            }
        }
    }

    /// `SetDefaults_Probe`, with its handler's `SetDefaults_HTTPGetAction` and the gRPC service.
    private static func applyToProbe(_ probe: inout JSONObject) {
        probe.defaultInteger("timeoutSeconds", 1)
        probe.defaultInteger("periodSeconds", 10)
        probe.defaultInteger("successThreshold", 1)
        probe.defaultInteger("failureThreshold", 3)
        probe.withObject("httpGet") { applyToHTTPGet(&$0) }
        probe.withObject("grpc") { $0.defaultValue("service", .string("")) }
    }

    /// `SetDefaults_HTTPGetAction`.
    private static func applyToHTTPGet(_ action: inout JSONObject) {
        action.defaultString("path", "/")
        action.defaultString("scheme", "HTTP")
    }

    /// `SetDefaults_ObjectFieldSelector`.
    private static func applyToFieldSelector(_ selector: inout JSONObject) {
        selector.defaultString("apiVersion", "v1")
    }

    // MARK: Volumes

    /// The members of `VolumeSource` (inlined into `Volume`): a volume with none is an emptyDir.
    private static let volumeSources: Set<String> = [
        "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret", "nfs", "iscsi",
        "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "downwardAPI", "fc",
        "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "projected",
        "portworxVolume", "scaleIO", "storageos", "csi", "ephemeral", "image",
    ]

    /// The file mode of secret, configMap, downwardAPI and projected volumes: 0644.
    private static let defaultFileMode = JSONValue.number("420")

    /// `SetDefaults_Volume` and the defaults of each volume source.
    private static func applyToVolume(_ volume: inout JSONObject) {
        if !volume.keys.contains(where: { volumeSources.contains($0) && !volume.isUnset($0) }) {
            volume["emptyDir"] = .object(JSONObject())
        }
        volume.withObject("hostPath") { $0.defaultValue("type", .string("")) }
        volume.withObject("secret") { $0.defaultValue("defaultMode", defaultFileMode) }
        volume.withObject("configMap") { $0.defaultValue("defaultMode", defaultFileMode) }
        volume.withObject("downwardAPI") { source in
            source.defaultValue("defaultMode", defaultFileMode)
            applyToDownwardAPIItems(&source)
        }
        volume.withObject("projected") { source in
            source.defaultValue("defaultMode", defaultFileMode)
            source.withEachObject(in: "sources") { projection in
                projection.withObject("downwardAPI") { applyToDownwardAPIItems(&$0) }
                projection.withObject("serviceAccountToken") { $0.defaultValue("expirationSeconds", .number("3600")) }
            }
        }
        // Declarative (`+default=`) defaults of the legacy in-tree sources.
        volume.withObject("iscsi") { $0.defaultString("iscsiInterface", "default") }
        volume.withObject("rbd") { source in
            source.defaultString("pool", "rbd")
            source.defaultString("user", "admin")
            source.defaultString("keyring", "/etc/ceph/keyring")
        }
        volume.withObject("azureDisk") { source in
            source.defaultValue("cachingMode", .string("ReadWrite"))
            source.defaultValue("fsType", .string("ext4"))
            source.defaultValue("readOnly", .bool(false))
            source.defaultValue("kind", .string("Shared"))
        }
        volume.withObject("scaleIO") { source in
            source.defaultString("storageMode", "ThinProvisioned")
            source.defaultString("fsType", "xfs")
        }
        volume.withObject("ephemeral") { source in
            source.withObject("volumeClaimTemplate") { template in
                template.withDefaultedObject("spec") { applyToClaimSpec(&$0) }
            }
        }
    }

    private static func applyToDownwardAPIItems(_ source: inout JSONObject) {
        source.withEachObject(in: "items") { item in
            item.withObject("fieldRef") { applyToFieldSelector(&$0) }
        }
    }

    /// `SetDefaults_PersistentVolumeClaimSpec`.
    static func applyToClaimSpec(_ spec: inout JSONObject) {
        spec.defaultValue("volumeMode", .string("Filesystem"))
    }
}

/// Just enough of the container image reference grammar (`[domain/]path[:tag][@digest]`, with
/// Docker Hub normalisation) to find the tag the way kube-apiserver does when it defaults
/// `imagePullPolicy`.
enum ImageReference {
    /// The image's tag: `latest` when it has neither tag nor digest, `""` when it has only a digest
    /// or is not a valid reference.
    static func tag(of image: String) -> String {
        guard let parsed = parse(image) else { return "" }
        if let tag = parsed.tag { return tag }
        return parsed.hasDigest ? "" : "latest"
    }

    private static func parse(_ reference: String) -> (tag: String?, hasDigest: Bool)? {
        // A bare 64-hex-digit string is an image ID, not a name.
        if reference.utf8.count == 64, reference.utf8.allSatisfy({ isDigit($0) || ($0 >= 0x61 && $0 <= 0x66) }) { return nil }

        // The domain is the first component when it looks like a host; else Docker Hub.
        var domain = "docker.io"
        var remainder = Substring(reference)
        if let slash = reference.firstIndex(of: "/") {
            let first = reference[..<slash]
            if first.contains(".") || first.contains(":") || first == "localhost" || first.lowercased() != first {
                domain = String(first)
                remainder = reference[reference.index(after: slash)...]
            }
        }
        let repository = remainder.prefix { $0 != ":" }
        if repository.lowercased() != repository { return nil }

        var rest = remainder
        var hasDigest = false
        if let at = rest.firstIndex(of: "@") {
            guard isDigest(rest[rest.index(after: at)...]) else { return nil }
            hasDigest = true
            rest = rest[..<at]
        }
        var tag: String?
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") {
            let candidate = rest[rest.index(after: colon)...]
            guard isTag(candidate) else { return nil }
            tag = String(candidate)
            rest = rest[..<colon]
        }
        guard isDomain(Substring(domain)), isPath(rest), domain.utf8.count + 1 + rest.utf8.count <= 255 else { return nil }
        return (tag, hasDigest)
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    private static func isLower(_ c: UInt8) -> Bool { c >= 0x61 && c <= 0x7A }
    private static func isLetter(_ c: UInt8) -> Bool { isLower(c) || (c >= 0x41 && c <= 0x5A) }
    private static func isHex(_ c: UInt8) -> Bool { isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46) }

    /// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
    private static func isTag(_ s: Substring) -> Bool {
        let bytes = Array(s.utf8)
        guard let first = bytes.first, bytes.count <= 128, isLetter(first) || isDigit(first) || first == 0x5F else { return false }
        return bytes.allSatisfy { isLetter($0) || isDigit($0) || $0 == 0x5F || $0 == 0x2E || $0 == 0x2D }
    }

    /// `algorithm:hex`, the algorithm letters and digits joined by `+._-`, the hex at least 32 digits.
    private static func isDigest(_ s: Substring) -> Bool {
        guard let colon = s.firstIndex(of: ":") else { return false }
        let algorithm = Array(s[..<colon].utf8), hex = Array(s[s.index(after: colon)...].utf8)
        guard hex.count >= 32, hex.allSatisfy(isHex) else { return false }
        var expectLetter = true
        for c in algorithm {
            if expectLetter {
                guard isLetter(c) else { return false }
                expectLetter = false
            } else if c == 0x2B || c == 0x2E || c == 0x5F || c == 0x2D {
                expectLetter = true
            } else if !(isLetter(c) || isDigit(c)) {
                return false
            }
        }
        return !algorithm.isEmpty && !expectLetter
    }

    /// Path components `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`, separated by `/`.
    private static func isPath(_ s: Substring) -> Bool {
        s.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { component in
            let bytes = Array(component.utf8)
            guard let first = bytes.first, let last = bytes.last,
                  isLower(first) || isDigit(first), isLower(last) || isDigit(last) else { return false }
            var i = 0
            while i < bytes.count {
                let c = bytes[i]
                if isLower(c) || isDigit(c) { i += 1; continue }
                // A separator: `.`, `_`, `__` or one or more `-`, between alphanumerics.
                var j = i
                if c == 0x2E { j += 1 }
                else if c == 0x5F { j += (j + 1 < bytes.count && bytes[j + 1] == 0x5F) ? 2 : 1 }
                else if c == 0x2D { while j < bytes.count && bytes[j] == 0x2D { j += 1 } }
                else { return false }
                guard j < bytes.count, isLower(bytes[j]) || isDigit(bytes[j]) else { return false }
                i = j
            }
            return true
        }
    }

    /// A host name (letters, digits, inner `-`, dot-separated) or bracketed IPv6, with an optional port.
    private static func isDomain(_ s: Substring) -> Bool {
        var host = s
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            let address = host[host.index(after: host.startIndex)..<close]
            guard !address.isEmpty, address.utf8.allSatisfy({ isHex($0) || $0 == 0x3A }) else { return false }
            host = host[host.index(after: close)...]
            return host.isEmpty || isPort(host)
        }
        if let colon = host.firstIndex(of: ":") {
            guard isPort(host[colon...]) else { return false }
            host = host[..<colon]
        }
        return host.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            let bytes = Array(label.utf8)
            guard let first = bytes.first, let last = bytes.last,
                  isLetter(first) || isDigit(first), isLetter(last) || isDigit(last) else { return false }
            return bytes.allSatisfy { isLetter($0) || isDigit($0) || $0 == 0x2D }
        }
    }

    /// `:` and one or more digits.
    private static func isPort(_ s: Substring) -> Bool {
        s.first == ":" && s.utf8.count > 1 && s.utf8.dropFirst().allSatisfy(isDigit)
    }
}
