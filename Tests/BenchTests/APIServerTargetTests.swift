import Foundation
import Testing
import WatchCache
@testable import WatchCacheBench

/// What `bench recovery --kubeconfig/--server` reads before it connects: kubeconfig files as
/// kubectl reads them, kube-apiserver's metrics, and pods a real cluster accepts and never runs.
@Suite struct APIServerTargetTests {
    static func scratch() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("target-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A self-signed certificate and key (PEM) made by openssl.
    static func certificate(in dir: String, name: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(dir)/\(name).key",
                             "-out", "\(dir)/\(name).pem", "-days", "1", "-subj", "/CN=\(name)"]
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }

    @Test func aKubeconfigContextGivesServerAuthorityTokenAndRelativeFiles() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.certificate(in: dir, name: "ca")
        try Self.certificate(in: dir, name: "client")
        try "  file-token \n".write(toFile: dir + "/token", atomically: true, encoding: .utf8)
        let ca = try Data(contentsOf: URL(fileURLWithPath: dir + "/ca.pem")).base64EncodedString()
        let yaml = """
            apiVersion: v1
            kind: Config
            preferences: {}
            current-context: dev
            clusters:
            - name: dev-cluster
              cluster:
                server: https://127.0.0.1:6443
                certificate-authority-data: \(ca)
            - name: prod-cluster
              cluster:
                server: "https://api.example.com"
                certificate-authority: ca.pem
                tls-server-name: kubernetes.default
            users:
            - name: dev-user
              user:
                token: abc123
            - name: prod-user
              user:
                client-certificate: client.pem
                client-key: client.key
                tokenFile: token
            - name: sso
              user:
                exec:
                  apiVersion: client.authentication.k8s.io/v1
                  command: some-login
            contexts:
            - name: dev
              context: {cluster: dev-cluster, user: dev-user, namespace: default}
            - name: prod
              context:
                cluster: prod-cluster
                user: prod-user
            - name: sso
              context:
                cluster: dev-cluster
                user: sso

            """
        try yaml.write(toFile: dir + "/config", atomically: true, encoding: .utf8)

        let dev = try Kubeconfig.endpoint(path: dir + "/config", context: nil)
        #expect(dev.url == "https://127.0.0.1:6443" && dev.context == "dev" && dev.bearerToken == "abc123")
        #expect(dev.tls?.certificateAuthority == Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/ca.pem"))))
        #expect(dev.tls?.clientCertificate == nil)

        let prod = try Kubeconfig.endpoint(path: dir + "/config", context: "prod")
        #expect(prod.url == "https://api.example.com:443" && prod.bearerToken == "file-token")
        #expect(prod.tls?.serverName == "kubernetes.default")
        #expect(prod.tls?.clientCertificate == Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/client.pem"))))
        #expect(prod.tls?.clientKey == Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/client.key"))))

        func refusal(_ context: String?, path: String? = nil) -> String {
            do {
                _ = try Kubeconfig.endpoint(path: path ?? dir + "/config", context: context)
                return "accepted"
            } catch { return "\(error)" }
        }
        #expect(refusal("sso").contains("gets its credentials from a program"))
        #expect(refusal("staging").contains(#"has no context named "staging" (it has dev, prod, sso)"#))
        #expect(refusal(nil, path: dir + "/missing").contains("No such file or directory"))
        try "clusters: [\n".write(toFile: dir + "/broken", atomically: true, encoding: .utf8)
        #expect(refusal(nil, path: dir + "/broken").contains("is not YAML"))
    }

    @Test func kubeApiserverMetricsGiveTheCounterButNoPerWatchHistogram() {
        // kube-apiserver labels the counter by resource alone in some releases, with the group in others.
        for labels in [#"resource="pods""#, #"group="",resource="pods""#] {
            let text = """
                # TYPE apiserver_init_events_total counter
                apiserver_init_events_total{\(labels)} 1234
                apiserver_init_events_total{group="apps",resource="pods"} 7
                apiserver_init_events_total{resource="configmaps"} 99
                process_cpu_seconds_total 12.5

                """
            let metrics = ServerMetrics(parsing: text)
            #expect(metrics.initEventsTotal == 1234 && metrics.hasInitEventsCounter)
            #expect(!metrics.hasInitHistogram && metrics.hasProcessCPU && metrics.cpuSeconds == 12.5)
        }
        #expect(!ServerMetrics(parsing: "process_resident_memory_bytes 5\n").hasInitEventsCounter)
    }

    @Test func podsForARealClusterAreNeverScheduledAndSelectedByLabel() throws {
        var workload = PodWorkload(watchers: 4, objectsPerWatcher: 3)
        workload.namespace = "watchcache-bench-1"
        workload.placement = .label
        let pod = JSONValue.object(workload.pod(7, revision: 2))
        #expect(pod.value(atPath: "metadata.namespace")?.stringValue == "watchcache-bench-1")
        #expect(pod.value(atPath: "spec.nodeName") == nil)
        #expect(pod.value(atPath: "spec.schedulerName")?.stringValue == PodWorkload.noScheduler)
        #expect(pod["metadata"]?["labels"]?[PodWorkload.nodeLabel]?.stringValue == "node-2")
        #expect(pod.value(atPath: "status.phase")?.stringValue == "Pending")
        #expect(workload.selectorQuery(node: 2) == "&labelSelector=watchcache.io%2Fbench-node%3Dnode-2")
        // The pod passes the server's own validation, as the API server's would check it.
        _ = try KubeObject(json: pod.objectValue!, resource: .pods)

        let local = PodWorkload(watchers: 4, objectsPerWatcher: 3)
        #expect(JSONValue.object(local.pod(7, revision: 2)).value(atPath: "spec.nodeName")?.stringValue == "node-2")
        #expect(local.selectorQuery(node: 2) == "&fieldSelector=spec.nodeName%3Dnode-2")
        #expect(local.selectorQuery(node: nil) == "")
    }
}
