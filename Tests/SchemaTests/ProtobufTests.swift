import XCTest
import WatchCache
@testable import WatchCacheSchema

/// Kubernetes protobuf: the decoder on hand-built wire bytes (every field type the built-in kinds
/// use), the encoder against bytes computed by hand from the gogo-generated marshallers
/// (kubernetes/api and kubernetes/apimachinery v0.32.9 `generated.pb.go`, `time_proto.go`,
/// `quantity_proto.go`, `runtime/types_proto.go`), and JSON → protobuf → JSON round trips.
final class ProtobufTests: XCTestCase {
    private let core = "io.k8s.api.core.v1."
    private let apps = "io.k8s.api.apps.v1."
    private let meta = "io.k8s.apimachinery.pkg.apis.meta.v1."
    private var schema: APISchema { .builtIn }

    /// 2026-11-30T22:52:24Z in Unix seconds.
    private let seconds: Int64 = 1_796_079_144

    private func type(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> MessageSchema {
        try XCTUnwrap(schema[name], "no type \(name)", file: file, line: line)
    }

    // MARK: Decoder: field types

    func testDecodesObjectMetaScalarsMapsTimesAndManagedFields() throws {
        let metadata = Proto()
            .string(1, "web-0").string(2, "").string(3, "default").string(5, "u-1").string(6, "42")
            .int(7, 7)                                            // generation: int64
            .message(8, time(seconds))                            // creationTimestamp: Time
            .int(10, 0)                                           // deletionGracePeriodSeconds: *int64 zero, kept
            .message(11, entry("app", "web")).message(11, entry("tier", "front"))
            .message(12, entry("note", "x"))
            .message(13, Proto().string(1, "ReplicaSet").string(3, "web-abc").string(4, "u-2").string(5, "apps/v1").bool(6, true))
            .message(17, Proto().string(1, "kubectl").string(2, "Update").string(3, "v1").message(4, time(seconds))
                .string(6, "FieldsV1").message(7, Proto().string(1, #"{"f:metadata":{"f:labels":{}}}"#)))
        let pod = try ProtobufDecoder.decodeObject(envelope("v1", "Pod", Proto().message(1, metadata)), in: schema)
        try assertSameJSON(.object(pod), #"""
            {"kind":"Pod","apiVersion":"v1","metadata":{"name":"web-0","namespace":"default","uid":"u-1","resourceVersion":"42",
             "generation":7,"creationTimestamp":"2026-11-30T22:52:24Z","deletionGracePeriodSeconds":0,
             "labels":{"app":"web","tier":"front"},"annotations":{"note":"x"},
             "ownerReferences":[{"kind":"ReplicaSet","name":"web-abc","uid":"u-2","apiVersion":"apps/v1","controller":true}],
             "managedFields":[{"manager":"kubectl","operation":"Update","apiVersion":"v1","time":"2026-11-30T22:52:24Z",
                               "fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:labels":{}}}}]}}
            """#)
        XCTAssertEqual(Array(pod.keys.prefix(2)), ["kind", "apiVersion"])
    }

    func testDecodesContainersVolumesAndRepeatedInts() throws {
        let container = Proto()
            .string(1, "app")
            .string(2, "")                                        // image: omitempty "" is left out
            .string(4, "--a").string(4, "--b")                    // args: repeated string
            .message(6, Proto().int(2, -1).int(3, 8080).string(4, "TCP"))  // hostPort: negative int32 (ten bytes)
            .message(6, Proto().int(2, 0).int(3, 0))              // hostPort 0 omitempty; containerPort 0 is not
            .message(8, Proto()
                .message(1, Proto().string(1, "cpu").message(2, quantity("500m")))
                .message(1, Proto().string(1, "memory").message(2, quantity("128Mi"))))
            .string(13, "")
            .bool(16, false)                                      // stdin: omitempty false
        let volume = Proto().string(1, "config")
            .message(2, Proto().message(19, Proto().message(1, Proto().string(1, "web-config")).int(3, 420)))
        // supplementalGroups ([]int64): unpacked as gogo writes, then packed as proto3 writers do.
        let security = Proto().int(4, 1000).int(4, 2000).packed(4, [3000, 4000])
        let spec = Proto().message(1, volume).message(2, container).message(14, security)
        let pod = try ProtobufDecoder.decodeObject(envelope("v1", "Pod", Proto().message(2, spec)), in: schema)
        let decoded = JSONValue.object(pod)
        try assertSameJSON(try XCTUnwrap(decoded.value(atPath: "spec.containers")), #"""
            [{"name":"app","args":["--a","--b"],
              "ports":[{"hostPort":-1,"containerPort":8080,"protocol":"TCP"},{"containerPort":0}],
              "resources":{"limits":{"cpu":"500m","memory":"128Mi"}}}]
            """#)
        // The inline VolumeSource (and ConfigMapVolumeSource's inline LocalObjectReference) are
        // members of the volume's own object.
        XCTAssertEqual(decoded.value(atPath: "spec.volumes"),
                       .array([try parse(#"{"name":"config","configMap":{"name":"web-config","defaultMode":420}}"#)]))
        XCTAssertEqual(decoded.value(atPath: "spec.securityContext.supplementalGroups"),
                       .array(["1000", "2000", "3000", "4000"].map(JSONValue.number)))
    }

    func testPointerZeroIsKeptAndOmitEmptyZeroDropped() throws {
        let spec = Proto()
            .int(1, 0)                                            // replicas: *int32 0
            .message(2, Proto().message(1, entry("app", "web")))
            .message(3, Proto().message(1, Proto()).message(2, Proto().message(2, Proto().string(1, "app"))))
            .message(4, Proto())
            .int(5, 0)                                            // minReadySeconds: int32 omitempty
            .bool(7, false)                                       // paused: bool omitempty
        let deployment = try ProtobufDecoder.decodeObject(envelope("apps/v1", "Deployment", Proto().message(2, spec)), in: schema)
        try assertSameJSON(try XCTUnwrap(deployment["spec"]), #"""
            {"replicas":0,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{},"spec":{"containers":[{"name":"app"}]}},"strategy":{}}
            """#)
        XCTAssertEqual(deployment["spec"]?["replicas"], .number("0"))
    }

    func testDecodesIntOrString() throws {
        let spec = Proto()
            .message(1, Proto().string(1, "http").string(2, "TCP").int(3, 80)
                .message(4, Proto().varint(1, 0).int(2, 8080).string(3, "")).int(5, 0))
            .message(1, Proto().string(1, "metrics").string(2, "TCP").int(3, 9090)
                .message(4, Proto().varint(1, 1).int(2, 0).string(3, "metrics")))
        let service = try ProtobufDecoder.decodeObject(envelope("v1", "Service", Proto().message(2, spec)), in: schema)
        try assertSameJSON(try XCTUnwrap(service["spec"]?["ports"]), #"""
            [{"name":"http","protocol":"TCP","port":80,"targetPort":8080},
             {"name":"metrics","protocol":"TCP","port":9090,"targetPort":"metrics"}]
            """#)
    }

    func testDecodesBytesMapAsBase64() throws {
        let raw = Proto()
            .message(2, Proto().string(1, "hello").bytes(2, Array("hello".utf8)))
            .message(2, Proto().string(1, "bin").bytes(2, [0, 255, 1]))
            .string(3, "Opaque")
        let secret = try ProtobufDecoder.decodeObject(envelope("v1", "Secret", raw), in: schema)
        try assertSameJSON(.object(secret), #"{"kind":"Secret","apiVersion":"v1","data":{"hello":"aGVsbG8=","bin":"AP8B"},"type":"Opaque"}"#)
    }

    func testDecodesTimeAndMicroTime() throws {
        let raw = Proto()
            .message(1, Proto().string(1, "web-0.1"))
            .message(2, Proto().string(1, "Pod").string(3, "web-0"))
            .string(3, "Started")
            .message(6, time(seconds, 999))                       // Time: seconds only
            .int(8, 3)
            .message(10, time(seconds, 123_456_789))              // MicroTime: microseconds
            .string(14, "").string(15, "")                        // not omitempty: kept as ""
        let event = try ProtobufDecoder.decodeObject(envelope("v1", "Event", raw), in: schema)
        try assertSameJSON(.object(event), #"""
            {"kind":"Event","apiVersion":"v1","metadata":{"name":"web-0.1"},"involvedObject":{"kind":"Pod","name":"web-0"},
             "reason":"Started","firstTimestamp":"2026-11-30T22:52:24Z","count":3,"eventTime":"2026-11-30T22:52:24.123456Z",
             "reportingComponent":"","reportingInstance":""}
            """#)
    }

    func testDecodesEpochTimeAndZeroTime() throws {
        // An empty Time message is Go's zero time (JSON null, dropped as omitempty); seconds 0 is the epoch.
        let epoch = try ProtobufDecoder.decodeObject(envelope("v1", "ConfigMap", Proto().message(1, Proto().message(8, time(0)))), in: schema)
        XCTAssertEqual(epoch["metadata"]?["creationTimestamp"], .string("1970-01-01T00:00:00Z"))
        let zero = try ProtobufDecoder.decodeObject(envelope("v1", "ConfigMap", Proto().message(1, Proto().message(8, Proto()))), in: schema)
        XCTAssertEqual(zero["metadata"], .object(JSONObject()))
    }

    func testDecodesRawExtensionWithJSONOrProtobufInside() throws {
        let watchEvent = try type(meta + "WatchEvent")
        let json = #"{"kind":"Pod","apiVersion":"v1","metadata":{"name":"x"}}"#
        let event = try ProtobufDecoder.decode(Proto().string(1, "ADDED").message(2, Proto().string(1, json)).slice,
                                               as: watchEvent, in: schema)
        XCTAssertEqual(event["type"], .string("ADDED"))
        XCTAssertEqual(event["object"], try parse(json))

        let embedded = envelope("v1", "ConfigMap", Proto().message(1, Proto().string(1, "cm")).message(2, entry("k", "v")))
        let event2 = try ProtobufDecoder.decode(Proto().string(1, "MODIFIED").message(2, Proto().bytes(1, embedded)).slice,
                                                as: watchEvent, in: schema)
        try assertSameJSON(try XCTUnwrap(event2["object"]), #"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cm"},"data":{"k":"v"}}"#)
    }

    func testSkipsUnknownFieldNumbers() throws {
        let raw = Proto()
            .message(1, Proto().string(1, "cm").varint(16, 5).string(99, "later"))
            .varint(90, 1).string(91, "x").fixed32(92, 7).fixed64(93, 9).message(94, Proto().string(1, "nested"))
            .message(2, entry("k", "v"))
        let object = try ProtobufDecoder.decodeObject(envelope("v1", "ConfigMap", raw), in: schema)
        try assertSameJSON(.object(object), #"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cm"},"data":{"k":"v"}}"#)
    }

    func testTruncatedInputIsAnError() throws {
        let raw = Proto().message(1, Proto().string(1, "web-config").message(11, entry("app", "web"))).message(2, entry("key", "value"))
        let body = envelope("v1", "ConfigMap", raw)
        XCTAssertNoThrow(try ProtobufDecoder.decodeObject(body, in: schema))
        // Every cut inside the raw object (and its length) leaves the envelope's length unmet.
        let rawEnd = body.count - 4                               // before `1a 00 22 00`
        let rawStart = rawEnd - raw.data.count
        for cut in (rawStart - 1)..<rawEnd {
            XCTAssertThrowsError(try ProtobufDecoder.decodeObject(Array(body[..<cut]), in: schema), "cut at \(cut)") { error in
                XCTAssertTrue(error is ProtobufError, "\(error)")
            }
        }
        // A nested length that overruns its message, and a varint cut short.
        for broken in [[0x0a, 0x05, 0x0a, 0x01], [0x0a, 0x02, 0x38, 0x80], [0x12, 0x03, 0x0a, 0x01, 0x6b, 0x12]] as [[UInt8]] {
            XCTAssertThrowsError(try ProtobufDecoder.decodeObject(envelope("v1", "ConfigMap", Proto(data: broken)), in: schema),
                                 "\(broken)")
        }
    }

    func testBadMagicIsAnError() {
        let good = envelope("v1", "ConfigMap", Proto())
        for body in [[], Array(good.prefix(3)), [0x6b, 0x38, 0x73, 0x01] + good.dropFirst(4), Array(#"{"kind":"ConfigMap"}"#.utf8)] as [[UInt8]] {
            XCTAssertThrowsError(try ProtobufDecoder.decodeObject(body, in: schema)) { error in
                XCTAssertEqual((error as? ProtobufError)?.description,
                               "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]")
            }
        }
    }

    func testWrongWireTypeIsAnError() {
        let raw = Proto().message(2, Proto().message(2, Proto().varint(1, 5)))  // Container.name as a varint
        XCTAssertThrowsError(try ProtobufDecoder.decodeObject(envelope("v1", "Pod", raw), in: schema)) { error in
            XCTAssertTrue("\(error)".contains("Container.name"), "\(error)")
        }
    }

    func testEnvelopeNamesTheKind() throws {
        let body = envelope("apps/v1", "Deployment", Proto().message(1, Proto().string(1, "web")))
        let parts = try ProtobufDecoder.envelope(body)
        XCTAssertEqual(parts.apiVersion, "apps/v1")
        XCTAssertEqual(parts.kind, "Deployment")
        XCTAssertEqual(parts.contentEncoding, "")
        XCTAssertEqual(parts.contentType, "")
        let object = try ProtobufDecoder.decodeObject(body, in: schema)
        XCTAssertEqual(Array(object.keys.prefix(3)), ["kind", "apiVersion", "metadata"])
        XCTAssertEqual(object["kind"], .string("Deployment"))
        XCTAssertEqual(object["apiVersion"], .string("apps/v1"))
        XCTAssertEqual(object["metadata"]?["name"], .string("web"))

        XCTAssertThrowsError(try ProtobufDecoder.decodeObject(envelope("v1", "Widget", Proto()), in: schema)) { error in
            XCTAssertEqual("\(error)", #"no kind "Widget" is registered for version "v1""#)
        }
        XCTAssertThrowsError(try ProtobufDecoder.decodeObject(envelope("v1", "Deployment", Proto()), in: schema))
        let gzip = [0x6b, 0x38, 0x73, 0x00] + Proto().message(1, Proto().string(1, "v1").string(2, "ConfigMap")).bytes(2, []).string(3, "gzip").data
        XCTAssertThrowsError(try ProtobufDecoder.decodeObject(gzip, in: schema))
    }

    // MARK: Encoder: exact bytes

    func testEncodesASmallConfigMapExactly() throws {
        let body = try ProtobufEncoder.encodeObject(try object(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"v"}}"#),
                                                    as: try type(core + "ConfigMap"), apiVersion: "v1", kind: "ConfigMap", in: schema)
        let expected: [UInt8] = [0x6b, 0x38, 0x73, 0x00,                          // k8s\0
                                 0x0a, 0x0f, 0x0a, 0x02, 0x76, 0x31, 0x12, 0x09]   // typeMeta{apiVersion "v1", kind ...
            + Array("ConfigMap".utf8)
            + [0x12, 0x1b,                                                          // raw (27 bytes)
               0x0a, 0x11,                                                          //   metadata (17 bytes)
               0x0a, 0x01, 0x61,                                                    //     name "a"
               0x12, 0x00, 0x1a, 0x00, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00,          //     generateName .. resourceVersion ""
               0x38, 0x00,                                                          //     generation 0
               0x42, 0x00,                                                          //     creationTimestamp: zero Time
               0x12, 0x06, 0x0a, 0x01, 0x6b, 0x12, 0x01, 0x76,                      //   data {k: v}
               0x1a, 0x00,                                                          // contentEncoding ""
               0x22, 0x00]                                                          // contentType ""
        XCTAssertEqual(body, expected)
        // The kind the object names itself.
        XCTAssertEqual(try ProtobufEncoder.encodeObject(try object(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"v"}}"#),
                                                        in: schema), expected)
        XCTAssertThrowsError(try ProtobufEncoder.encodeObject(try object(#"{"apiVersion":"v9","kind":"ConfigMap"}"#), in: schema))
    }

    func testEncodesGoZeroValuesOfNonPointerFields() throws {
        // Container has no image: Go's generated code writes every non-pointer string and bool,
        // and the non-pointer `resources` struct, all zero.
        let container = try ProtobufEncoder.encodeMessage(try object(#"{"name":"c"}"#), as: try type(core + "Container"), in: schema)
        XCTAssertEqual(container, [0x0a, 0x01, 0x63,     // name "c"
                                   0x12, 0x00,           // image ""
                                   0x2a, 0x00,           // workingDir ""
                                   0x42, 0x00,           // resources {}
                                   0x6a, 0x00,           // terminationMessagePath ""
                                   0x72, 0x00,           // imagePullPolicy ""
                                   0x80, 0x01, 0x00,     // stdin false
                                   0x88, 0x01, 0x00,     // stdinOnce false
                                   0x90, 0x01, 0x00,     // tty false
                                   0xa2, 0x01, 0x00])    // terminationMessagePolicy ""
        // ... and the decoder leaves the omitempty zeros out again; `resources` is a struct, kept.
        let pod = try object(#"{"kind":"Pod","apiVersion":"v1","metadata":{"name":"p","creationTimestamp":null},"spec":{"containers":[{"name":"c","args":[]}]},"status":{"conditions":[{"type":"Ready","status":"True","lastProbeTime":null}]}}"#)
        let decoded = try ProtobufDecoder.decodeObject(try ProtobufEncoder.encodeObject(pod, in: schema), in: schema)
        try assertSameJSON(.object(decoded), #"""
            {"kind":"Pod","apiVersion":"v1","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","resources":{}}]},
             "status":{"conditions":[{"type":"Ready","status":"True"}]}}
            """#)
        // An absent struct is the zero struct, with its own always-written fields.
        let empty = try ProtobufEncoder.encodeMessage(JSONObject(), as: try type(core + "Pod"), in: schema)
        let zeroMeta: [UInt8] = [0x0a, 0x00, 0x12, 0x00, 0x1a, 0x00, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00, 0x42, 0x00]
        XCTAssertEqual(Array(empty.prefix(2 + zeroMeta.count)), [0x0a, UInt8(zeroMeta.count)] + zeroMeta)
        try assertSameJSON(.object(try ProtobufDecoder.decodeObject(try ProtobufEncoder.encodeObject(JSONObject(), as: try type(core + "Pod"),
                                                                                                     apiVersion: "v1", kind: "Pod", in: schema), in: schema)),
                           #"{"kind":"Pod","apiVersion":"v1","metadata":{},"spec":{},"status":{}}"#)
    }

    func testEncodesIntOrStringExactly() throws {
        let port = try type(core + "ServicePort")
        let prefix: [UInt8] = [0x0a, 0x00, 0x12, 0x00, 0x18, 0x50]         // name "", protocol "", port 80
        XCTAssertEqual(try ProtobufEncoder.encodeMessage(try object(#"{"port":80,"targetPort":"http"}"#), as: port, in: schema),
                       prefix + [0x22, 0x0a, 0x08, 0x01, 0x10, 0x00, 0x1a, 0x04, 0x68, 0x74, 0x74, 0x70, 0x28, 0x00])
        XCTAssertEqual(try ProtobufEncoder.encodeMessage(try object(#"{"port":80,"targetPort":8080}"#), as: port, in: schema),
                       prefix + [0x22, 0x07, 0x08, 0x00, 0x10, 0x90, 0x3f, 0x1a, 0x00, 0x28, 0x00])
        XCTAssertEqual(try ProtobufEncoder.encodeMessage(try object(#"{"port":80}"#), as: port, in: schema),
                       prefix + [0x22, 0x06, 0x08, 0x00, 0x10, 0x00, 0x1a, 0x00, 0x28, 0x00])
        // A pointer IntOrString (maxSurge) only when set.
        let rolling = try type(apps + "RollingUpdateDeployment")
        XCTAssertEqual(try ProtobufEncoder.encodeMessage(JSONObject(), as: rolling, in: schema), [])
    }

    func testEncodesTimesExactly() throws {
        let objectMeta = try type(meta + "ObjectMeta")
        let strings: [UInt8] = [0x0a, 0x00, 0x12, 0x00, 0x1a, 0x00, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00]
        let timestamp: [UInt8] = [0x08, 0xa8, 0xfc, 0xb7, 0xd8, 0x06, 0x10, 0x00]   // seconds, nanos 0
        // Time drops the fraction (time_proto.go leaves Nanos out); a pointer Time is written when set.
        XCTAssertEqual(try ProtobufEncoder.encodeMessage(
            try object(#"{"creationTimestamp":"2026-11-30T22:52:24.5Z","deletionTimestamp":"2026-11-30T23:52:24+01:00"}"#), as: objectMeta, in: schema),
            strings + [0x42, 0x08] + timestamp + [0x4a, 0x08] + timestamp)
        // Go's zero time writes nothing; the epoch is a time like any other.
        XCTAssertEqual(try ProtobufEncoder.encodeMessage(try object(#"{"creationTimestamp":"0001-01-01T00:00:00Z"}"#), as: objectMeta, in: schema),
                       strings + [0x42, 0x00])
        XCTAssertEqual(try ProtobufEncoder.encodeMessage(try object(#"{"creationTimestamp":"1970-01-01T00:00:00Z"}"#), as: objectMeta, in: schema),
                       strings + [0x42, 0x04, 0x08, 0x00, 0x10, 0x00])
        // MicroTime keeps microseconds (nanoseconds truncated).
        let event = try ProtobufEncoder.encodeMessage(try object(#"{"eventTime":"2026-11-30T22:52:24.123456789Z"}"#), as: try type(core + "Event"), in: schema)
        XCTAssertTrue(event.contains(subsequence: [0x52, 0x0b, 0x08, 0xa8, 0xfc, 0xb7, 0xd8, 0x06, 0x10, 0x80, 0x94, 0xef, 0x3a]), "\(event)")
        let decoded = try ProtobufDecoder.decode(event[...], as: try type(core + "Event"), in: schema)
        XCTAssertEqual(decoded["eventTime"], .string("2026-11-30T22:52:24.123456Z"))
    }

    func testEncodesNegativeIntsSortedMapsAndUnpackedLists() throws {
        // int32 -1: Go converts to uint64, ten bytes.
        XCTAssertEqual(try ProtobufEncoder.encodeMessage(try object(#"{"hostPort":-1,"containerPort":80}"#), as: try type(core + "ContainerPort"), in: schema),
                       [0x0a, 0x00, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x18, 0x50, 0x22, 0x00, 0x2a, 0x00])
        // Map entries in Go string (byte) order, each {1: key, 2: value}.
        let labels = try ProtobufEncoder.encodeMessage(try object(#"{"labels":{"b":"2","a":"1","B":"3"}}"#), as: try type(meta + "ObjectMeta"), in: schema)
        XCTAssertEqual(Array(labels.suffix(24)), [0x5a, 0x06, 0x0a, 0x01, 0x42, 0x12, 0x01, 0x33,
                                                  0x5a, 0x06, 0x0a, 0x01, 0x61, 0x12, 0x01, 0x31,
                                                  0x5a, 0x06, 0x0a, 0x01, 0x62, 0x12, 0x01, 0x32])
        // Repeated scalars are not packed; an empty list is not written.
        let security = try type(core + "PodSecurityContext")
        XCTAssertEqual(try ProtobufEncoder.encodeMessage(try object(#"{"supplementalGroups":[1,-2]}"#), as: security, in: schema),
                       [0x20, 0x01, 0x20, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])
        XCTAssertEqual(try ProtobufEncoder.encodeMessage(try object(#"{"supplementalGroups":[],"runAsUser":null}"#), as: security, in: schema), [])
        // A pointer zero is written.
        XCTAssertEqual(try ProtobufEncoder.encodeMessage(try object(#"{"runAsUser":0,"runAsNonRoot":false}"#), as: security, in: schema),
                       [0x10, 0x00, 0x18, 0x00])
        // Quantity: its string; a bytes map value: the decoded bytes.
        let limits = try ProtobufEncoder.encodeMessage(try object(#"{"limits":{"cpu":"500m"}}"#), as: try type(core + "ResourceRequirements"), in: schema)
        XCTAssertEqual(limits, [0x0a, 0x0d, 0x0a, 0x03] + Array("cpu".utf8) + [0x12, 0x06, 0x0a, 0x04] + Array("500m".utf8))
        let secret = try ProtobufEncoder.encodeMessage(try object(#"{"data":{"k":"AP8B","e":""}}"#), as: try type(core + "Secret"), in: schema)
        XCTAssertTrue(secret.contains(subsequence: [0x12, 0x05, 0x0a, 0x01, 0x65, 0x12, 0x00, 0x12, 0x08, 0x0a, 0x01, 0x6b, 0x12, 0x03, 0x00, 0xff, 0x01]), "\(secret)")
    }

    func testEncodesLongMessagesWithWideLengths() throws {
        let long = String(repeating: "x", count: 300)
        let huge = String(repeating: "y", count: 20_000)
        let configMap = try object(#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big","annotations":{"a":"\#(long)"}},"data":{"big":"\#(huge)","small":"s"}}"#)
        let body = try ProtobufEncoder.encodeObject(configMap, in: schema)
        // The same message through the hand builder, which knows each length before writing it.
        let metadata = Proto().string(1, "big").string(2, "").string(3, "").string(4, "").string(5, "").string(6, "").int(7, 0)
            .message(8, Proto()).message(12, entry("a", long))
        XCTAssertEqual(body, envelope("v1", "ConfigMap", Proto().message(1, metadata).message(2, entry("big", huge)).message(2, entry("small", "s"))))
        try assertSameJSON(.object(try ProtobufDecoder.decodeObject(body, in: schema)), .object(configMap))
    }

    func testEncodesAFieldsV1AndRawExtensionAsJSONText() throws {
        let entry = try ProtobufEncoder.encodeMessage(try object(#"{"manager":"m","fieldsType":"FieldsV1","fieldsV1":{"f:data":{".":{}}}}"#),
                                                      as: try type(meta + "ManagedFieldsEntry"), in: schema)
        let json = Array(#"{"f:data":{".":{}}}"#.utf8)
        XCTAssertTrue(entry.contains(subsequence: [0x3a, UInt8(json.count + 2), 0x0a, UInt8(json.count)] + json))
        let watchEvent = try type(meta + "WatchEvent")
        let event = try ProtobufEncoder.encodeMessage(try object(#"{"type":"ADDED","object":{"kind":"Pod","metadata":{"name":"x"}}}"#), as: watchEvent, in: schema)
        XCTAssertEqual(event, Proto().string(1, "ADDED").message(2, Proto().string(1, #"{"kind":"Pod","metadata":{"name":"x"}}"#)).data)
        XCTAssertEqual(try ProtobufDecoder.decode(event[...], as: watchEvent, in: schema)["object"],
                       try parse(#"{"kind":"Pod","metadata":{"name":"x"}}"#))
        // A non-pointer raw extension that is absent: an empty message.
        XCTAssertEqual(try ProtobufEncoder.encodeMessage(try object(#"{"type":"DELETED"}"#), as: watchEvent, in: schema),
                       Proto().string(1, "DELETED").message(2, Proto()).data)
    }

    func testDropsMembersTheSchemaDoesNotKnow() throws {
        let configMap = try type(core + "ConfigMap")
        let plain = try ProtobufEncoder.encodeMessage(try object(#"{"metadata":{"name":"a"},"data":{"k":"v"}}"#), as: configMap, in: schema)
        let extra = try ProtobufEncoder.encodeMessage(try object(#"{"kind":"ConfigMap","metadata":{"name":"a","colour":"red"},"data":{"k":"v"},"extra":[1,2]}"#),
                                                      as: configMap, in: schema)
        XCTAssertEqual(extra, plain)
    }

    func testEncodingErrorsNameThePath() throws {
        func failure(_ json: String, as typeName: String) throws -> String {
            do {
                _ = try ProtobufEncoder.encodeMessage(try object(json), as: try type(typeName), in: schema)
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertEqual(try failure(#"{"spec":{"containers":[{"name":"c","ports":"80"}]}}"#, as: core + "Pod"),
                       "spec.containers[0].ports: expected an array")
        XCTAssertEqual(try failure(#"{"spec":"x"}"#, as: core + "Pod"), "spec: expected an object")
        XCTAssertEqual(try failure(#"{"spec":{"replicas":1.5}}"#, as: apps + "Deployment"), "spec.replicas: 1.5 is not an integer (int32)")
        XCTAssertEqual(try failure(#"{"spec":{"replicas":3000000000}}"#, as: apps + "Deployment"), "spec.replicas: 3000000000 is out of range for int32")
        XCTAssertEqual(try failure(#"{"spec":{"replicas":"3"}}"#, as: apps + "Deployment"), "spec.replicas: expected an integer")
        XCTAssertEqual(try failure(#"{"metadata":{"generation":1e3}}"#, as: core + "Pod"), "metadata.generation: 1e3 is not an integer (int64)")
        XCTAssertEqual(try failure(#"{"metadata":{"labels":{"app":1}}}"#, as: core + "Pod"), "metadata.labels[app]: expected a string")
        XCTAssertEqual(try failure(#"{"data":{"k":"not base64!"}}"#, as: core + "Secret"), #"data[k]: "not base64!" is not base64"#)
        XCTAssertEqual(try failure(#"{"metadata":{"creationTimestamp":"yesterday"}}"#, as: core + "Pod"),
                       #"metadata.creationTimestamp: "yesterday" is not an RFC 3339 time"#)
        XCTAssertEqual(try failure(#"{"spec":{"volumes":[{"name":"v","configMap":{"defaultMode":"420"}}]}}"#, as: core + "Pod"),
                       "spec.volumes[0].configMap.defaultMode: expected an integer")
        XCTAssertEqual(try failure(#"{"spec":{"ports":[{"port":80,"targetPort":true}]}}"#, as: core + "Service"),
                       "spec.ports[0].targetPort: expected an integer or a string")
        XCTAssertEqual(try failure(#"{"spec":{"containers":[{"name":"c","resources":{"limits":{"cpu":[1]}}}]}}"#, as: core + "Pod"),
                       "spec.containers[0].resources.limits[cpu]: expected a quantity (a string or a number)")
        XCTAssertEqual(try failure(#"{"spec":{"containers":[{"name":"c","stdin":"yes"}]}}"#, as: core + "Pod"),
                       "spec.containers[0].stdin: expected a boolean")
    }

    // MARK: Scalars the built-in kinds do not use

    func testDoubleFloatDurationAndBytes() throws {
        let custom = try APISchema(json: Array(#"""
            {"types":{"test.Sample":{"fields":[
              {"name":"ratio","number":1,"type":"double"},
              {"name":"weight","number":2,"type":"float"},
              {"name":"timeout","number":3,"type":"io.k8s.apimachinery.pkg.apis.meta.v1.Duration"},
              {"name":"blob","number":4,"type":"bytes","omitEmpty":true},
              {"name":"counts","number":5,"type":"int32","list":true,"omitEmpty":true},
              {"name":"ratios","number":6,"type":"double","list":true,"omitEmpty":true}]}},
             "kinds":[]}
            """#.utf8))
        let sample = try XCTUnwrap(custom["test.Sample"])
        let json = #"{"ratio":0.5,"weight":1.25,"timeout":"1m30s","blob":"AP8B","counts":[1,-2],"ratios":[1.5,2]}"#
        let bytes = try ProtobufEncoder.encodeMessage(try object(json), as: sample, in: custom)
        XCTAssertEqual(bytes, Proto().fixed64(1, (0.5 as Double).bitPattern).fixed32(2, (1.25 as Float).bitPattern)
            .message(3, Proto().int(1, 90_000_000_000)).bytes(4, [0, 255, 1]).int(5, 1).int(5, -2)
            .fixed64(6, (1.5 as Double).bitPattern).fixed64(6, (2 as Double).bitPattern).data)
        try assertSameJSON(.object(try ProtobufDecoder.decode(bytes[...], as: sample, in: custom)), json)
        // Packed doubles decode too.
        let packed = Proto().bytes(6, [(1.5 as Double).bitPattern, (2 as Double).bitPattern].flatMap { v in (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } })
        XCTAssertEqual(try ProtobufDecoder.decode(packed.slice, as: sample, in: custom)["ratios"], .array([.number("1.5"), .number("2")]))
        // Zero values: the non-pointer scalars and the Duration are written, a nil []byte is not.
        let zero = try ProtobufEncoder.encodeMessage(JSONObject(), as: sample, in: custom)
        XCTAssertEqual(zero, Proto().fixed64(1, 0).fixed32(2, 0).message(3, Proto().int(1, 0)).data)
        try assertSameJSON(.object(try ProtobufDecoder.decode(zero[...], as: sample, in: custom)), #"{"ratio":0,"weight":0,"timeout":"0s"}"#)
        XCTAssertThrowsError(try ProtobufEncoder.encodeMessage(try object(#"{"timeout":"soon"}"#), as: sample, in: custom)) { error in
            XCTAssertEqual("\(error)", #"timeout: "soon" is not a duration"#)
        }
    }

    // MARK: Round trips

    func testRoundTripsAPod() throws {
        try assertRoundTrip(#"""
            {"kind":"Pod","apiVersion":"v1",
             "metadata":{"name":"web-7d4b9c-x2x4q","generateName":"web-7d4b9c-","namespace":"default","uid":"0f6c1a9e-2f0b-4bb5-9a8e-3c1d2e4f5a6b",
               "resourceVersion":"123456","creationTimestamp":"2026-11-30T22:52:24Z",
               "labels":{"app":"web","pod-template-hash":"7d4b9c"},
               "annotations":{"kubectl.kubernetes.io/restartedAt":"2026-11-30T22:50:00Z","note":"caf\u00e9 \"quoted\"\n"},
               "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-7d4b9c","uid":"8a1b2c3d-0000-4000-8000-000000000001","controller":true,"blockOwnerDeletion":true}],
               "finalizers":["example.com/cleanup"],
               "managedFields":[{"manager":"kube-controller-manager","operation":"Update","apiVersion":"v1","time":"2026-11-30T22:52:24Z",
                                 "fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:generateName":{},"f:labels":{".":{},"f:app":{}}}}}]},
             "spec":{
               "volumes":[{"name":"config","configMap":{"name":"web-config","items":[{"key":"nginx.conf","path":"nginx.conf"}],"defaultMode":420}},
                          {"name":"cache","emptyDir":{"medium":"Memory","sizeLimit":"64Mi"}},
                          {"name":"token","secret":{"secretName":"web-token","optional":false}}],
               "containers":[{"name":"app","image":"nginx:1.27","command":["nginx"],"args":["-g","daemon off;"],
                 "ports":[{"name":"http","containerPort":8080,"protocol":"TCP"},{"containerPort":9090,"hostPort":19090,"protocol":"UDP"}],
                 "env":[{"name":"MODE","value":"prod"},{"name":"POD_NAME","valueFrom":{"fieldRef":{"apiVersion":"v1","fieldPath":"metadata.name"}}},
                        {"name":"EMPTY"}],
                 "resources":{"limits":{"cpu":"500m","memory":"128Mi"},"requests":{"cpu":"250m","memory":"64Mi"}},
                 "volumeMounts":[{"name":"config","readOnly":true,"mountPath":"/etc/nginx"},{"name":"cache","mountPath":"/var/cache/nginx"}],
                 "livenessProbe":{"httpGet":{"path":"/healthz","port":8080,"scheme":"HTTP"},"initialDelaySeconds":3,"timeoutSeconds":1,"periodSeconds":10,"successThreshold":1,"failureThreshold":3},
                 "readinessProbe":{"tcpSocket":{"port":"http"},"timeoutSeconds":1,"periodSeconds":5,"successThreshold":1,"failureThreshold":3},
                 "terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent",
                 "securityContext":{"runAsNonRoot":true,"readOnlyRootFilesystem":true,"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}],
               "restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst",
               "nodeSelector":{"kubernetes.io/os":"linux"},"serviceAccountName":"web","serviceAccount":"web","nodeName":"node-1",
               "securityContext":{"runAsUser":1000,"runAsGroup":3000,"fsGroup":2000,"supplementalGroups":[4000,5000]},
               "schedulerName":"default-scheduler",
               "tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}],
               "priority":0,"enableServiceLinks":true,"preemptionPolicy":"PreemptLowerPriority"},
             "status":{"phase":"Running",
               "conditions":[{"type":"Ready","status":"True","lastTransitionTime":"2026-11-30T22:52:30Z"},
                             {"type":"PodScheduled","status":"True","lastTransitionTime":"2026-11-30T22:52:24Z"}],
               "hostIP":"10.0.0.1","hostIPs":[{"ip":"10.0.0.1"}],"podIP":"10.1.0.5","podIPs":[{"ip":"10.1.0.5"}],"startTime":"2026-11-30T22:52:24Z",
               "containerStatuses":[{"name":"app","state":{"running":{"startedAt":"2026-11-30T22:52:29Z"}},"lastState":{},"ready":true,"restartCount":0,
                                     "image":"docker.io/library/nginx:1.27","imageID":"docker.io/library/nginx@sha256:0123abcd","containerID":"containerd://abc123","started":true}],
               "qosClass":"Burstable"}}
            """#)
    }

    func testRoundTripsADeployment() throws {
        try assertRoundTrip(#"""
            {"kind":"Deployment","apiVersion":"apps/v1",
             "metadata":{"name":"web","namespace":"default","uid":"u-1","resourceVersion":"99","generation":3,"creationTimestamp":"2026-11-30T22:52:24Z",
               "labels":{"app":"web"},"annotations":{"deployment.kubernetes.io/revision":"2"}},
             "spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"},"matchExpressions":[{"key":"tier","operator":"In","values":["front","edge"]}]},
               "template":{"metadata":{"labels":{"app":"web"}},
                 "spec":{"containers":[{"name":"app","image":"nginx:1.27","resources":{},"terminationMessagePath":"/dev/termination-log",
                                        "terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent"}],
                         "restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","securityContext":{},
                         "schedulerName":"default-scheduler"}},
               "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"25%","maxSurge":1}},
               "minReadySeconds":5,"revisionHistoryLimit":10,"progressDeadlineSeconds":600},
             "status":{"observedGeneration":3,"replicas":3,"updatedReplicas":3,"readyReplicas":3,"availableReplicas":3,
               "conditions":[{"type":"Available","status":"True","lastUpdateTime":"2026-11-30T22:53:00Z","lastTransitionTime":"2026-11-30T22:53:00Z",
                              "reason":"MinimumReplicasAvailable","message":"Deployment has minimum availability."}]}}
            """#)
    }

    func testRoundTripsAServiceWithStringAndIntTargetPorts() throws {
        try assertRoundTrip(#"""
            {"kind":"Service","apiVersion":"v1",
             "metadata":{"name":"web","namespace":"default","creationTimestamp":"2026-11-30T22:52:24Z","labels":{"app":"web"}},
             "spec":{"ports":[{"name":"http","protocol":"TCP","port":80,"targetPort":"http","nodePort":30080},
                              {"name":"metrics","protocol":"TCP","appProtocol":"http","port":9090,"targetPort":9091,"nodePort":30090}],
               "selector":{"app":"web"},"clusterIP":"10.96.0.10","clusterIPs":["10.96.0.10"],"type":"NodePort","sessionAffinity":"None",
               "externalTrafficPolicy":"Cluster","ipFamilies":["IPv4"],"ipFamilyPolicy":"SingleStack","internalTrafficPolicy":"Cluster"},
             "status":{"loadBalancer":{}}}
            """#)
    }

    func testRoundTripsASecretAndAConfigMap() throws {
        try assertRoundTrip(#"""
            {"kind":"Secret","apiVersion":"v1",
             "metadata":{"name":"web-token","namespace":"default","creationTimestamp":"2026-11-30T22:52:24Z"},
             "data":{"password":"czNjcjN0","binary":"AP8B","empty":"","ca.crt":"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="},
             "type":"Opaque","immutable":true}
            """#)
        try assertRoundTrip(#"""
            {"kind":"ConfigMap","apiVersion":"v1",
             "metadata":{"name":"web-config","namespace":"default","uid":"u-9","resourceVersion":"7","creationTimestamp":"2026-11-30T22:52:24Z"},
             "data":{"nginx.conf":"server {\n  listen 80;\n}\n","mode":"prod","\u00fcber":"\u2603"},
             "binaryData":{"logo.png":"iVBORw0KGgo="},"immutable":false}
            """#)
    }

    func testRoundTripsAnEvent() throws {
        try assertRoundTrip(#"""
            {"kind":"Event","apiVersion":"v1","metadata":{"name":"web-0.17d","namespace":"default"},
             "involvedObject":{"kind":"Pod","namespace":"default","name":"web-0","uid":"u-1","apiVersion":"v1","resourceVersion":"5","fieldPath":"spec.containers{app}"},
             "reason":"Started","message":"Started container app","source":{"component":"kubelet","host":"node-1"},
             "firstTimestamp":"2026-11-30T22:52:24Z","lastTimestamp":"2026-11-30T22:52:29Z","count":2,"type":"Normal",
             "eventTime":"2026-11-30T22:52:24.123456Z","series":{"count":2,"lastObservedTime":"2026-11-30T22:52:29.000001Z"},
             "action":"Start","reportingComponent":"kubelet","reportingInstance":"node-1"}
            """#)
    }

    // MARK: Helpers

    /// JSON → protobuf body → JSON gives back the same members (in protobuf order, so compared sorted).
    private func assertRoundTrip(_ json: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let input = try object(json)
        let body = try ProtobufEncoder.encodeObject(input, in: schema)
        let output = try ProtobufDecoder.decodeObject(body, in: schema)
        try assertSameJSON(.object(output), .object(input), file: file, line: line)
        XCTAssertEqual(Array(output.keys.prefix(2)), ["kind", "apiVersion"], file: file, line: line)
        // Encoding the decoded object again gives the same bytes.
        XCTAssertEqual(try ProtobufEncoder.encodeObject(output, in: schema), body, file: file, line: line)
    }

    private func assertSameJSON(_ actual: JSONValue, _ expected: String, file: StaticString = #filePath, line: UInt = #line) throws {
        try assertSameJSON(actual, try parse(expected), file: file, line: line)
    }

    private func assertSameJSON(_ actual: JSONValue, _ expected: JSONValue, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(text(canonical(actual)), text(canonical(expected)), file: file, line: line)
    }

    private func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(text) }

    private func object(_ text: String) throws -> JSONObject { try JSONObject(parsing: text) }

    private func canonical(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let o): return .object(JSONObject(o.members.sorted { $0.0 < $1.0 }.map { ($0.0, canonical($0.1)) }))
        case .array(let a): return .array(a.map(canonical))
        default: return value
        }
    }

    private func text(_ value: JSONValue) -> String { String(decoding: JSONWriter.encode(value), as: UTF8.self) }

    private func time(_ seconds: Int64, _ nanos: Int64 = 0) -> Proto { Proto().int(1, seconds).int(2, nanos) }
    private func quantity(_ text: String) -> Proto { Proto().string(1, text) }
    private func entry(_ key: String, _ value: String) -> Proto { Proto().string(1, key).string(2, value) }

    /// A body as kube-apiserver frames one: `k8s\0` + runtime.Unknown.
    private func envelope(_ apiVersion: String, _ kind: String, _ raw: Proto) -> [UInt8] {
        [0x6b, 0x38, 0x73, 0x00]
            + Proto().message(1, Proto().string(1, apiVersion).string(2, kind)).message(2, raw).string(3, "").string(4, "").data
    }
}

/// A protobuf message built by hand for tests: each field appended with its length known
/// beforehand (no shared code with the encoder's writer).
private struct Proto {
    var data: [UInt8] = []

    var slice: ArraySlice<UInt8> { data[...] }

    static func varint(_ value: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        var v = value
        repeat {
            var byte = UInt8(v & 0x7f)
            v >>= 7
            if v != 0 { byte |= 0x80 }
            out.append(byte)
        } while v != 0
        return out
    }

    private func adding(_ number: Int, _ wireType: UInt64, _ payload: [UInt8]) -> Proto {
        Proto(data: data + Self.varint(UInt64(number) << 3 | wireType) + payload)
    }

    func varint(_ number: Int, _ value: UInt64) -> Proto { adding(number, 0, Self.varint(value)) }
    func int(_ number: Int, _ value: Int64) -> Proto { varint(number, UInt64(bitPattern: value)) }
    func bool(_ number: Int, _ value: Bool) -> Proto { varint(number, value ? 1 : 0) }
    func fixed64(_ number: Int, _ value: UInt64) -> Proto { adding(number, 1, (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }) }
    func fixed32(_ number: Int, _ value: UInt32) -> Proto { adding(number, 5, (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }) }
    func bytes(_ number: Int, _ value: [UInt8]) -> Proto { adding(number, 2, Self.varint(UInt64(value.count)) + value) }
    func string(_ number: Int, _ value: String) -> Proto { bytes(number, Array(value.utf8)) }
    func message(_ number: Int, _ value: Proto) -> Proto { bytes(number, value.data) }
    func packed(_ number: Int, _ values: [Int64]) -> Proto { bytes(number, values.flatMap { Self.varint(UInt64(bitPattern: $0)) }) }
}

extension Array where Element == UInt8 {
    fileprivate func contains(subsequence: [UInt8]) -> Bool {
        guard subsequence.count <= count else { return false }
        return (0...(count - subsequence.count)).contains { self[$0..<($0 + subsequence.count)].elementsEqual(subsequence) }
    }
}
