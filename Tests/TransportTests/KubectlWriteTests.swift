import Foundation
import Testing
import WatchCache
import WatchCacheServer
import WatchCacheEtcd
import WatchCacheBench

/// Writes from real clients, unchanged: kubectl 1.32 over TLS (its create commands send protobuf,
/// `apply`, `set image`, `edit` and `patch` send strategic merge patches, `scale` writes `/scale`)
/// and the official Python client's patches. Expected objects are written from kube-apiserver's
/// semantics: merge keys, `$setElementOrder`, `$retainKeys`, defaults.
@Suite(.serialized) struct KubectlWriteTests {
    static let kubectlPath = "/usr/bin/kubectl"

    struct Output {
        let stdout: String
        let stderr: String
        let status: Int32
    }

    /// Runs `tool` and collects both outputs and the exit status.
    static func run(_ tool: String, _ arguments: [String], environment: [String: String] = [:]) async throws -> Output {
        let output = try await offPool { try runProcess(tool, arguments, environment: environment) }
        return Output(stdout: output.stdout, stderr: output.stderr, status: output.status)
    }

    /// `value` with every object's members sorted by key, to compare documents whatever their order.
    static func canonical(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let object):
            return .object(JSONObject(object.members.map { ($0.0, canonical($0.1)) }.sorted { $0.0 < $1.0 }))
        case .array(let elements):
            return .array(elements.map(canonical))
        default:
            return value
        }
    }

    static func json(_ text: String) throws -> JSONValue { canonical(try JSONParser.parse(text)) }

    /// Where the objects live: the in-memory storage, or a real etcd (started with scripts/etcd.sh).
    enum Backend: String, CaseIterable, Sendable {
        case memory, etcd

        /// A registry over the backend (`nil`: the test server's default, in memory) and the etcd to stop.
        func registry() async throws -> (Registry?, LocalEtcd?) {
            guard self == .etcd else { return (nil, nil) }
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            let cluster = try LocalEtcd(script: root.appendingPathComponent("scripts/etcd.sh").path)
            let storage = try EtcdStorage(endpoints: EtcdEndpoints(parsing: cluster.servers))
            let registry = Registry(source: storage, configuration: CacheConfiguration(bookmarkInterval: .seconds(1)))
            try await registry.recoverWithoutBlocking()
            return (registry, cluster)
        }
    }

    /// kubectl against one test server (TLS, token), files in `directory`.
    struct Session {
        let port: Int
        let directory: URL
        var connection: [String] { ["--server", "https://127.0.0.1:\(port)", "--insecure-skip-tls-verify", "--token", SecureEndToEndTests.token] }

        /// Runs kubectl; when it should succeed, expects exit 0 and nothing on standard error (no
        /// warning of any kind, openapi or unknown fields: the server gave kubectl what it needs).
        @discardableResult
        func kubectl(_ arguments: [String], environment: [String: String] = [:], succeeds: Bool = true) async throws -> Output {
            let output = try await KubectlWriteTests.run(KubectlWriteTests.kubectlPath, arguments + connection, environment: environment)
            if succeeds {
                #expect(output.status == 0, "kubectl \(arguments.joined(separator: " ")): \(output.stderr)")
                #expect(output.stderr.isEmpty, "kubectl \(arguments.joined(separator: " ")): \(output.stderr)")
            }
            return output
        }

        /// `kubectl get … -o json`, parsed.
        func object(_ arguments: [String]) async throws -> JSONValue {
            try JSONParser.parse(try await KubectlWriteTests.run(KubectlWriteTests.kubectlPath, ["get"] + arguments + ["-o", "json"] + connection).stdout)
        }

        /// Writes `text` to a file named `name` in the directory; its path.
        func write(_ name: String, _ text: String) throws -> String {
            let url = directory.appendingPathComponent(name)
            try text.write(to: url, atomically: true, encoding: .utf8)
            return url.path
        }
    }

    @Test(arguments: Backend.allCases)
    func kubectlCreateApplyPatchScaleEditAndValidation(backend: Backend) async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.kubectlPath), "kubectl is not installed at \(Self.kubectlPath)")
        let (registry, etcd) = try await backend.registry()
        defer { etcd?.stop() }
        let (server, port) = try await SecureEndToEndTests.startServer(namespaceLifecycle: true, registry: registry)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("watchcache-kubectl-\(port)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let session = Session(port: port, directory: directory)
        @discardableResult
        func kubectl(_ arguments: String..., environment: [String: String] = [:], succeeds: Bool = true) async throws -> Output {
            try await session.kubectl(arguments, environment: environment, succeeds: succeeds)
        }
        func object(_ arguments: String...) async throws -> JSONValue { try await session.object(arguments) }
        func write(_ name: String, _ text: String) throws -> String { try session.write(name, text) }

        // The everyday create commands: protobuf bodies.
        #expect(try await kubectl("create", "configmap", "cm1", "--from-literal=a=1").stdout == "configmap/cm1 created\n")
        #expect(try await kubectl("create", "secret", "generic", "s1", "--from-literal=p=q").stdout == "secret/s1 created\n")
        #expect(try await kubectl("create", "namespace", "team").stdout == "namespace/team created\n")
        #expect(try await kubectl("create", "deployment", "web", "--image=nginx:1.27", "--replicas=2").stdout == "deployment.apps/web created\n")
        #expect(try await kubectl("create", "service", "clusterip", "svc1", "--tcp=80:8080").stdout == "service/svc1 created\n")
        #expect(try await object("configmap", "cm1")["data"]?["a"] == .string("1"))
        let secret = try await object("secret", "s1")
        #expect(secret["data"]?["p"] == .string("cQ=="))
        #expect(secret["type"] == .string("Opaque"))
        let namespace = try await object("namespace", "team")
        #expect(namespace["spec"]?["finalizers"] == .array([.string("kubernetes")]))
        #expect(namespace["status"]?["phase"] == .string("Active"))
        #expect(namespace["metadata"]?["labels"]?["kubernetes.io/metadata.name"] == .string("team"))
        let service = try await object("service", "svc1")
        #expect(Self.canonical(service["spec"] ?? .null) == (try Self.json(#"""
            {"internalTrafficPolicy":"Cluster","ports":[{"name":"80-8080","port":80,"protocol":"TCP","targetPort":8080}],
             "selector":{"app":"svc1"},"sessionAffinity":"None","type":"ClusterIP"}
            """#)))
        let web = try await object("deployment", "web")
        #expect(web["spec"]?["replicas"] == .number("2"))
        #expect(web["spec"]?["template"]?["spec"]?["containers"]?.arrayValue?.first?["image"] == .string("nginx:1.27"))
        #expect(web["spec"]?["strategy"]?["rollingUpdate"]?["maxSurge"] == .string("25%"))

        // apply a pod three times: the image changes and comes back, nothing else is lost.
        let pod = #"""
            apiVersion: v1
            kind: Pod
            metadata: {name: app, labels: {app: demo}}
            spec:
              containers:
              - name: web
                image: nginx:1.26
                ports: [{containerPort: 80}]
              - name: side
                image: busybox:1.36
                command: [sleep, "3600"]
            """#
        let pod1 = try write("pod1.yaml", pod)
        let pod2 = try write("pod2.yaml", pod.replacingOccurrences(of: "nginx:1.26", with: "nginx:1.27"))
        #expect(try await kubectl("apply", "-f", pod1).stdout == "pod/app created\n")
        #expect(try await kubectl("apply", "-f", pod2).stdout == "pod/app configured\n")
        let podContainers = #"""
            [{"image":"IMAGE","imagePullPolicy":"IfNotPresent","name":"web","ports":[{"containerPort":80,"protocol":"TCP"}],
              "terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"},
             {"command":["sleep","3600"],"image":"busybox:1.36","imagePullPolicy":"IfNotPresent","name":"side",
              "terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}]
            """#
        #expect(Self.canonical(try await object("pod", "app")["spec"]?["containers"] ?? .null)
                == (try Self.json(podContainers.replacingOccurrences(of: "IMAGE", with: "nginx:1.27"))))
        #expect(try await kubectl("apply", "-f", pod1).stdout == "pod/app configured\n")
        let applied = try await object("pod", "app")
        #expect(Self.canonical(applied["spec"]?["containers"] ?? .null) == (try Self.json(podContainers.replacingOccurrences(of: "IMAGE", with: "nginx:1.26"))))
        #expect(applied["spec"]?["schedulerName"] == .string("default-scheduler"))
        #expect(applied["status"]?["phase"] == .string("Pending"))

        // apply a deployment three times, with a change made outside the manifests in between:
        // containers, ports, env and volumes (a volume's source switched: $retainKeys) come and go.
        let shop1 = #"""
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: shop}
            spec:
              selector: {matchLabels: {app: shop}}
              template:
                metadata: {labels: {app: shop}}
                spec:
                  containers:
                  - name: web
                    image: nginx:1.26
                    ports: [{name: http, containerPort: 80}]
                    env: [{name: A, value: "1"}]
                    volumeMounts: [{name: data, mountPath: /data}]
                  volumes:
                  - {name: data, emptyDir: {}}
            """#
        let shop2 = #"""
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: shop}
            spec:
              selector: {matchLabels: {app: shop}}
              template:
                metadata: {labels: {app: shop}}
                spec:
                  containers:
                  - name: web
                    image: nginx:1.27
                    ports: [{name: http, containerPort: 80}, {name: https, containerPort: 443}]
                    env: [{name: A, value: "1"}, {name: B, value: "2"}]
                    volumeMounts: [{name: data, mountPath: /data}]
                  - name: side
                    image: busybox:1.36
                    command: [sleep, "3600"]
                  volumes:
                  - {name: data, hostPath: {path: /srv}}
                  - {name: cache, emptyDir: {}}
            """#
        let shop1Path = try write("shop1.yaml", shop1)
        let shop2Path = try write("shop2.yaml", shop2)
        try await kubectl("apply", "-f", shop1Path)
        try await kubectl("patch", "deployment", "shop", "--type", "strategic",
                          "-p", #"{"spec":{"template":{"spec":{"containers":[{"name":"web","resources":{"limits":{"cpu":"1"}}}]}}}}"#)
        try await kubectl("apply", "-f", shop2Path)
        let podSpecDefaults = #""dnsPolicy":"ClusterFirst","restartPolicy":"Always","schedulerName":"default-scheduler","securityContext":{},"terminationGracePeriodSeconds":30"#
        let webDefaults = #""imagePullPolicy":"IfNotPresent","terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File""#
        #expect(Self.canonical(try await object("deployment", "shop")["spec"]?["template"]?["spec"] ?? .null) == (try Self.json("""
            {"containers":[
               {"name":"web","image":"nginx:1.27",\(webDefaults),
                "ports":[{"containerPort":80,"name":"http","protocol":"TCP"},{"containerPort":443,"name":"https","protocol":"TCP"}],
                "env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],
                "resources":{"limits":{"cpu":"1"}},
                "volumeMounts":[{"mountPath":"/data","name":"data"}]},
               {"name":"side","image":"busybox:1.36","command":["sleep","3600"],\(webDefaults)}],
             \(podSpecDefaults),
             "volumes":[{"name":"data","hostPath":{"path":"/srv","type":""}},{"name":"cache","emptyDir":{}}]}
            """)))
        try await kubectl("apply", "-f", shop1Path)
        let shop = try await object("deployment", "shop")
        #expect(Self.canonical(shop["spec"]?["template"]?["spec"] ?? .null) == (try Self.json("""
            {"containers":[
               {"name":"web","image":"nginx:1.26",\(webDefaults),
                "ports":[{"containerPort":80,"name":"http","protocol":"TCP"}],
                "env":[{"name":"A","value":"1"}],
                "resources":{"limits":{"cpu":"1"}},
                "volumeMounts":[{"mountPath":"/data","name":"data"}]}],
             \(podSpecDefaults),
             "volumes":[{"name":"data","emptyDir":{}}]}
            """)))
        #expect(shop["metadata"]?["generation"] == .number("4"))

        // set image, scale, edit (a scripted editor), patch with $patch: delete.
        #expect(try await kubectl("set", "image", "deployment/web", "nginx=nginx:1.28").stdout == "deployment.apps/web image updated\n")
        #expect(try await kubectl("scale", "deployment", "web", "--replicas=3").stdout == "deployment.apps/web scaled\n")
        #expect(try await kubectl("edit", "deployment", "web", environment: ["KUBE_EDITOR": "sed -i s/nginx:1.28/nginx:1.29/"]).stdout
                == "deployment.apps/web edited\n")
        let edited = try await object("deployment", "web")
        #expect(edited["spec"]?["replicas"] == .number("3"))
        #expect(edited["spec"]?["template"]?["spec"]?["containers"]?.arrayValue?.map { $0["image"] } == [.string("nginx:1.29")])
        try await kubectl("apply", "-f", shop2Path)
        try await kubectl("patch", "deployment", "shop", "--type", "strategic",
                          "-p", #"{"spec":{"template":{"spec":{"containers":[{"name":"web","$patch":"delete"}]}}}}"#)
        let patched = try await object("deployment", "shop")
        #expect(patched["spec"]?["template"]?["spec"]?["containers"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["side"])

        // explain reads the real schemas.
        let explained = try await kubectl("explain", "pods.spec.containers")
        #expect(explained.stdout.contains("FIELD: containers <[]Container>"))
        #expect(explained.stdout.contains("image\t<string>"))

        // Strict validation (kubectl's default) rejects an unknown field, with kube-apiserver's words.
        let bad = try write("bad.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad}\ndata: {a: \"1\"}\nspec: {foo: 1}\n")
        let rejected = try await kubectl("create", "--validate=strict", "-f", bad, succeeds: false)
        #expect(rejected.status != 0)
        #expect(rejected.stderr.contains(#"ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "spec""#))
        let warned = try await kubectl("create", "--validate=warn", "-f", bad, succeeds: false)
        #expect(warned.status == 0)
        #expect(warned.stderr.contains(#"unknown field "spec""#))

        // A bare pod is listed by kube-scheduler's field selector for pods to schedule.
        try await kubectl("run", "bare", "--image=nginx")
        let pending = try await kubectl("get", "pods", "-o", "name",
                                         "--field-selector=spec.schedulerName=default-scheduler,spec.nodeName=,status.phase!=Succeeded,status.phase!=Failed")
        #expect(pending.stdout.split(separator: "\n").contains("pod/bare"))
        try await server.shutdown()
    }

    /// A file whose kind is `List` — what `kubectl get -o yaml` writes — is validated by kubectl
    /// itself, item by item, against `/openapi/v2` (protobuf) before anything is sent: OpenAPI v3
    /// does not answer for `List`. Valid lists go through (server objects with their status
    /// included); an unknown field, a missing required field or a value of the wrong type is
    /// refused with kubectl's words for each, and nothing is written.
    @Test func listFilesAreValidatedAgainstOpenAPIV2() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.kubectlPath), "kubectl is not installed at \(Self.kubectlPath)")
        let (server, port) = try await SecureEndToEndTests.startServer(namespaceLifecycle: true)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("watchcache-kubectl-list-\(port)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let k = Session(port: port, directory: directory)

        let list = """
            apiVersion: v1
            kind: List
            items:
            - apiVersion: v1
              kind: ConfigMap
              metadata: {name: settings}
              data: {mode: fast}
            - apiVersion: v1
              kind: Pod
              metadata: {name: worker, labels: {app: worker}}
              spec:
                containers:
                - name: main
                  image: busybox:1.36
                  command: [sleep, "3600"]
                  resources: {limits: {cpu: 500m, memory: 64Mi}}
                  ports: [{containerPort: 8080}]
            - apiVersion: apps/v1
              kind: Deployment
              metadata: {name: api}
              spec:
                replicas: 2
                selector: {matchLabels: {app: api}}
                strategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 25%}}
                template:
                  metadata: {labels: {app: api}}
                  spec:
                    containers: [{name: api, image: "nginx:1.27"}]
            """
        let created = try await k.kubectl(["create", "-f", try k.write("list.yaml", list)])
        #expect(created.stdout == "configmap/settings created\npod/worker created\ndeployment.apps/api created\n")
        #expect(try await k.object(["deployment", "api"])["spec"]?["strategy"]?["rollingUpdate"]?["maxUnavailable"] == .string("25%"))

        // What `kubectl get -o yaml` wrote goes back in: every field the server filled passes.
        let exported = try await k.kubectl(["get", "configmap/settings", "pod/worker", "deployment/api", "-o", "yaml"])
        #expect(exported.stdout.hasPrefix("apiVersion: v1\nitems:\n"))
        #expect(exported.stdout.contains("\nkind: List\n"))
        let replaced = try await k.kubectl(["replace", "-f", try k.write("exported.yaml", exported.stdout)])
        #expect(replaced.stdout == "configmap/settings replaced\npod/worker replaced\ndeployment.apps/api replaced\n")

        // apply validates the same way; a second apply of the changed list configures.
        let third = list.replacingOccurrences(of: "name: settings", with: "name: settings3")
            .replacingOccurrences(of: "name: worker,", with: "name: worker3,").replacingOccurrences(of: "name: api}", with: "name: api3}")
        let applied = try await k.kubectl(["apply", "-f", try k.write("apply.yaml", third)])
        #expect(applied.stdout == "configmap/settings3 created\npod/worker3 created\ndeployment.apps/api3 created\n")
        let reapplied = try await k.kubectl(["apply", "-f", try k.write("apply2.yaml", third.replacingOccurrences(of: "mode: fast", with: "mode: slow"))])
        // The deployment is "configured" though its file did not change, as against kube-apiserver:
        // its live strategy has the defaulted `type`, which the file lacks, so kubectl's three-way
        // patch carries `$retainKeys: [rollingUpdate]` for the retainKeys strategy.
        #expect(reapplied.stdout == "configmap/settings3 configured\npod/worker3 unchanged\ndeployment.apps/api3 configured\n")
        #expect(try await k.object(["configmap", "settings3"])["data"]?["mode"] == .string("slow"))
        #expect(KubectlWriteTests.canonical(try await k.object(["deployment", "api3"])["spec"]?["strategy"] ?? .null)
                == (try KubectlWriteTests.json(#"{"rollingUpdate":{"maxSurge":1,"maxUnavailable":"25%"},"type":"RollingUpdate"}"#)))

        // Refused by kubectl, against the definitions, before any request.
        func refused(_ name: String, _ text: String, _ message: String) async throws {
            let output = try await k.kubectl(["create", "-f", try k.write(name, text)], succeeds: false)
            #expect(output.status != 0, "\(name) was accepted")
            #expect(output.stderr.contains("error validating data"), "\(name): \(output.stderr)")
            #expect(output.stderr.contains(message), "\(name): \(output.stderr)")
        }
        let second = list.replacingOccurrences(of: "name: settings", with: "name: settings2")
            .replacingOccurrences(of: "name: worker,", with: "name: worker2,").replacingOccurrences(of: "name: api}", with: "name: api2}")
        try await refused("unknown.yaml", second.replacingOccurrences(of: "image: busybox:1.36", with: "imagee: busybox:1.36"),
                          #"ValidationError(Pod.spec.containers[0]): unknown field "imagee" in io.k8s.api.core.v1.Container"#)
        try await refused("required.yaml", second.replacingOccurrences(of: "- name: main\n", with: "- image: nginx\n"),
                          #"ValidationError(Pod.spec.containers[0]): missing required field "name" in io.k8s.api.core.v1.Container"#)
        try await refused("type.yaml", second.replacingOccurrences(of: "replicas: 2", with: "replicas: two"),
                          #"invalid type for io.k8s.api.apps.v1.DeploymentSpec.replicas: got "string", expected "integer""#)
        for name in ["configmap/settings2", "pod/worker2", "deployment/api2"] {
            let missing = try await k.kubectl(["get", name], succeeds: false)
            #expect(missing.status != 0 && missing.stderr.contains("NotFound"), "\(name) was written: \(missing.stdout)")
        }
        // Turned off, the server decides: it drops the unknown field, as kube-apiserver with fieldValidation=Ignore.
        let ignored = try await k.kubectl(["create", "--validate=false", "-f",
                                           try k.write("ignored.yaml", second.replacingOccurrences(of: "command: [sleep", with: "commandd: [sleep"))])
        #expect(ignored.stdout.contains("pod/worker2 created"))
        #expect(try await k.object(["pod", "worker2"])["spec"]?["containers"]?.arrayValue?.first?["commandd"] == nil)
        try await server.shutdown()
    }

    /// kubectl with an empty cache discovers the API in two requests (`/api`, `/apis`, aggregated
    /// discovery), not one per group-version, and finds every resource through them.
    @Test func kubectlDiscoversWithAggregatedDiscovery() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.kubectlPath), "kubectl is not installed at \(Self.kubectlPath)")
        let (server, port) = try await SecureEndToEndTests.startServer()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("watchcache-kubectl-discovery-\(port)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let k = Session(port: port, directory: directory)
        let cache = ["--cache-dir", directory.appendingPathComponent("cache").path]
        let listed = try await k.kubectl(["get", "deployments", "-v=6"] + cache, succeeds: false)
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stderr.contains("/api?timeout=") && listed.stderr.contains("/apis?timeout="), "\(listed.stderr)")
        #expect(!listed.stderr.contains("/api/v1?timeout=") && !listed.stderr.contains("/apis/apps/v1?timeout="), "\(listed.stderr)")
        let resources = try await k.kubectl(["api-resources", "-o", "name"] + cache)
        for name in ["pods", "deployments.apps", "statefulsets.apps", "selfsubjectaccessreviews.authorization.k8s.io"] {
            #expect(resources.stdout.split(separator: "\n").contains(Substring(name)), "\(name): \(resources.stdout)")
        }
        try await server.shutdown()
    }

    /// The Python client's strategic merge patches of one container, and its scale and status calls.
    @Test func pythonClientPatches() async throws {
        let root = String(#filePath.split(separator: "/", omittingEmptySubsequences: false).dropLast(3).joined(separator: "/"))
        let python = root + "/.build-python/bin/python"
        try #require(FileManager.default.isExecutableFile(atPath: python), "run scripts/install-python-client.sh first")
        let (server, port) = try await EndToEndTests.startServer()
        let output = try await Self.run(python, [root + "/Tests/clients/python_patch_check.py", "http://127.0.0.1:\(port)"])
        #expect(output.status == 0, "\(output.stderr)")
        let result = try JSONParser.parse(output.stdout.split(separator: "\n").last.map(String.init) ?? "")
        let defaults = #""imagePullPolicy":"IfNotPresent","terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File""#
        let side = #"{"name":"side","image":"busybox:1.36","command":["sleep","3600"],\#(defaults)}"#
        #expect(Self.canonical(result["pod"] ?? .null) == (try Self.json("""
            [{"name":"web","image":"nginx:1.27","ports":[{"containerPort":80,"name":"http","protocol":"TCP"}],
              "env":[{"name":"A","value":"1"}],\(defaults)}, \(side)]
            """)))
        #expect(Self.canonical(result["podStatus"] ?? .null) == (try Self.json(#"{"phase":"Running","podIP":"10.1.2.3","qosClass":"BestEffort"}"#)))
        #expect(Self.canonical(result["deployment"] ?? .null) == (try Self.json("""
            [{"name":"web","image":"nginx:1.26","ports":[{"containerPort":80,"name":"http","protocol":"TCP"}],
              "env":[{"name":"A","value":"1"}],\(defaults)},
             {"name":"side","image":"busybox:1.36","command":["sleep","3600"],"env":[{"name":"MODE","value":"fast"}],\(defaults)}]
            """)))
        #expect(result["generation"] == .number("2"))
        #expect(Self.canonical(result["scale"] ?? .null) == (try Self.json(#"{"replicas":4,"selector":"app=multi"}"#)))
        try await server.shutdown()
    }
}
