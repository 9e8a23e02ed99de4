import WatchCache
import WatchCacheSchema

/// What a watch event costs the server in JSON and in Kubernetes protobuf: the bytes on the wire
/// per event, and the CPU to encode and frame one event for a number of watchers.
///
/// It runs the server's own steps in-process, without sockets: JSON events are the stored bytes
/// between a per-type prefix and suffix, copied once per watcher; protobuf events encode the object
/// once (``KubeObject/alternateEncoding(_:)`` with `ProtobufEncoder`, as the server's protobuf form
/// does) and frame it per watcher (`ProtobufResponse.watchFramePrefix`). The objects are real pods
/// as kube-apiserver stores them for a running Deployment.
public struct EncodingBenchmark {
    /// Events (distinct object versions) per run.
    public var events = 20_000
    /// Watcher counts to measure.
    public var watcherCounts = [1, 10, 100]

    public init() {}

    /// One watcher count's figures.
    public struct Run: Sendable {
        public var watchers: Int
        /// CPU µs per event for all watchers, JSON.
        public var jsonMicroseconds: Double
        /// CPU µs per event for all watchers, protobuf (one encoding plus the frames).
        public var protobufMicroseconds: Double
    }

    public struct Result: Sendable {
        public var events: Int
        /// Bytes of one event on the wire (JSON line, protobuf frame), averaged.
        public var jsonBytesPerEvent: Double
        public var protobufBytesPerEvent: Double
        /// CPU µs to encode one object to protobuf (the once-per-event part).
        public var protobufEncodeMicroseconds: Double
        /// Of which: CPU µs to parse the stored JSON the encoding starts from.
        public var jsonParseMicroseconds: Double
        public var runs: [Run]
    }

