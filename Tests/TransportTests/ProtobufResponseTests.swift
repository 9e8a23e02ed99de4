import Foundation
import Testing
import WatchCache
@testable import WatchCacheServer
import WatchCacheSchema

/// Responses in Kubernetes protobuf for clients that ask for it first: GET, LIST and WATCH (over
/// real sockets, HTTP/1.1 and HTTP/2), decoded back with the schema.
@Suite(.serialized) struct ProtobufResponseTests {
    static let accept = "application/vnd.kubernetes.protobuf, */*"

    /// `value` with object members sorted, to compare documents whatever their member order.
    static func canonical(_ value: JSONValue) -> JSONValue { KubectlWriteTests.canonical(value) }

    @Test func getAndListInProtobuf() async throws {
        let registry = try Registry(clock: ManualClock())
        let custom = ResourceDescriptor(group: "example.com", version: "v1", plural: "widgets", kind: "Widget")
        let api = try APIServer(registry: registry, resources: ResourceDescriptor.builtIn + [custom], serverAddress: "127.0.0.1:8080")
        func get(_ target: String, accept: String = Self.accept) async -> (Int, String, [UInt8]) {
            let response = await withCheckedContinuation { c in
                api.handle(APIRequest(method: "GET", target: target, headers: [("Accept", accept)])) { c.resume(returning: $0) }
            }
            guard case .complete(let status, let type, let body, _) = response else { return (-1, "", []) }
            return (status, type, body)
        }
        let pod = #"{"metadata":{"name":"p","namespace":"ns","labels":{"app":"web"}},"spec":{"nodeName":"n1","containers":[{"name":"a","image":"nginx:1.27","ports":[{"containerPort":80,"protocol":"TCP"}],"resources":{"limits":{"cpu":"500m"}}}]},"status":{"phase":"Running","podIP":"10.0.0.1"}}"#
        for name in ["p", "q"] {
            _ = try await registry.create(try JSONObject(parsing: pod.replacingOccurrences(of: #""name":"p""#, with: #""name":"\#(name)""#)),
                                   in: .pods, namespace: "ns")
        }
        let stored = try #require(registry.cache(for: .pods)?.get(namespace: "ns", name: "p"))

        let (status, type, body) = await get("/api/v1/namespaces/ns/pods/p")
        #expect(status == 200)
        #expect(type == "application/vnd.kubernetes.protobuf")
        #expect(Array(body.prefix(4)) == ProtobufDecoder.magic)
        let decoded = try ProtobufDecoder.decodeObject(body, in: .builtIn)
        #expect(Self.canonical(.object(decoded)) == Self.canonical(.object(stored.json)))
        // The bytes are made once and kept with the object.
        #expect(await get("/api/v1/namespaces/ns/pods/p").2 == body)

        let (listStatus, _, listBody) = await get("/api/v1/namespaces/ns/pods?limit=1")
        #expect(listStatus == 200)
        let envelope = try ProtobufDecoder.envelope(listBody)
        #expect(envelope.kind == "PodList" && envelope.apiVersion == "v1")
        let list = try ProtobufDecoder.decodeObject(envelope, as: try #require(APISchema.builtIn["io.k8s.api.core.v1.PodList"]), in: .builtIn)
        #expect(list["metadata"]?["resourceVersion"] == .string(registry.currentVersion.description))
        #expect(list["metadata"]?["continue"]?.stringValue?.isEmpty == false)
        #expect(list["metadata"]?["remainingItemCount"] == .number("1"))
        let items = try #require(list["items"]?.arrayValue)
        #expect(items.count == 1)
        // List items carry no type meta, as in kube-apiserver's protobuf lists.
        var expected = stored.json
        expected["kind"] = nil
        expected["apiVersion"] = nil
        #expect(Self.canonical(items[0]) == Self.canonical(.object(expected)))

        // A resource without a schema falls back to the client's next choice, or 406.
        _ = try await registry.create(try JSONObject(parsing: #"{"metadata":{"name":"w"},"spec":{"x":1}}"#), in: custom, namespace: "ns")
        let widget = await get("/apis/example.com/v1/namespaces/ns/widgets/w")
        #expect(widget.0 == 200 && widget.1 == "application/json")
        #expect(await get("/apis/example.com/v1/namespaces/ns/widgets/w", accept: "application/vnd.kubernetes.protobuf").0 == 406)
    }

    /// Splits a protobuf watch stream into its frames and decodes each WatchEvent.
    static func events(_ bytes: [UInt8]) throws -> [JSONObject] {
        let type = try #require(APISchema.builtIn["io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent"])
        var events: [JSONObject] = []
        var i = 0
        while i + 4 <= bytes.count {
            let length = Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
            try #require(i + 4 + length <= bytes.count, "a truncated frame")
            events.append(try ProtobufDecoder.decodeMessage(bytes[(i + 4)..<(i + 4 + length)], as: type, in: .builtIn))
            i += 4 + length
        }
        #expect(i == bytes.count)
        return events
    }

    @Test(arguments: [["--http2-prior-knowledge"], ["--http1.1"]])
    func watchInProtobufFrames(protocolFlags: [String]) async throws {
        let (server, port) = try await EndToEndTests.startServer()
        let base = "http://127.0.0.1:\(port)"
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("watchcache-protobuf-watch-\(port)")
        defer { try? FileManager.default.removeItem(at: output) }
        // The writes first, then watches that replay them from the history: nothing depends on
        // when a watch starts (the suite runs in parallel on two cores).
        _ = try await EndToEndTests.curl(["-X", "POST", "-H", "Content-Type: application/json", "--data",
                                          #"{"metadata":{"name":"a"},"spec":{"containers":[{"name":"c","image":"nginx"}]}}"#,
                                          "\(base)/api/v1/namespaces/default/pods"])
        _ = try await EndToEndTests.curl(["-X", "PATCH", "-H", "Content-Type: application/merge-patch+json", "--data",
                                          #"{"metadata":{"labels":{"x":"y"}}}"#, "\(base)/api/v1/namespaces/default/pods/a"])
        _ = try await EndToEndTests.curl(["-X", "DELETE", "\(base)/api/v1/namespaces/default/pods/a"])
        let headers = try await EndToEndTests.curl(protocolFlags + ["-D", "-", "-o", output.path, "-H", "Accept: \(Self.accept)",
                                                                    "\(base)/api/v1/namespaces/default/pods?watch=true&resourceVersion=1&timeoutSeconds=1"])
        #expect(headers.lowercased().contains("content-type: application/vnd.kubernetes.protobuf;stream=watch"))
        let events = try Self.events(Array(try Data(contentsOf: output)))
        // The label, the deletion's mark, the removal (a pod on no node is deleted with no grace:
        // marked, then gone).
        #expect(events.compactMap { $0["type"]?.stringValue } == ["MODIFIED", "MODIFIED", "DELETED"])
        let modified = try #require(events.first)
        #expect(modified["object"]?["kind"] == .string("Pod"))
        #expect(modified["object"]?["metadata"]?["labels"]?["x"] == .string("y"))
        #expect(modified["object"]?["metadata"]?["resourceVersion"] == .string("2"))
        #expect(modified["object"]?["spec"]?["schedulerName"] == .string("default-scheduler"))
        #expect(events.last?["object"]?["metadata"]?["name"] == .string("a"))

        // A watch-list: the initial events, then its end marker, a bookmark.
        _ = try await EndToEndTests.curl(["-X", "POST", "-H", "Content-Type: application/json", "--data", #"{"metadata":{"name":"b"}}"#,
                                          "\(base)/api/v1/namespaces/default/pods"])
        _ = try await EndToEndTests.curl(protocolFlags + ["-o", output.path, "-H", "Accept: \(Self.accept)",
                                                          "\(base)/api/v1/namespaces/default/pods?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1"])
        let listed = try Self.events(Array(try Data(contentsOf: output)))
        #expect(listed.prefix(2).compactMap { $0["type"]?.stringValue } == ["ADDED", "BOOKMARK"])
        let bookmark = try #require(listed.first { $0["type"] == .string("BOOKMARK") })
        #expect(bookmark["object"]?["kind"] == .string("Pod"))
        #expect(bookmark["object"]?["metadata"]?["resourceVersion"] == .string("5"))
        #expect(bookmark["object"]?["metadata"]?["annotations"]?["k8s.io/initial-events-end"] == .string("true"))
        // An expired version: the ERROR event is a protobuf Status.
        for i in 0..<6 {
            _ = try await EndToEndTests.curl(["-X", "POST", "-H", "Content-Type: application/json", "--data", "{\"metadata\":{\"name\":\"f\(i)\"}}",
                                              "\(base)/api/v1/namespaces/default/pods"])
        }
        _ = try await EndToEndTests.curl(protocolFlags + ["-o", output.path, "-H", "Accept: \(Self.accept)",
                                                          "\(base)/api/v1/namespaces/default/pods?watch=true&resourceVersion=1"])
        let expired = try Self.events(Array(try Data(contentsOf: output)))
        #expect(expired.first?["type"] == .string("ERROR"))
        #expect(expired.first?["object"]?["kind"] == .string("Status"))
        #expect(expired.first?["object"]?["code"] == .number("410"))
        try await server.shutdown()
    }
}
