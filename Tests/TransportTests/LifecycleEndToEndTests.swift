import Foundation
import Testing
import WatchCache
import WatchCacheServer

/// Objects' lifecycle with kubectl over TLS, against a server with kube-apiserver's
/// NamespaceLifecycle: system namespaces, admission, finalizers, graceful and forced pod deletion,
/// and namespace termination end to end, with the watch events in between.
@Suite(.serialized) struct LifecycleEndToEndTests {
    @Test(arguments: KubectlWriteTests.Backend.allCases)
    func finalizersGracefulDeletionAndNamespaces(backend: KubectlWriteTests.Backend) async throws {
        let kubectlPath = KubectlWriteTests.kubectlPath
        try #require(FileManager.default.isExecutableFile(atPath: kubectlPath), "kubectl is not installed at \(kubectlPath)")
        let (registry, etcd) = try await backend.registry()
        defer { etcd?.stop() }
        let (server, port) = try await SecureEndToEndTests.startServer(namespaceLifecycle: true, registry: registry)
        let base = "https://127.0.0.1:\(port)"
        let connection = ["--server", base, "--insecure-skip-tls-verify", "--token", SecureEndToEndTests.token]
        @discardableResult
        func kubectl(_ arguments: String..., succeeds: Bool = true) async throws -> KubectlWriteTests.Output {
            let output = try await KubectlWriteTests.run(kubectlPath, arguments + connection)
            if succeeds { #expect(output.status == 0, "kubectl \(arguments.joined(separator: " ")): \(output.stderr)") }
            return output
        }
        func object(_ arguments: String...) async throws -> JSONValue? {
            let output = try await KubectlWriteTests.run(kubectlPath, ["get"] + arguments + ["-o", "json"] + connection)
            return output.status == 0 ? try JSONParser.parse(output.stdout) : nil
        }
        func curl(_ arguments: [String]) async throws -> String {
            try await SecureEndToEndTests.curl(["-H", "Authorization: Bearer \(SecureEndToEndTests.token)"] + arguments)
        }

        // The system namespaces exist; nothing is created in a namespace that does not.
        let namespaces = try await kubectl("get", "namespaces", "-o", "name").stdout.split(separator: "\n")
        #expect(["namespace/default", "namespace/kube-node-lease", "namespace/kube-public", "namespace/kube-system"].allSatisfy { namespaces.contains(Substring($0)) })
        let missing = try await kubectl("create", "configmap", "x", "-n", "nope", succeeds: false)
        #expect(missing.status != 0)
        #expect(missing.stderr.contains(#"namespaces "nope" not found"#))
        let immortal = try await kubectl("delete", "namespace", "default", succeeds: false)
        #expect(immortal.stderr.contains("this namespace may not be deleted"))

        // A finalizer keeps a config map after its DELETE until the finalizer is removed.
        try await kubectl("create", "namespace", "team")
        let manifest = FileManager.default.temporaryDirectory.appendingPathComponent("watchcache-lifecycle-\(port).yaml")
        defer { try? FileManager.default.removeItem(at: manifest) }
        try "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept, namespace: team, finalizers: [example.com/keep]}\ndata: {a: \"1\"}\n"
            .write(to: manifest, atomically: true, encoding: .utf8)
        try await kubectl("create", "-f", manifest.path)
        let before = try #require(try await object("configmap", "kept", "-n", "team")?["metadata"]?["resourceVersion"]?.stringValue)
        #expect(try await kubectl("delete", "configmap", "kept", "-n", "team", "--wait=false").stdout == "configmap \"kept\" deleted\n")
        let marked = try #require(try await object("configmap", "kept", "-n", "team"))
        #expect(marked["metadata"]?["deletionTimestamp"]?.stringValue?.isEmpty == false)
        #expect(marked["metadata"]?["deletionGracePeriodSeconds"] == .number("0"))
        try await kubectl("patch", "configmap", "kept", "-n", "team", "--type", "merge", "-p", #"{"metadata":{"finalizers":null}}"#)
        #expect(try await object("configmap", "kept", "-n", "team") == nil)
        // Watchers saw it marked, then gone.
        let replay = try await curl(["\(base)/api/v1/namespaces/team/configmaps?watch=true&resourceVersion=\(before)&timeoutSeconds=1"])
        let events = try replay.split(separator: "\n").map { try JSONObject(parsing: String($0)) }
        #expect(events.compactMap { $0["type"]?.stringValue } == ["MODIFIED", "DELETED"])
        #expect(events.first?["object"]?["metadata"]?["deletionTimestamp"] != nil)

        // A pod on a node is deleted gracefully; --grace-period=0 --force removes it at once.
        try "apiVersion: v1\nkind: Pod\nmetadata: {name: web, namespace: team}\nspec: {nodeName: node-1, containers: [{name: c, image: nginx}]}\n"
            .write(to: manifest, atomically: true, encoding: .utf8)
        try await kubectl("create", "-f", manifest.path)
        try await kubectl("delete", "pod", "web", "-n", "team", "--wait=false")
        let terminating = try #require(try await object("pod", "web", "-n", "team"))
        #expect(terminating["metadata"]?["deletionGracePeriodSeconds"] == .number("30"))
        let forced = try await kubectl("delete", "pod", "web", "-n", "team", "--grace-period=0", "--force")
        #expect(forced.stdout == "pod \"web\" force deleted\n")
        #expect(try await object("pod", "web", "-n", "team") == nil)

        // A namespace with objects in it: `kubectl delete ns` waits until its objects and then the
        // namespace are gone.
        try await kubectl("create", "configmap", "c1", "-n", "team")
        try await kubectl("create", "deployment", "d1", "-n", "team", "--image=nginx")
        try await kubectl("run", "p1", "-n", "team", "--image=nginx")
        // From c1's version, so the deletion is replayed however late the watch starts.
        let c1 = try #require(try await object("configmap", "c1", "-n", "team"))
        let c1Version = c1["metadata"]?["resourceVersion"]?.stringValue ?? "0"
        let watch = Task { try await curl(["\(base)/api/v1/namespaces/team/configmaps?watch=true&resourceVersion=\(c1Version)&timeoutSeconds=8"]) }
        #expect(try await kubectl("delete", "namespace", "team", "--timeout=60s").stdout == "namespace \"team\" deleted\n")
        #expect(try await object("namespace", "team") == nil)
        #expect(try await object("configmap", "c1", "-n", "team") == nil)
        #expect(try await object("deployment", "d1", "-n", "team") == nil)
        let watched = try await watch.value.split(separator: "\n").map { try JSONObject(parsing: String($0)) }
        #expect(watched.contains { $0["type"] == .string("DELETED") && $0["object"]?["metadata"]?["name"] == .string("c1") })

        // A terminating namespace takes nothing new.
        try await kubectl("create", "namespace", "held")
        try "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept, namespace: held, finalizers: [example.com/keep]}\n"
            .write(to: manifest, atomically: true, encoding: .utf8)
        try await kubectl("create", "-f", manifest.path)
        try await kubectl("delete", "namespace", "held", "--wait=false")
        #expect(try await object("namespace", "held")?["status"]?["phase"] == .string("Terminating"))
        let refused = try await kubectl("create", "configmap", "late", "-n", "held", succeeds: false)
        #expect(refused.stderr.contains("unable to create new content in namespace held because it is being terminated"))
        try await kubectl("patch", "configmap", "kept", "-n", "held", "--type", "merge", "-p", #"{"metadata":{"finalizers":null}}"#)
        try await kubectl("wait", "--for=delete", "namespace/held", "--timeout=30s")
        #expect(try await object("namespace", "held") == nil)
        try await server.shutdown()
    }
}
