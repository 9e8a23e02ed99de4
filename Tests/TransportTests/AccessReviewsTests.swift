import Testing
import WatchCache
@testable import WatchCacheServer

/// `kubectl auth whoami` and `kubectl auth can-i`: the reviews, as kube-apiserver answers them with
/// AlwaysAllow authorization. kubectl posting them over TLS is in KubeconfigTests.
@Suite struct AccessReviewsTests {
    let registry = try! Registry(clock: ManualClock())

    func post(_ api: APIServer, _ path: String, _ body: [UInt8], method: String = "POST",
              contentType: String = "application/json") async -> (status: Int, json: JSONObject?) {
        let response = await withCheckedContinuation { c in
            api.handle(APIRequest(method: method, target: path, headers: [("Content-Type", contentType)], body: body)) { c.resume(returning: $0) }
        }
        guard case .complete(let status, _, let bytes, _) = response else { return (0, nil) }
        return (status, try? JSONObject(parsing: String(decoding: bytes, as: UTF8.self)))
    }

    func server() throws -> APIServer {
        try APIServer(registry: registry, resources: ResourceDescriptor.builtIn, serverAddress: "x", namespaceLifecycle: false)
    }

    @Test func whoamiAnswersTheUserAndGroups() throws {
        let request = APIRequest(method: "POST", target: "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                 body: Array(#"{"kind":"SelfSubjectReview","apiVersion":"authentication.k8s.io/v1"}"#.utf8))
        let alice = AuthenticatedUser(name: "alice", uid: "42", groups: ["system:masters"])
        guard case .complete(let status, _, let body, _) = try AccessReviews.answer(request, group: AccessReviews.authentication,
                                                                                  plural: "selfsubjectreviews", user: alice) else {
            Issue.record("not a complete response"); return
        }
        #expect(status == 201)
        let review = try JSONObject(parsing: String(decoding: body, as: UTF8.self))
        #expect(review["kind"] == .string("SelfSubjectReview") && review["apiVersion"] == .string("authentication.k8s.io/v1"))
        #expect(review["status"]?["userInfo"] == .object(JSONObject([
            ("username", .string("alice")), ("uid", .string("42")), ("groups", .array([.string("system:masters"), .string("system:authenticated")])),
        ])))
        // Nobody authenticated (an open server): anonymous, as kube-apiserver with anonymous auth.
        guard case .complete(_, _, let anonymous, _) = try AccessReviews.answer(request, group: AccessReviews.authentication,
                                                                              plural: "selfsubjectreviews", user: nil) else { return }
        #expect(try JSONObject(parsing: String(decoding: anonymous, as: UTF8.self))["status"]?["userInfo"] == .object(JSONObject([
            ("username", .string("system:anonymous")), ("groups", .array([.string("system:unauthenticated")])),
        ])))
    }

    @Test func accessReviewsAreAllowedAndEchoTheirSpec() async throws {
        let api = try server()
        let json = #"{"kind":"SelfSubjectAccessReview","apiVersion":"authorization.k8s.io/v1","spec":{"resourceAttributes":{"namespace":"kube-system","verb":"delete","group":"apps","resource":"deployments"}}}"#
        let answer = await post(api, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", Array(json.utf8))
        #expect(answer.status == 201)
        #expect(answer.json?["status"] == .object(JSONObject([("allowed", .bool(true))])))
        #expect(answer.json?["spec"]?["resourceAttributes"]?["verb"] == .string("delete"))
        #expect(answer.json?["spec"]?["resourceAttributes"]?["namespace"] == .string("kube-system"))

        // As kubectl sends it: protobuf, `k8s\0` + runtime.Unknown{typeMeta, raw}.
        func field(_ number: Int, _ bytes: [UInt8]) -> [UInt8] { [UInt8(number << 3 | 2), UInt8(bytes.count)] + bytes }
        func text(_ number: Int, _ s: String) -> [UInt8] { field(number, Array(s.utf8)) }
        let attributes = text(2, "create") + text(5, "pods") + text(1, "default") + field(9, text(1, "app=web"))
        let raw = field(2, field(1, attributes))  // SelfSubjectAccessReview.spec.resourceAttributes
        let typeMeta = text(1, "authorization.k8s.io/v1") + text(2, "SelfSubjectAccessReview")
        let body = [0x6B, 0x38, 0x73, 0x00] + field(1, typeMeta) + field(2, raw)
        let proto = await post(api, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body, contentType: "application/vnd.kubernetes.protobuf")
        #expect(proto.status == 201)
        #expect(proto.json?["spec"] == .object(JSONObject([("resourceAttributes", .object(JSONObject([
            ("namespace", .string("default")), ("verb", .string("create")), ("resource", .string("pods")),
            ("labelSelector", .object(JSONObject([("rawSelector", .string("app=web"))]))),
        ])))])))
        #expect(proto.json?["status"]?["allowed"] == .bool(true))

        let rules = await post(api, "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", Array(#"{"spec":{"namespace":"default"}}"#.utf8))
        #expect(rules.status == 201)
        #expect(rules.json?["status"]?["resourceRules"]?.arrayValue?.first?["verbs"] == .array([.string("*")]))
        #expect(rules.json?["status"]?["incomplete"] == .bool(false))
    }

    @Test func badRequestsGetAStatus() async throws {
        let api = try server()
        let path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
        #expect(await post(api, path, [], method: "GET").status == 405)
        #expect(await post(api, path, Array("{not json".utf8)).status == 400)
        #expect(await post(api, path, []).status == 400)
        let wrongKind = await post(api, path, Array(#"{"kind":"Pod"}"#.utf8))
        #expect(wrongKind.status == 400 && wrongKind.json?["message"]?.stringValue?.contains("not a SelfSubjectAccessReview") == true)
        #expect(await post(api, path, [0x6B, 0x38, 0x73, 0x00, 0x12, 0x50], contentType: "application/vnd.kubernetes.protobuf").status == 400)
        #expect(await post(api, "/apis/authorization.k8s.io/v1/namespaces/default/selfsubjectaccessreviews", Array("{}".utf8)).status == 404)
    }

    @Test func discoveryListsTheReviews() async throws {
        let api = try server()
        let groups = await post(api, "/apis", [], method: "GET").json
        let names = groups?["groups"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        #expect(names.contains(AccessReviews.authentication) && names.contains(AccessReviews.authorization))
        let list = await post(api, "/apis/authorization.k8s.io/v1", [], method: "GET").json
        let resources = list?["resources"]?.arrayValue ?? []
        #expect(resources.compactMap { $0["name"]?.stringValue } == ["selfsubjectaccessreviews", "selfsubjectrulesreviews"])
        #expect(resources.allSatisfy { $0["verbs"] == .array([.string("create")]) && $0["namespaced"] == .bool(false) })
    }
}
