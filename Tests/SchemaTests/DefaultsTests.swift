import XCTest
import WatchCache
@testable import WatchCacheSchema

final class DefaultsTests: XCTestCase {
    // MARK: Helpers

    /// `text` (a JSON object) after defaulting as kind `kind` of group `group`.
    private func defaulted(_ group: String, _ kind: String, _ text: String,
                           file: StaticString = #filePath, line: UInt = #line) throws -> JSONValue {
        var object = try JSONObject(parsing: text)
        ObjectDefaults.apply(group: group, kind: kind, to: &object)
        return .object(object)
    }

    /// The value at a dotted path whose numeric components index arrays (`spec.containers.0.name`).
    private func at(_ value: JSONValue, _ path: String) -> JSONValue? {
        var current: JSONValue? = value
        for component in path.split(separator: ".", omittingEmptySubsequences: false) {
            switch current {
            case .object(let object)?: current = object[String(component)]
            case .array(let array)?:
                guard let i = Int(component), array.indices.contains(i) else { return nil }
                current = array[i]
            default: return nil
            }
        }
        return current
    }

    private func json(_ text: String) throws -> JSONValue { try JSONParser.parse(text) }

    private func assertAt(_ value: JSONValue, _ path: String, _ expected: JSONValue?,
                          file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(at(value, path), expected, path, file: file, line: line)
    }

    private let digest = "sha256:" + String(repeating: "ab", count: 32)

    // MARK: Pods

