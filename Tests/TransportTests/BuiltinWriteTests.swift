import Testing
import WatchCache
@testable import WatchCacheServer

/// Writes to the built-in kinds as kube-apiserver takes them: protobuf bodies, strategic merge
/// patch, defaults, field validation, and the `/status` and `/scale` subresources.
@Suite struct BuiltinWriteTests {
    let registry = try! Registry(clock: ManualClock())
    let custom = ResourceDescriptor(group: "example.com", version: "v1", plural: "widgets", kind: "Widget")
    var api: APIServer {
        try! APIServer(registry: registry, resources: ResourceDescriptor.builtIn + [custom], serverAddress: "127.0.0.1:8080")
    }

    struct Answer {
        let status: Int
        let json: JSONObject?
        let headers: [(String, String)]
        var message: String? { json?["message"]?.stringValue }
    }

    func send(_ api: APIServer, _ method: String, _ target: String, _ body: String? = nil, contentType: String = "application/json") async -> Answer {
        await send(api, method, target, bytes: body.map { Array($0.utf8) } ?? [], contentType: contentType)
    }

    func send(_ api: APIServer, _ method: String, _ target: String, bytes: [UInt8], contentType: String) async -> Answer {
        let response = await withCheckedContinuation { c in
            api.handle(APIRequest(method: method, target: target, headers: [("Content-Type", contentType)], body: bytes)) { c.resume(returning: $0) }
        }
        guard case .complete(let status, _, let body, let headers) = response else { return Answer(status: -1, json: nil, headers: []) }
        return Answer(status: status, json: try? JSONObject(parsing: String(decoding: body, as: UTF8.self)), headers: headers)
    }

    // MARK: Protobuf

    /// A protobuf field: tag, then a length-delimited payload.
    private func field(_ number: Int, _ payload: [UInt8]) -> [UInt8] {
        varint(UInt64(number << 3 | 2)) + varint(UInt64(payload.count)) + payload
    }

    private func field(_ number: Int, _ text: String) -> [UInt8] { field(number, Array(text.utf8)) }

    private func varint(_ value: UInt64) -> [UInt8] {
        var v = value
        var out: [UInt8] = []
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        return out + [UInt8(v)]
    }

    /// kubectl's `create configmap cm1 --from-literal=a=1`, as client-go encodes it.
    private func configMapBody(apiVersion: String = "v1", kind: String = "ConfigMap") -> [UInt8] {
        let configMap = field(1, field(1, "cm1")) + field(2, field(1, "a") + field(2, "1"))
        let unknown = field(1, field(1, apiVersion) + field(2, kind)) + field(2, configMap) + field(3, "") + field(4, "")
        return [0x6B, 0x38, 0x73, 0x00] + unknown
    }

    @Test func protobufCreateIsStoredAsJSON() async throws {
        let api = self.api
        let answer = await send(api, "POST", "/api/v1/namespaces/default/configmaps", bytes: configMapBody(),
                                contentType: "application/vnd.kubernetes.protobuf")
        #expect(answer.status == 201)
        #expect(answer.json?["kind"] == .string("ConfigMap"))
        #expect(answer.json?["data"]?["a"] == .string("1"))
        #expect(answer.json?["metadata"]?["name"] == .string("cm1"))
        #expect(answer.json?["metadata"]?["namespace"] == .string("default"))
    }

    @Test func protobufOfAnotherKindOrGarbageIsABadRequest() async throws {
        let api = self.api
        let wrong = await send(api, "POST", "/api/v1/namespaces/default/pods", bytes: configMapBody(),
                               contentType: "application/vnd.kubernetes.protobuf")
        #expect(wrong.status == 400)
        #expect(wrong.message?.contains("must be of type Pod") == true)
        let garbage = await send(api, "POST", "/api/v1/namespaces/default/configmaps", bytes: [0x6B, 0x38, 0x73, 0x00, 0x0A, 0x50],
                                 contentType: "application/vnd.kubernetes.protobuf")
        #expect(garbage.status == 400)
        let noMagic = await send(api, "POST", "/api/v1/namespaces/default/configmaps", bytes: [1, 2, 3, 4, 5],
                                 contentType: "application/vnd.kubernetes.protobuf")
        #expect(noMagic.status == 400)
    }