    public func run() throws -> Result {
        let schema = APISchema.builtIn
        guard let type = schema["io.k8s.api.core.v1.Pod"] else { throw BenchError("no Pod schema") }
        let template = try JSONParser.parse(Array(Self.pod.utf8))
        guard case .object(let base) = template else { throw BenchError("the pod fixture is not an object") }

        func objects() throws -> [KubeObject] {
            var result: [KubeObject] = []
            result.reserveCapacity(events)
            for i in 0..<events {
                var pod = base
                var metadata = pod["metadata"]?.objectValue ?? JSONObject()
                metadata["resourceVersion"] = .string(String(1000 + i))
                metadata["name"] = .string("web-7d9c5b8f4d-\(i)")
                pod["metadata"] = .object(metadata)
                result.append(try KubeObject(json: pod, resource: .pods))
            }
            return result
        }
        let encode: (KubeObject) -> [UInt8] = { object in
            (try? ProtobufEncoder.encodeObject(object.json, as: type, apiVersion: "v1", kind: "Pod", in: schema)) ?? []
        }
        let jsonPrefix = Array(#"{"type":"MODIFIED","object":"#.utf8)
        let jsonSuffix = Array("}\n".utf8)

        // Bytes per event, and the encode-once cost.
        var sample = try objects()
        var stopwatch = CPUStopwatch()
        var jsonBytes = 0
        var protobufBytes = 0
        for object in sample {
            jsonBytes += jsonPrefix.count + object.encoded.count + jsonSuffix.count
            let envelope = stopwatch.measure { object.alternateEncoding(encode) }
            guard !envelope.isEmpty else { throw BenchError("the pod fixture does not encode as protobuf") }
            protobufBytes += ProtobufResponse.watchFramePrefix(type: "MODIFIED", envelopeLength: envelope.count).count + envelope.count
        }
        let encodeMicroseconds = stopwatch.seconds / Double(events) * 1e6
        var parsing = CPUStopwatch()
        var members = 0
        for object in sample {
            members += parsing.measure { object.json.count }
        }
        precondition(members > 0)
        let parseMicroseconds = parsing.seconds / Double(events) * 1e6
        sample = []

        var runs: [Run] = []
        var sink: [UInt8] = []
        sink.reserveCapacity(1 << 20)
        for watchers in watcherCounts {
            let jsonObjects = try objects()
            var json = CPUStopwatch()
            json.measure {
                for object in jsonObjects {
                    for _ in 0..<watchers {
                        if sink.count > 1 << 19 { sink.removeAll(keepingCapacity: true) }
                        sink.append(contentsOf: jsonPrefix)
                        sink.append(contentsOf: object.encoded)
                        sink.append(contentsOf: jsonSuffix)
                    }
                }
            }
            // Fresh objects: nothing encoded yet, as for a new event.
            let protobufObjects = try objects()
            var protobuf = CPUStopwatch()
            protobuf.measure {
                for object in protobufObjects {
                    for _ in 0..<watchers {
                        let envelope = object.alternateEncoding(encode)
                        let prefix = ProtobufResponse.watchFramePrefix(type: "MODIFIED", envelopeLength: envelope.count)
                        if sink.count > 1 << 19 { sink.removeAll(keepingCapacity: true) }
                        sink.append(contentsOf: prefix)
                        sink.append(contentsOf: envelope)
                    }
                }
            }
            runs.append(Run(watchers: watchers, jsonMicroseconds: json.seconds / Double(events) * 1e6,
                            protobufMicroseconds: protobuf.seconds / Double(events) * 1e6))
        }
        return Result(events: events, jsonBytesPerEvent: Double(jsonBytes) / Double(events),
                      protobufBytesPerEvent: Double(protobufBytes) / Double(events),
                      protobufEncodeMicroseconds: encodeMicroseconds, jsonParseMicroseconds: parseMicroseconds, runs: runs)
    }

    /// A pod of a running two-replica Deployment, as kube-apiserver 1.32 returns it (defaults,
    /// owner reference, scheduling and status filled; managed fields left out).
    static let pod = #"""
    {"kind":"Pod","apiVersion":"v1","metadata":{"name":"web-7d9c5b8f4d-x2x8k","generateName":"web-7d9c5b8f4d-","namespace":"default","uid":"4f0a7c0e-5d0b-4c47-9a39-2f3f1e8a9b10","resourceVersion":"1000","creationTimestamp":"2026-11-30T10:00:00Z","labels":{"app":"web","pod-template-hash":"7d9c5b8f4d"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-7d9c5b8f4d","uid":"0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f","controller":true,"blockOwnerDeletion":true}]},"spec":{"volumes":[{"name":"kube-api-access-7xk2p","projected":{"sources":[{"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},{"configMap":{"name":"kube-root-ca.crt","items":[{"key":"ca.crt","path":"ca.crt"}]}},{"downwardAPI":{"items":[{"path":"namespace","fieldRef":{"apiVersion":"v1","fieldPath":"metadata.namespace"}}]}}],"defaultMode":420}}],"containers":[{"name":"nginx","image":"nginx:1.27","ports":[{"name":"http","containerPort":80,"protocol":"TCP"}],"env":[{"name":"MODE","value":"production"}],"resources":{"limits":{"cpu":"500m","memory":"256Mi"},"requests":{"cpu":"250m","memory":"128Mi"}},"volumeMounts":[{"name":"kube-api-access-7xk2p","readOnly":true,"mountPath":"/var/run/secrets/kubernetes.io/serviceaccount"}],"readinessProbe":{"httpGet":{"path":"/","port":80,"scheme":"HTTP"},"timeoutSeconds":1,"periodSeconds":10,"successThreshold":1,"failureThreshold":3},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent"}],"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","serviceAccountName":"default","serviceAccount":"default","nodeName":"node-17","securityContext":{},"schedulerName":"default-scheduler","tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300},{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}],"priority":0,"enableServiceLinks":true,"preemptionPolicy":"PreemptLowerPriority"},"status":{"phase":"Running","conditions":[{"type":"PodReadyToStartContainers","status":"True","lastProbeTime":null,"lastTransitionTime":"2026-11-30T10:00:03Z"},{"type":"Initialized","status":"True","lastProbeTime":null,"lastTransitionTime":"2026-11-30T10:00:00Z"},{"type":"Ready","status":"True","lastProbeTime":null,"lastTransitionTime":"2026-11-30T10:00:05Z"},{"type":"ContainersReady","status":"True","lastProbeTime":null,"lastTransitionTime":"2026-11-30T10:00:05Z"},{"type":"PodScheduled","status":"True","lastProbeTime":null,"lastTransitionTime":"2026-11-30T10:00:00Z"}],"hostIP":"10.0.3.17","hostIPs":[{"ip":"10.0.3.17"}],"podIP":"10.244.17.23","podIPs":[{"ip":"10.244.17.23"}],"startTime":"2026-11-30T10:00:00Z","containerStatuses":[{"name":"nginx","state":{"running":{"startedAt":"2026-11-30T10:00:02Z"}},"lastState":{},"ready":true,"restartCount":0,"image":"docker.io/library/nginx:1.27","imageID":"docker.io/library/nginx@sha256:0a399eb16751829e1af26fea27b20c3ec28d7ab1fb72182879dcae1cca21206a","containerID":"containerd://5e1b7f3a9c2d4e6f8a0b1c3d5e7f9a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e3f","started":true}],"qosClass":"Burstable"}}
    """#
}