    func testBarePodGetsPodSpecDefaults() throws {
        let pod = try defaulted("", "Pod", #"{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"nginx"}]}}"#)
        assertAt(pod, "spec.restartPolicy", .string("Always"))
        assertAt(pod, "spec.dnsPolicy", .string("ClusterFirst"))
        assertAt(pod, "spec.schedulerName", .string("default-scheduler"))
        assertAt(pod, "spec.terminationGracePeriodSeconds", .number("30"))
        assertAt(pod, "spec.securityContext", .object(JSONObject()))
        assertAt(pod, "spec.enableServiceLinks", .bool(true))
        assertAt(pod, "spec.containers.0.terminationMessagePath", .string("/dev/termination-log"))
        assertAt(pod, "spec.containers.0.terminationMessagePolicy", .string("File"))
        assertAt(pod, "spec.containers.0.imagePullPolicy", .string("Always"))
        // Nothing else appears: no resources, no ports, no status-side values.
        XCTAssertNil(at(pod, "spec.containers.0.resources"))
        XCTAssertNil(at(pod, "spec.hostNetwork"))
        XCTAssertNil(at(pod, "status"))
    }

    func testNewMembersAreAppended() throws {
        let pod = try defaulted("", "Pod", #"{"spec":{"containers":[{"name":"c","image":"x"}],"nodeName":"n"}}"#)
        guard case .object(let spec)? = at(pod, "spec") else { return XCTFail("no spec") }
        XCTAssertEqual(Array(spec.keys.prefix(2)), ["containers", "nodeName"])
    }

    func testPodWithoutSpecGetsOne() throws {
        let pod = try defaulted("", "Pod", #"{"metadata":{"name":"p"}}"#)
        assertAt(pod, "spec.restartPolicy", .string("Always"))
        assertAt(pod, "spec.enableServiceLinks", .bool(true))
    }

    func testImagePullPolicyFollowsTheTag() throws {
        let cases: [(String, String)] = [
            ("nginx", "Always"),
            ("nginx:latest", "Always"),
            ("library/nginx:latest", "Always"),
            ("nginx:1.27", "IfNotPresent"),
            ("registry.example.com:5000/team/app", "Always"),
            ("registry.example.com:5000/team/app:v2", "IfNotPresent"),
            ("localhost/app", "Always"),
            ("[::1]:5000/app:dev", "IfNotPresent"),
            ("nginx@\(digest)", "IfNotPresent"),
            ("nginx:latest@\(digest)", "Always"),
            ("nginx:1.27@\(digest)", "IfNotPresent"),
            ("my_org/my__app-x", "Always"),
            // Not valid references: no tag is found.
            ("Nginx", "IfNotPresent"),
            ("nginx:", "IfNotPresent"),
            ("nginx::latest", "IfNotPresent"),
            ("-nginx", "IfNotPresent"),
            (String(repeating: "a1", count: 32), "IfNotPresent"),
            ("", "IfNotPresent"),
        ]
        for (image, policy) in cases {
            let pod = try defaulted("", "Pod", #"{"spec":{"containers":[{"name":"c","image":"\#(image)"}]}}"#)
            XCTAssertEqual(at(pod, "spec.containers.0.imagePullPolicy"), .string(policy), image)
        }
        let noImage = try defaulted("", "Pod", #"{"spec":{"containers":[{"name":"c"}]}}"#)
        assertAt(noImage, "spec.containers.0.imagePullPolicy", .string("IfNotPresent"))
    }

    func testContainerPortsEnvProbesAndHandlers() throws {
        let pod = try defaulted("", "Pod", #"""
        {"spec":{"containers":[{"name":"c","image":"nginx:1",
          "ports":[{"containerPort":80},{"containerPort":53,"protocol":"UDP"}],
          "env":[{"name":"A","value":"x"},{"name":"NODE","valueFrom":{"fieldRef":{"fieldPath":"spec.nodeName"}}},
                 {"name":"OLD","valueFrom":{"fieldRef":{"apiVersion":"v2","fieldPath":"metadata.name"}}}],
          "livenessProbe":{"httpGet":{"port":8080}},
          "readinessProbe":{"grpc":{"port":9090},"periodSeconds":0,"timeoutSeconds":5},
          "startupProbe":{"exec":{"command":["true"]},"failureThreshold":30},
          "lifecycle":{"preStop":{"httpGet":{"port":80,"path":"/quit"}},"postStart":{"exec":{"command":["true"]}}}}]}}
        """#)
        let c = "spec.containers.0"
        assertAt(pod, "\(c).ports.0.protocol", .string("TCP"))
        assertAt(pod, "\(c).ports.1.protocol", .string("UDP"))
        XCTAssertNil(at(pod, "\(c).ports.0.hostPort"))
        XCTAssertNil(at(pod, "\(c).env.0.valueFrom"))
        assertAt(pod, "\(c).env.1.valueFrom.fieldRef.apiVersion", .string("v1"))
        assertAt(pod, "\(c).env.2.valueFrom.fieldRef.apiVersion", .string("v2"))

        assertAt(pod, "\(c).livenessProbe.timeoutSeconds", .number("1"))
        assertAt(pod, "\(c).livenessProbe.periodSeconds", .number("10"))
        assertAt(pod, "\(c).livenessProbe.successThreshold", .number("1"))
        assertAt(pod, "\(c).livenessProbe.failureThreshold", .number("3"))
        assertAt(pod, "\(c).livenessProbe.httpGet.path", .string("/"))
        assertAt(pod, "\(c).livenessProbe.httpGet.scheme", .string("HTTP"))
        // Zero is "unset" for these integers.
        assertAt(pod, "\(c).readinessProbe.periodSeconds", .number("10"))
        assertAt(pod, "\(c).readinessProbe.timeoutSeconds", .number("5"))
        assertAt(pod, "\(c).readinessProbe.grpc.service", .string(""))
        assertAt(pod, "\(c).startupProbe.failureThreshold", .number("30"))
        XCTAssertNil(at(pod, "\(c).startupProbe.httpGet"))

        assertAt(pod, "\(c).lifecycle.preStop.httpGet.path", .string("/quit"))
        assertAt(pod, "\(c).lifecycle.preStop.httpGet.scheme", .string("HTTP"))
        XCTAssertNil(at(pod, "\(c).lifecycle.postStart.httpGet"))
    }

    func testInitAndEphemeralContainersAreDefaulted() throws {
        let pod = try defaulted("", "Pod", #"""
        {"spec":{"containers":[{"name":"c","image":"a:1"}],
                 "initContainers":[{"name":"i","image":"b","ports":[{"containerPort":1}]}],
                 "ephemeralContainers":[{"name":"e","image":"busybox:1.36"}]}}
        """#)
        assertAt(pod, "spec.initContainers.0.imagePullPolicy", .string("Always"))
        assertAt(pod, "spec.initContainers.0.terminationMessagePath", .string("/dev/termination-log"))
        assertAt(pod, "spec.initContainers.0.ports.0.protocol", .string("TCP"))
        assertAt(pod, "spec.ephemeralContainers.0.imagePullPolicy", .string("IfNotPresent"))
        assertAt(pod, "spec.ephemeralContainers.0.terminationMessagePolicy", .string("File"))
    }

    func testRequestsDefaultToLimits() throws {
        let pod = try defaulted("", "Pod", #"""
        {"spec":{"containers":[
            {"name":"a","image":"x","resources":{"limits":{"cpu":"500m","memory":"128Mi"}}},
            {"name":"b","image":"x","resources":{"limits":{"cpu":"1","memory":"1Gi"},"requests":{"cpu":"100m"}}},
            {"name":"c","image":"x","resources":{"requests":{"cpu":"100m"}}},
            {"name":"d","image":"x","resources":{"limits":{}}}],
          "initContainers":[{"name":"i","image":"x","resources":{"limits":{"cpu":"2"}}}]}}
        """#)
        assertAt(pod, "spec.containers.0.resources.requests", try json(#"{"cpu":"500m","memory":"128Mi"}"#))
        assertAt(pod, "spec.containers.1.resources.requests", try json(#"{"cpu":"100m","memory":"1Gi"}"#))
        assertAt(pod, "spec.containers.2.resources", try json(#"{"requests":{"cpu":"100m"}}"#))
        XCTAssertNil(at(pod, "spec.containers.3.resources.requests"))
        assertAt(pod, "spec.initContainers.0.resources.requests", try json(#"{"cpu":"2"}"#))
    }

    func testHostNetworkPodsGetHostPorts() throws {
        let pod = try defaulted("", "Pod", #"""
        {"spec":{"hostNetwork":true,
          "containers":[{"name":"a","image":"x","ports":[{"containerPort":8080},{"containerPort":9090,"hostPort":9091}]}],
          "initContainers":[{"name":"i","image":"x","ports":[{"containerPort":7000}]}]}}
        """#)
        assertAt(pod, "spec.containers.0.ports.0.hostPort", .number("8080"))
        assertAt(pod, "spec.containers.0.ports.1.hostPort", .number("9091"))
        assertAt(pod, "spec.initContainers.0.ports.0.hostPort", .number("7000"))
    }

    func testVolumes() throws {
        let pod = try defaulted("", "Pod", #"""
        {"spec":{"containers":[{"name":"c","image":"x"}],"volumes":[
          {"name":"scratch"},
          {"name":"host","hostPath":{"path":"/var/log"}},
          {"name":"secret","secret":{"secretName":"s"}},
          {"name":"config","configMap":{"name":"cm","defaultMode":256}},
          {"name":"down","downwardAPI":{"items":[{"path":"labels","fieldRef":{"fieldPath":"metadata.labels"}}]}},
          {"name":"proj","projected":{"sources":[
              {"serviceAccountToken":{"path":"token"}},
              {"downwardAPI":{"items":[{"path":"ns","fieldRef":{"fieldPath":"metadata.namespace"}}]}},
              {"configMap":{"name":"kube-root-ca.crt"}}]}},
          {"name":"eph","ephemeral":{"volumeClaimTemplate":{"spec":{"accessModes":["ReadWriteOnce"]}}}},
          {"name":"pvc","persistentVolumeClaim":{"claimName":"data"}}]}}
        """#)
        assertAt(pod, "spec.volumes.0", try json(#"{"name":"scratch","emptyDir":{}}"#))
        assertAt(pod, "spec.volumes.1.hostPath.type", .string(""))
        assertAt(pod, "spec.volumes.2.secret.defaultMode", .number("420"))
        assertAt(pod, "spec.volumes.3.configMap.defaultMode", .number("256"))
        assertAt(pod, "spec.volumes.4.downwardAPI.defaultMode", .number("420"))
        assertAt(pod, "spec.volumes.4.downwardAPI.items.0.fieldRef.apiVersion", .string("v1"))
        assertAt(pod, "spec.volumes.5.projected.defaultMode", .number("420"))
        assertAt(pod, "spec.volumes.5.projected.sources.0.serviceAccountToken.expirationSeconds", .number("3600"))
        assertAt(pod, "spec.volumes.5.projected.sources.1.downwardAPI.items.0.fieldRef.apiVersion", .string("v1"))
        XCTAssertNil(at(pod, "spec.volumes.5.projected.sources.2.configMap.defaultMode"))
        assertAt(pod, "spec.volumes.6.ephemeral.volumeClaimTemplate.spec.volumeMode", .string("Filesystem"))
        assertAt(pod, "spec.volumes.7", try json(#"{"name":"pvc","persistentVolumeClaim":{"claimName":"data"}}"#))
    }

    func testLegacyVolumeSourceDefaults() throws {
        let pod = try defaulted("", "Pod", #"""
        {"spec":{"containers":[{"name":"c","image":"x"}],"volumes":[
          {"name":"i","iscsi":{"targetPortal":"10.0.0.1","iqn":"iqn.x","lun":0}},
          {"name":"r","rbd":{"monitors":["m"],"image":"img","user":"me"}},
          {"name":"a","azureDisk":{"diskName":"d","diskURI":"u"}},
          {"name":"s","scaleIO":{"gateway":"g","system":"s","secretRef":{"name":"x"}}}]}}
        """#)
        assertAt(pod, "spec.volumes.0.iscsi.iscsiInterface", .string("default"))
        assertAt(pod, "spec.volumes.1.rbd.pool", .string("rbd"))
        assertAt(pod, "spec.volumes.1.rbd.user", .string("me"))
        assertAt(pod, "spec.volumes.1.rbd.keyring", .string("/etc/ceph/keyring"))
        assertAt(pod, "spec.volumes.2.azureDisk.cachingMode", .string("ReadWrite"))
        assertAt(pod, "spec.volumes.2.azureDisk.fsType", .string("ext4"))
        assertAt(pod, "spec.volumes.2.azureDisk.readOnly", .bool(false))
        assertAt(pod, "spec.volumes.2.azureDisk.kind", .string("Shared"))
        assertAt(pod, "spec.volumes.3.scaleIO.storageMode", .string("ThinProvisioned"))
        assertAt(pod, "spec.volumes.3.scaleIO.fsType", .string("xfs"))
    }

    func testExistingPodValuesAreKept() throws {
        let text = #"""
        {"spec":{"restartPolicy":"Never","dnsPolicy":"Default","schedulerName":"mine",
          "terminationGracePeriodSeconds":0,"securityContext":{"runAsUser":1000},"enableServiceLinks":false,
          "containers":[{"name":"c","image":"nginx","imagePullPolicy":"Never",
            "terminationMessagePath":"/tmp/t","terminationMessagePolicy":"FallbackToLogsOnError",
            "ports":[{"containerPort":80,"protocol":"SCTP"}]}]}}
        """#
        let pod = try defaulted("", "Pod", text)
        XCTAssertEqual(pod, try json(text))
    }

    func testDefaultingIsIdempotent() throws {
        var once = try JSONObject(parsing: #"""
        {"spec":{"hostNetwork":true,"containers":[{"name":"c","image":"x","ports":[{"containerPort":1}],
          "resources":{"limits":{"cpu":"1"}},"livenessProbe":{"tcpSocket":{"port":1}}}],"volumes":[{"name":"v"}]}}
        """#)
        ObjectDefaults.apply(group: "", kind: "Pod", to: &once)
        var twice = once
        ObjectDefaults.apply(group: "", kind: "Pod", to: &twice)
        XCTAssertEqual(once, twice)
    }

    // MARK: Workloads

    private let template = #""template":{"metadata":{"labels":{"app":"a"}},"spec":{"containers":[{"name":"c","image":"nginx","ports":[{"containerPort":80}],"resources":{"limits":{"cpu":"1"}}}],"hostNetwork":true}}"#

    /// The template got pod-spec defaults, but not the pod-only ones.
    private func assertTemplateDefaulted(_ object: JSONValue, file: StaticString = #filePath, line: UInt = #line) {
        let spec = "spec.template.spec"
        assertAt(object, "\(spec).restartPolicy", .string("Always"), file: file, line: line)
        assertAt(object, "\(spec).dnsPolicy", .string("ClusterFirst"), file: file, line: line)
        assertAt(object, "\(spec).schedulerName", .string("default-scheduler"), file: file, line: line)
        assertAt(object, "\(spec).terminationGracePeriodSeconds", .number("30"), file: file, line: line)
        assertAt(object, "\(spec).securityContext", .object(JSONObject()), file: file, line: line)
        assertAt(object, "\(spec).containers.0.imagePullPolicy", .string("Always"), file: file, line: line)
        assertAt(object, "\(spec).containers.0.terminationMessagePath", .string("/dev/termination-log"), file: file, line: line)
        assertAt(object, "\(spec).containers.0.terminationMessagePolicy", .string("File"), file: file, line: line)
        assertAt(object, "\(spec).containers.0.ports.0.protocol", .string("TCP"), file: file, line: line)
        XCTAssertNil(at(object, "\(spec).enableServiceLinks"), file: file, line: line)
        XCTAssertNil(at(object, "\(spec).containers.0.resources.requests"), file: file, line: line)
        XCTAssertNil(at(object, "\(spec).containers.0.ports.0.hostPort"), file: file, line: line)
        XCTAssertNil(at(object, "spec.selector"), file: file, line: line)
    }

    func testDeployment() throws {
        let deployment = try defaulted("apps", "Deployment", #"{"metadata":{"name":"d"},"spec":{\#(template)}}"#)
        assertAt(deployment, "spec.replicas", .number("1"))
        assertAt(deployment, "spec.strategy", try json(#"{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"25%","maxSurge":"25%"}}"#))
        assertAt(deployment, "spec.revisionHistoryLimit", .number("10"))
        assertAt(deployment, "spec.progressDeadlineSeconds", .number("600"))
        assertTemplateDefaulted(deployment)
    }

    func testDeploymentKeepsItsValues() throws {
        let recreate = try defaulted("apps", "Deployment", #"{"spec":{"replicas":0,"strategy":{"type":"Recreate"},"revisionHistoryLimit":0,"progressDeadlineSeconds":60,\#(template)}}"#)
        assertAt(recreate, "spec.replicas", .number("0"))
        assertAt(recreate, "spec.strategy", try json(#"{"type":"Recreate"}"#))
        assertAt(recreate, "spec.revisionHistoryLimit", .number("0"))
        assertAt(recreate, "spec.progressDeadlineSeconds", .number("60"))
        let partial = try defaulted("apps", "Deployment", #"{"spec":{"strategy":{"rollingUpdate":{"maxSurge":1}},\#(template)}}"#)
        assertAt(partial, "spec.strategy.type", .string("RollingUpdate"))
        assertAt(partial, "spec.strategy.rollingUpdate", try json(#"{"maxSurge":1,"maxUnavailable":"25%"}"#))
    }

    func testReplicaSet() throws {
        let replicaSet = try defaulted("apps", "ReplicaSet", #"{"spec":{\#(template)}}"#)
        assertAt(replicaSet, "spec.replicas", .number("1"))
        XCTAssertNil(at(replicaSet, "spec.revisionHistoryLimit"))
        assertTemplateDefaulted(replicaSet)
        let scaled = try defaulted("apps", "ReplicaSet", #"{"spec":{"replicas":3,\#(template)}}"#)
        assertAt(scaled, "spec.replicas", .number("3"))
    }

    func testStatefulSet() throws {
        let statefulSet = try defaulted("apps", "StatefulSet", #"""
        {"spec":{"serviceName":"s",\#(template),
          "volumeClaimTemplates":[{"metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}]}}
        """#)
        assertAt(statefulSet, "spec.podManagementPolicy", .string("OrderedReady"))
        assertAt(statefulSet, "spec.updateStrategy", try json(#"{"type":"RollingUpdate","rollingUpdate":{"partition":0}}"#))
        assertAt(statefulSet, "spec.persistentVolumeClaimRetentionPolicy", try json(#"{"whenDeleted":"Retain","whenScaled":"Retain"}"#))
        assertAt(statefulSet, "spec.replicas", .number("1"))
        assertAt(statefulSet, "spec.revisionHistoryLimit", .number("10"))
        assertAt(statefulSet, "spec.volumeClaimTemplates.0.spec.volumeMode", .string("Filesystem"))
        assertAt(statefulSet, "spec.volumeClaimTemplates.0.status.phase", .string("Pending"))
        XCTAssertNil(at(statefulSet, "spec.minReadySeconds"))
        assertTemplateDefaulted(statefulSet)
    }

    func testStatefulSetUpdateStrategyVariants() throws {
        // An explicit RollingUpdate without parameters stays without them.
        let explicit = try defaulted("apps", "StatefulSet", #"{"spec":{"updateStrategy":{"type":"RollingUpdate"},\#(template)}}"#)
        assertAt(explicit, "spec.updateStrategy", try json(#"{"type":"RollingUpdate"}"#))
        let partition = try defaulted("apps", "StatefulSet", #"{"spec":{"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":2}},\#(template)}}"#)
        assertAt(partition, "spec.updateStrategy.rollingUpdate", try json(#"{"maxUnavailable":2,"partition":0}"#))
        let onDelete = try defaulted("apps", "StatefulSet", #"{"spec":{"podManagementPolicy":"Parallel","updateStrategy":{"type":"OnDelete"},"persistentVolumeClaimRetentionPolicy":{"whenDeleted":"Delete"},\#(template)}}"#)
        assertAt(onDelete, "spec.updateStrategy", try json(#"{"type":"OnDelete"}"#))
        assertAt(onDelete, "spec.podManagementPolicy", .string("Parallel"))
        assertAt(onDelete, "spec.persistentVolumeClaimRetentionPolicy", try json(#"{"whenDeleted":"Delete","whenScaled":"Retain"}"#))
    }

    func testDaemonSet() throws {
        let daemonSet = try defaulted("apps", "DaemonSet", #"{"spec":{\#(template)}}"#)
        assertAt(daemonSet, "spec.updateStrategy", try json(#"{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":1,"maxSurge":0}}"#))
        assertAt(daemonSet, "spec.revisionHistoryLimit", .number("10"))
        XCTAssertNil(at(daemonSet, "spec.replicas"))
        assertTemplateDefaulted(daemonSet)
        let onDelete = try defaulted("apps", "DaemonSet", #"{"spec":{"updateStrategy":{"type":"OnDelete"},"revisionHistoryLimit":3,\#(template)}}"#)
        assertAt(onDelete, "spec.updateStrategy", try json(#"{"type":"OnDelete"}"#))
        assertAt(onDelete, "spec.revisionHistoryLimit", .number("3"))
    }

    // MARK: Services and endpoints

    func testClusterIPService() throws {
        let service = try defaulted("", "Service", #"""
        {"metadata":{"name":"s"},"spec":{"selector":{"app":"a"},
          "ports":[{"port":80},{"port":53,"protocol":"UDP","targetPort":5353},{"port":443,"targetPort":"https"},{"port":8080,"targetPort":0}]}}
        """#)
        assertAt(service, "spec.type", .string("ClusterIP"))
        assertAt(service, "spec.sessionAffinity", .string("None"))
        assertAt(service, "spec.internalTrafficPolicy", .string("Cluster"))
        assertAt(service, "spec.ports.0.protocol", .string("TCP"))
        assertAt(service, "spec.ports.0.targetPort", .number("80"))
        assertAt(service, "spec.ports.1.protocol", .string("UDP"))
        assertAt(service, "spec.ports.1.targetPort", .number("5353"))
        assertAt(service, "spec.ports.2.targetPort", .string("https"))
        assertAt(service, "spec.ports.3.targetPort", .number("8080"))
        XCTAssertNil(at(service, "spec.externalTrafficPolicy"))
        XCTAssertNil(at(service, "spec.allocateLoadBalancerNodePorts"))
        // Allocation is not defaulting.
        XCTAssertNil(at(service, "spec.clusterIP"))
        XCTAssertNil(at(service, "spec.ipFamilies"))
    }

    func testSessionAffinity() throws {
        let clientIP = try defaulted("", "Service", #"{"spec":{"sessionAffinity":"ClientIP","ports":[{"port":1}]}}"#)
        assertAt(clientIP, "spec.sessionAffinityConfig", try json(#"{"clientIP":{"timeoutSeconds":10800}}"#))
        let custom = try defaulted("", "Service", #"{"spec":{"sessionAffinity":"ClientIP","sessionAffinityConfig":{"clientIP":{"timeoutSeconds":60}}}}"#)
        assertAt(custom, "spec.sessionAffinityConfig.clientIP.timeoutSeconds", .number("60"))
        let none = try defaulted("", "Service", #"{"spec":{"sessionAffinityConfig":{"clientIP":{"timeoutSeconds":60}}}}"#)
        XCTAssertNil(at(none, "spec.sessionAffinityConfig"))
    }

    func testExternallyAccessibleServices() throws {
        let nodePort = try defaulted("", "Service", #"{"spec":{"type":"NodePort","ports":[{"port":80}]}}"#)
        assertAt(nodePort, "spec.externalTrafficPolicy", .string("Cluster"))
        assertAt(nodePort, "spec.internalTrafficPolicy", .string("Cluster"))
        XCTAssertNil(at(nodePort, "spec.allocateLoadBalancerNodePorts"))

        let loadBalancer = try defaulted("", "Service", #"""
        {"spec":{"type":"LoadBalancer","externalTrafficPolicy":"Local","internalTrafficPolicy":"Local","ports":[{"port":80}]},
         "status":{"loadBalancer":{"ingress":[{"ip":"1.2.3.4"},{"hostname":"lb.example.com"},{"ip":"5.6.7.8","ipMode":"Proxy"}]}}}
        """#)
        assertAt(loadBalancer, "spec.externalTrafficPolicy", .string("Local"))
        assertAt(loadBalancer, "spec.internalTrafficPolicy", .string("Local"))
        assertAt(loadBalancer, "spec.allocateLoadBalancerNodePorts", .bool(true))
        assertAt(loadBalancer, "status.loadBalancer.ingress.0.ipMode", .string("VIP"))
        XCTAssertNil(at(loadBalancer, "status.loadBalancer.ingress.1.ipMode"))
        assertAt(loadBalancer, "status.loadBalancer.ingress.2.ipMode", .string("Proxy"))

        let externalIPs = try defaulted("", "Service", #"{"spec":{"externalIPs":["10.1.1.1"],"ports":[{"port":80}]}}"#)
        assertAt(externalIPs, "spec.externalTrafficPolicy", .string("Cluster"))

        let externalName = try defaulted("", "Service", #"{"spec":{"type":"ExternalName","externalName":"example.com"}}"#)
        assertAt(externalName, "spec.sessionAffinity", .string("None"))
        XCTAssertNil(at(externalName, "spec.internalTrafficPolicy"))
        XCTAssertNil(at(externalName, "spec.externalTrafficPolicy"))
    }

    func testEndpoints() throws {
        let endpoints = try defaulted("", "Endpoints", #"""
        {"subsets":[{"addresses":[{"ip":"10.0.0.1"}],"ports":[{"port":80},{"name":"dns","port":53,"protocol":"UDP"}]}]}
        """#)
        assertAt(endpoints, "subsets.0.ports.0.protocol", .string("TCP"))
        assertAt(endpoints, "subsets.0.ports.1.protocol", .string("UDP"))
    }

    // MARK: Cluster objects

    func testNamespace() throws {
        let namespace = try defaulted("", "Namespace", #"{"metadata":{"name":"team-a"}}"#)
        assertAt(namespace, "metadata.labels", try json(#"{"kubernetes.io/metadata.name":"team-a"}"#))
        assertAt(namespace, "spec.finalizers", try json(#"["kubernetes"]"#))
        assertAt(namespace, "status.phase", .string("Active"))

        let existing = try defaulted("", "Namespace", #"""
        {"metadata":{"name":"b","labels":{"env":"prod","kubernetes.io/metadata.name":"wrong"}},
         "spec":{"finalizers":["example.com/cleanup"]},"status":{"phase":"Terminating"}}
        """#)
        assertAt(existing, "metadata.labels", try json(#"{"env":"prod","kubernetes.io/metadata.name":"b"}"#))
        assertAt(existing, "spec.finalizers", try json(#"["example.com/cleanup","kubernetes"]"#))
        assertAt(existing, "status.phase", .string("Terminating"))

        let already = try defaulted("", "Namespace", #"{"metadata":{"name":"c"},"spec":{"finalizers":["kubernetes"]}}"#)
        assertAt(already, "spec.finalizers", try json(#"["kubernetes"]"#))

        let generated = try defaulted("", "Namespace", #"{"metadata":{"generateName":"tmp-"}}"#)
        XCTAssertNil(at(generated, "metadata.labels"))
    }

    func testNodeAllocatableDefaultsToCapacity() throws {
        let node = try defaulted("", "Node", #"{"metadata":{"name":"n"},"status":{"capacity":{"cpu":"4","memory":"8Gi","pods":"110"}}}"#)
        assertAt(node, "status.allocatable", try json(#"{"cpu":"4","memory":"8Gi","pods":"110"}"#))
        let given = try defaulted("", "Node", #"{"status":{"capacity":{"cpu":"4"},"allocatable":{"cpu":"3"}}}"#)
        assertAt(given, "status.allocatable", try json(#"{"cpu":"3"}"#))
        let bare = try defaulted("", "Node", #"{"metadata":{"name":"n"}}"#)
        XCTAssertEqual(bare, try json(#"{"metadata":{"name":"n"}}"#))
    }

    func testSecret() throws {
        let secret = try defaulted("", "Secret", #"{"metadata":{"name":"s"},"data":{"k":"dg=="}}"#)
        assertAt(secret, "type", .string("Opaque"))
        let tls = try defaulted("", "Secret", #"{"metadata":{"name":"s"},"type":"kubernetes.io/tls"}"#)
        assertAt(tls, "type", .string("kubernetes.io/tls"))
    }

    func testKindsWithoutDefaultsAreUntouched() throws {
        let cases: [(String, String, String)] = [
            ("", "ConfigMap", #"{"metadata":{"name":"c"}}"#),
            ("", "Event", #"{"metadata":{"name":"e"},"involvedObject":{"kind":"Pod"},"reason":"x"}"#),
            ("apps", "Pod", #"{"spec":{"containers":[{"name":"c","image":"x"}]}}"#),
            ("", "Deployment", #"{"spec":{}}"#),
            ("batch", "Job", #"{"spec":{}}"#),
        ]
        for (group, kind, text) in cases {
            XCTAssertEqual(try defaulted(group, kind, text), try json(text), "\(group)/\(kind)")
        }
    }
}