    @Test func protobufForAResourceWithoutSchemaIs415() async throws {
        let api = self.api
        let answer = await send(api, "POST", "/apis/example.com/v1/namespaces/default/widgets", bytes: configMapBody(),
                                contentType: "application/vnd.kubernetes.protobuf")
        #expect(answer.status == 415)
        #expect(answer.json?["reason"] == .string("UnsupportedMediaType"))
    }

    // MARK: Strategic merge patch

    @Test func strategicMergePatchKeepsTheOtherContainersAndTheirPorts() async throws {
        let api = self.api
        let pod = #"{"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"x:1","ports":[{"containerPort":80}]},{"name":"b","image":"y:1"}]}}"#
        #expect(await send(api, "POST", "/api/v1/namespaces/default/pods", pod).status == 201)
        let patched = await send(api, "PATCH", "/api/v1/namespaces/default/pods/p", #"{"spec":{"containers":[{"name":"a","image":"x:2"}]}}"#,
                                 contentType: "application/strategic-merge-patch+json")
        #expect(patched.status == 200)
        let containers = try #require(patched.json?["spec"]?["containers"]?.arrayValue)
        #expect(containers.count == 2)
        #expect(containers[0]["image"] == .string("x:2"))
        #expect(containers[0]["ports"]?.arrayValue?.first?["containerPort"] == .number("80"))
        #expect(containers[1]["image"] == .string("y:1"))
        // No directive is stored.
        let deleted = await send(api, "PATCH", "/api/v1/namespaces/default/pods/p",
                                 #"{"spec":{"$setElementOrder/containers":[{"name":"b"}],"containers":[{"name":"a","$patch":"delete"}]}}"#,
                                 contentType: "application/strategic-merge-patch+json")
        #expect(deleted.status == 200)
        #expect(deleted.json?["spec"]?["containers"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["b"])
        #expect(deleted.json?["spec"]?["$setElementOrder/containers"] == nil)
    }

    @Test func badStrategicPatchesAreRejected() async throws {
        let api = self.api
        #expect(await send(api, "POST", "/api/v1/namespaces/default/pods", #"{"metadata":{"name":"p"},"spec":{"containers":[{"name":"a"}]}}"#).status == 201)
        let noKey = await send(api, "PATCH", "/api/v1/namespaces/default/pods/p", #"{"spec":{"containers":[{"image":"x"}]}}"#,
                               contentType: "application/strategic-merge-patch+json")
        #expect(noKey.status == 400)
        #expect(noKey.message?.contains("does not contain declared merge key: name") == true)
    }

    @Test func strategicMergePatchOfACustomResourceIs415() async throws {
        let api = self.api
        #expect(await send(api, "POST", "/apis/example.com/v1/namespaces/default/widgets", #"{"metadata":{"name":"w"},"spec":{"a":[1]}}"#).status == 201)
        let answer = await send(api, "PATCH", "/apis/example.com/v1/namespaces/default/widgets/w", #"{"spec":{"a":[2]}}"#,
                                contentType: "application/strategic-merge-patch+json")
        #expect(answer.status == 415)
        #expect(answer.message == "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json")
        // The JSON merge patch kubectl falls back to works, and custom resources keep unknown fields.
        let merged = await send(api, "PATCH", "/apis/example.com/v1/namespaces/default/widgets/w", #"{"spec":{"a":[2]}}"#,
                                contentType: "application/merge-patch+json")
        #expect(merged.status == 200)
        #expect(merged.json?["spec"]?["a"] == .array([.number("2")]))
    }

    // MARK: Defaults and status on create

    @Test func createFillsDefaultsAndStartsTheStatus() async throws {
        let api = self.api
        let created = await send(api, "POST", "/api/v1/namespaces/default/pods",
                                 #"{"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"nginx"}]},"status":{"phase":"Running"}}"#)
        #expect(created.status == 201)
        #expect(created.json?["spec"]?["schedulerName"] == .string("default-scheduler"))
        #expect(created.json?["spec"]?["restartPolicy"] == .string("Always"))
        #expect(created.json?["spec"]?["containers"]?.arrayValue?.first?["imagePullPolicy"] == .string("Always"))
        #expect(created.json?["status"] == .object(JSONObject([("phase", .string("Pending")), ("qosClass", .string("BestEffort"))])))
        // kube-scheduler's watch for unscheduled pods sees it.
        let selector = "spec.schedulerName%3Ddefault-scheduler,spec.nodeName%3D,status.phase!%3DSucceeded,status.phase!%3DFailed"
        let list = await send(api, "GET", "/api/v1/pods?fieldSelector=\(selector)")
        #expect(list.json?["items"]?.arrayValue?.compactMap { $0["metadata"]?["name"]?.stringValue } == ["p"])

        let deployment = await send(api, "POST", "/apis/apps/v1/namespaces/default/deployments",
                                    #"{"metadata":{"name":"d"},"spec":{"selector":{"matchLabels":{"app":"d"}},"template":{"metadata":{"labels":{"app":"d"}},"spec":{"containers":[{"name":"a","image":"nginx:1.27"}]}}}}"#)
        #expect(deployment.status == 201)
        #expect(deployment.json?["spec"]?["replicas"] == .number("1"))
        #expect(deployment.json?["spec"]?["strategy"]?["type"] == .string("RollingUpdate"))
        #expect(deployment.json?["spec"]?["template"]?["spec"]?["containers"]?.arrayValue?.first?["imagePullPolicy"] == .string("IfNotPresent"))
        #expect(deployment.json?["status"] == .object(JSONObject()))
    }

    // MARK: Field validation

    @Test func fieldValidationStrictWarnAndIgnore() async throws {
        let api = self.api
        let body = #"{"metadata":{"name":"c"},"data":{"a":"1"},"spec":{"foo":1}}"#
        let strict = await send(api, "POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Strict", body)
        #expect(strict.status == 400)
        #expect(strict.message == #"ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "spec""#)
        let warned = await send(api, "POST", "/api/v1/namespaces/default/configmaps", body)
        #expect(warned.status == 201)
        #expect(warned.json?["spec"] == nil)
        #expect(warned.headers.contains { $0.0 == "warning" && $0.1 == #"299 - "unknown field \"spec\"""# })
        let ignored = await send(api, "PUT", "/api/v1/namespaces/default/configmaps/c?fieldValidation=Ignore", body)
        #expect(ignored.status == 200)
        #expect(!ignored.headers.contains { $0.0 == "warning" })
        let nested = await send(api, "POST", "/api/v1/namespaces/default/pods?fieldValidation=Strict",
                                #"{"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","imagee":"x"}]}}"#)
        #expect(nested.message?.hasSuffix(#"strict decoding error: unknown field "spec.containers[0].imagee""#) == true)
        let wrongType = await send(api, "POST", "/api/v1/namespaces/default/pods", #"{"metadata":{"name":"p"},"spec":{"containers":"a"}}"#)
        #expect(wrongType.status == 400)
        #expect(wrongType.message == #"Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type []v1.Container"#)
        #expect(await send(api, "POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Loose", body).status == 400)
        // Repeated members: the last wins, and validation reports them.
        let repeated = #"{"metadata":{"name":"d","name":"d"},"data":{"a":"1"},"data":{"b":"2"}}"#
        let strictDuplicate = await send(api, "POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Strict", repeated)
        #expect(strictDuplicate.message == #"ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: duplicate field "metadata.name", duplicate field "data""#)
        let warnedDuplicate = await send(api, "POST", "/api/v1/namespaces/default/configmaps", repeated)
        #expect(warnedDuplicate.status == 201)
        #expect(warnedDuplicate.json?["data"]?["b"] == .string("2"))
        #expect(warnedDuplicate.headers.filter { $0.0 == "warning" }.map(\.1) == [#"299 - "duplicate field \"metadata.name\"""#, #"299 - "duplicate field \"data\"""#])
    }

    @Test func valuesGoCannotDecodeAreRefused() async throws {
        let api = self.api
        func create(_ path: String, _ body: String) async -> Answer { await send(api, "POST", "/api/v1/namespaces/default/\(path)", body) }
        let huge = await create("pods", #"{"metadata":{"name":"q"},"spec":{"containers":[{"name":"a","resources":{"limits":{"cpu":"1e999999999999999999"}}}]}}"#)
        #expect(huge.status == 400)
        #expect(huge.message?.contains(#"spec.containers[0].resources.limits.cpu: invalid value "1e999999999999999999" for resource.Quantity"#) == true)
        #expect(await create("secrets", #"{"metadata":{"name":"s"},"data":{"k":"hello"}}"#).status == 400)
        #expect(await create("pods", #"{"metadata":{"name":"q"},"spec":{"containers":[{"name":"a","ports":[{"containerPort":4294967296}]}]}}"#).status == 400)
        #expect(await create("events", #"{"metadata":{"name":"e"},"involvedObject":{},"firstTimestamp":"yesterday"}"#).status == 400)
        // A kind or version that contradicts the URL.
        let wrongKind = await create("configmaps", #"{"kind":"Secret","metadata":{"name":"c"}}"#)
        #expect(wrongKind.message == "the kind in the data (Secret) does not match the expected kind (ConfigMap)")
        let wrongVersion = await create("configmaps", #"{"apiVersion":"apps/v1","metadata":{"name":"c"}}"#)
        #expect(wrongVersion.message == "the API version in the data (apps/v1) does not match the expected API version (v1)")
        // Protobuf that would recurse (groups) or holds an impossible time.
        let groups = [UInt8](repeating: 0x0B, count: 1 << 20)
        let nested = await send(api, "POST", "/api/v1/namespaces/default/configmaps", bytes: [0x6B, 0x38, 0x73, 0x00] + groups,
                                contentType: "application/vnd.kubernetes.protobuf")
        #expect(nested.status == 400)
        // ObjectMeta.creationTimestamp (8) whose seconds (1, a varint) are Int64.min.
        let time: [UInt8] = [0x08] + varint(UInt64(bitPattern: Int64.min))
        let configMap = field(1, field(1, "cm9") + field(8, time))
        let body: [UInt8] = [0x6B, 0x38, 0x73, 0x00] + field(1, field(1, "v1") + field(2, "ConfigMap")) + field(2, configMap)
        #expect(await send(api, "POST", "/api/v1/namespaces/default/configmaps", bytes: body, contentType: "application/vnd.kubernetes.protobuf").status == 400)
    }

    @Test func warningsAreCleanAndUnique() async throws {
        let api = self.api
        let answer = await send(api, "POST", "/api/v1/namespaces/default/configmaps",
                                #"{"metadata":{"name":"w"},"x\r\nInjected: yes":1,"spec":{},"spec":{}}"#)
        #expect(answer.status == 201)
        let warnings = answer.headers.filter { $0.0 == "warning" }.map(\.1)
        #expect(warnings == [#"299 - "duplicate field \"spec\"""#, #"299 - "unknown field \"spec\"""#])
    }

    @Test func patchValidationFailuresAreInvalid() async throws {
        let api = self.api
        #expect(await send(api, "POST", "/api/v1/namespaces/default/configmaps", #"{"metadata":{"name":"c"}}"#).status == 201)
        let strict = await send(api, "PATCH", "/api/v1/namespaces/default/configmaps/c?fieldValidation=Strict", #"{"spec":{"a":1}}"#,
                                contentType: "application/merge-patch+json")
        #expect(strict.status == 422)
        #expect(strict.message == #"ConfigMap "c" is invalid: patch: Invalid value: "{\"spec\":{\"a\":1}}": strict decoding error: unknown field "spec""#)
        let malformed = await send(api, "PATCH", "/api/v1/namespaces/default/configmaps/c", #"{"metadata":{"$deleteFromPrimitiveListfinalizers":["a"]}}"#,
                                   contentType: "application/strategic-merge-patch+json")
        #expect(malformed.status == 400)
        #expect(malformed.message == "invalid patch format of primitive list")
        // Other `$` members are members: field validation judges them.
        let dollar = await send(api, "PATCH", "/api/v1/namespaces/default/configmaps/c", #"{"$foo":1}"#,
                                contentType: "application/strategic-merge-patch+json")
        #expect(dollar.status == 200)
        #expect(dollar.headers.contains { $0.0 == "warning" && $0.1 == #"299 - "unknown field \"$foo\"""# })
    }

    // MARK: /status

    @Test func statusChangesOnlyThroughTheStatusSubresource() async throws {
        let api = self.api
        let owner = #"[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"rs","uid":"u1"}]"#
        #expect(await send(api, "POST", "/api/v1/namespaces/default/pods",
                           #"{"metadata":{"name":"p","ownerReferences":\#(owner)},"spec":{"containers":[{"name":"a","image":"x"}]}}"#).status == 201)
        // The main resource ignores status.
        let main = await send(api, "PATCH", "/api/v1/namespaces/default/pods/p", #"{"metadata":{"labels":{"a":"b"}},"status":{"phase":"Running"}}"#,
                              contentType: "application/merge-patch+json")
        #expect(main.status == 200)
        #expect(main.json?["status"]?["phase"] == .string("Pending"))
        #expect(main.json?["metadata"]?["labels"]?["a"] == .string("b"))
        // The status subresource ignores everything else, and does not move generation.
        let generation = main.json?["metadata"]?["generation"]
        let status = await send(api, "PATCH", "/api/v1/namespaces/default/pods/p/status",
                                #"{"metadata":{"labels":{"a":"c"},"ownerReferences":null},"spec":{"nodeName":"n"},"status":{"phase":"Running","podIP":"10.0.0.1"}}"#,
                                contentType: "application/strategic-merge-patch+json")
        #expect(status.status == 200)
        #expect(status.json?["status"]?["phase"] == .string("Running"))
        #expect(status.json?["status"]?["podIP"] == .string("10.0.0.1"))
        // Metadata may change there, but not a pod's owner references (old kubelets corrupted them).
        #expect(status.json?["metadata"]?["labels"]?["a"] == .string("c"))
        #expect(status.json?["metadata"]?["ownerReferences"] == (try JSONParser.parse(owner)))
        #expect(status.json?["spec"]?["nodeName"] == nil)
        #expect(status.json?["metadata"]?["generation"] == generation)
        // PUT to /status, with a stale version: 409.
        var object = try #require(status.json)
        var metadata = try #require(object["metadata"]?.objectValue)
        metadata["resourceVersion"] = .string("1")
        object["metadata"] = .object(metadata)
        let stale = await send(api, "PUT", "/api/v1/namespaces/default/pods/p/status", String(decoding: JSONWriter.encode(.object(object)), as: UTF8.self))
        #expect(stale.status == 409)
        // GET /status is the whole object.
        let read = await send(api, "GET", "/api/v1/namespaces/default/pods/p/status")
        #expect(read.json?["spec"]?["containers"] != nil)
        // Kinds without status have no such subresource.
        #expect(await send(api, "POST", "/api/v1/namespaces/default/configmaps", #"{"metadata":{"name":"c"}}"#).status == 201)
        #expect(await send(api, "GET", "/api/v1/namespaces/default/configmaps/c/status").status == 404)
        #expect(await send(api, "GET", "/api/v1/namespaces/default/pods/p/exec").status == 404)
    }

    @Test func namespaceStatusPath() async throws {
        let api = self.api
        let created = await send(api, "POST", "/api/v1/namespaces", #"{"metadata":{"name":"team"}}"#)
        #expect(created.status == 201)
        #expect(created.json?["spec"]?["finalizers"] == .array([.string("kubernetes")]))
        #expect(created.json?["status"]?["phase"] == .string("Active"))
        let status = await send(api, "GET", "/api/v1/namespaces/team/status")
        #expect(status.status == 200)
        #expect(status.json?["metadata"]?["name"] == .string("team"))
        // A namespace's pods are still a list, not a subresource.
        #expect(await send(api, "GET", "/api/v1/namespaces/team/pods").json?["kind"] == .string("PodList"))
    }

    // MARK: /scale

    @Test func scaleReadsAndWritesTheReplicaCount() async throws {
        let api = self.api
        let deployment = #"{"metadata":{"name":"d"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"d","tier":"web"}},"template":{"metadata":{"labels":{"app":"d","tier":"web"}},"spec":{"containers":[{"name":"a","image":"x"}]}}}}"#
        let created = await send(api, "POST", "/apis/apps/v1/namespaces/default/deployments", deployment)
        #expect(created.status == 201)
        let scale = await send(api, "GET", "/apis/apps/v1/namespaces/default/deployments/d/scale")
        #expect(scale.status == 200)
        #expect(scale.json?["kind"] == .string("Scale"))
        #expect(scale.json?["apiVersion"] == .string("autoscaling/v1"))
        #expect(scale.json?["spec"]?["replicas"] == .number("2"))
        #expect(scale.json?["status"]?["selector"] == .string("app=d,tier=web"))
        #expect(scale.json?["metadata"]?["resourceVersion"] == created.json?["metadata"]?["resourceVersion"])

        let put = await send(api, "PUT", "/apis/apps/v1/namespaces/default/deployments/d/scale",
                             #"{"kind":"Scale","apiVersion":"autoscaling/v1","metadata":{"name":"d"},"spec":{"replicas":3}}"#)
        #expect(put.status == 200)
        #expect(put.json?["spec"]?["replicas"] == .number("3"))
        let patch = await send(api, "PATCH", "/apis/apps/v1/namespaces/default/deployments/d/scale", #"{"spec":{"replicas":5}}"#,
                               contentType: "application/merge-patch+json")
        #expect(patch.status == 200)
        #expect(patch.json?["spec"]?["replicas"] == .number("5"))
        let object = await send(api, "GET", "/apis/apps/v1/namespaces/default/deployments/d")
        #expect(object.json?["spec"]?["replicas"] == .number("5"))
        #expect(object.json?["metadata"]?["generation"] == .number("3"))

        let negative = await send(api, "PUT", "/apis/apps/v1/namespaces/default/deployments/d/scale", #"{"spec":{"replicas":-1}}"#)
        #expect(negative.status == 422)
        let stale = await send(api, "PUT", "/apis/apps/v1/namespaces/default/deployments/d/scale",
                               #"{"metadata":{"name":"d","resourceVersion":"1"},"spec":{"replicas":1}}"#)
        #expect(stale.status == 409)
        #expect(await send(api, "GET", "/api/v1/namespaces/default/pods/x/scale").status == 404)
    }

    // MARK: Discovery

    @Test func discoveryListsSubresources() async throws {
        let api = self.api
        let core = await send(api, "GET", "/api/v1")
        let names = core.json?["resources"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        #expect(names.contains("pods/status"))
        #expect(!names.contains("configmaps/status"))
        let apps = await send(api, "GET", "/apis/apps/v1")
        let scale = apps.json?["resources"]?.arrayValue?.first { $0["name"] == .string("deployments/scale") }
        #expect(scale?["group"] == .string("autoscaling"))
        #expect(scale?["kind"] == .string("Scale"))
    }
}
