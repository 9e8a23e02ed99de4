import Testing
@testable import WatchCache

@Suite struct JSONTests {
    @Test func roundTripKeepsMemberOrderAndNumberText() throws {
        let source = #"{"b":1,"a":[true,false,null,-0.5e+10,"x"],"c":{"z":{},"y":[]},"n":12345678901234567890}"#
        let value = try JSONParser.parse(source)
        #expect(text(JSONWriter.encode(value)) == source)
    }

    @Test func repeatedMembersAreReportedByPath() throws {
        var duplicates: [String] = []
        let value = try JSONParser.parse(Array(#"{"a":1,"b":[{"c":1,"c":2},{"d":{"e":1,"e":3}}],"a":4}"#.utf8), duplicateMembers: &duplicates)
        #expect(duplicates == ["b[0].c", "b[1].d.e", "a"])
        // The last value wins, as without the report.
        #expect(value == (try JSONParser.parse(#"{"a":4,"b":[{"c":2},{"d":{"e":3}}]}"#)))
        var none: [String] = []
        _ = try JSONParser.parse(Array(#"[{"a":1},{"a":2}]"#.utf8), duplicateMembers: &none)
        #expect(none.isEmpty)
    }

    @Test func whitespaceIsInsignificant() throws {
        let value = try JSONParser.parse(" { \"a\" :\n[ 1 , 2 ] }\t")
        #expect(text(JSONWriter.encode(value)) == #"{"a":[1,2]}"#)
    }

    @Test func escapesAreDecodedAndReencoded() throws {
        let value = try JSONParser.parse(#""a\"b\\c\/d\n\u00e9\ud83d\ude00\u0001""#)
        #expect(value == .string("a\"b\\c/d\né😀\u{1}"))
        #expect(text(JSONWriter.encode(value)) == #""a\"b\\c/d\né😀\u0001""#)
    }

    @Test(arguments: [
        ("", "unexpected end of input"), ("{", "expected a member name"), ("[1,]", "unexpected character ']'"),
        ("01", "leading zero in number"), ("{\"a\" 1}", "expected ':'"), ("\"\\ud800\"", "lone surrogate in string"),
        ("tru", "unexpected end of input"), ("1 2", "unexpected data after the document"), ("\"a\nb\"", "control character in string"),
        ("\"\\x\"", "invalid escape"), ("-", "invalid number"), ("1.", "invalid fraction"), ("1e", "invalid exponent"),
    ])
    func malformedInputIsRefusedWithAReason(input: String, reason: String) {
        #expect(throws: JSONError.self) { try JSONParser.parse(input) }
        do { _ = try JSONParser.parse(input) } catch { #expect(error.reason == reason) }
    }

    @Test func deepNestingIsRefusedNotACrash() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONError.self) { try JSONParser.parse(deep) }
        let ok = String(repeating: "[", count: JSONParser.maximumDepth) + String(repeating: "]", count: JSONParser.maximumDepth)
        #expect(throws: Never.self) { try JSONParser.parse(ok) }
    }

    @Test func invalidUTF8IsRefused() {
        #expect(throws: JSONError.self) { try JSONParser.parse([0x22, 0xFF, 0x22]) }
    }

    @Test func aSparseParseBuildsOnlyTheSelectedMembers() throws {
        let document = #"{"kind":"Pod","metadata":{"name":"p","annotations":{"a":"b"},"labels":{"app":"x"},"managedFields":[{"f":1}]},"#
            + #""spec":{"containers":[{"name":"c","image":"i"}],"nodeName":"n1"},"status":{"phase":"Running","x":[1,2,{"y":null}]}}"#
        let selection = JSONMemberSelection(paths: [["metadata", "name"], ["metadata", "labels"], ["spec", "nodeName"], ["status", "missing"]])
        let sparse = try JSONParser.parse(Array(document.utf8), keeping: selection)
        #expect(sparse == (try JSONParser.parse(#"{"metadata":{"name":"p","labels":{"app":"x"}},"spec":{"nodeName":"n1"},"status":{}}"#)))
        // A path that is a prefix of another keeps its whole value, in either order.
        for paths in [[["spec"], ["spec", "nodeName"]], [["spec", "nodeName"], ["spec"]]] {
            let whole = try JSONParser.parse(Array(document.utf8), keeping: JSONMemberSelection(paths: paths))
            #expect(whole["spec"] == (try JSONParser.parse(document))["spec"])
        }
        // A selected member that is not an object is kept as it is.
        let null = try JSONParser.parse(Array(#"{"spec":null,"other":[1]}"#.utf8), keeping: selection)
        #expect(null == (try JSONParser.parse(#"{"spec":null}"#)))
    }

    @Test(arguments: ["{", "[1,]", "01", "{\"a\" 1}", "\"\\ud800\"", "tru", "\"a\nb\"", "\"\\x\"", "-", "1.", "1e", "[1 2]", "{\"a\":1,}"])
    func aSparseParseRefusesMalformedSkippedValues(value: String) {
        let document = #"{"metadata":{"name":"p"},"skipped":"# + value + "}"
        let selection = JSONMemberSelection(paths: [["metadata", "name"]])
        #expect(throws: JSONError.self) { try JSONParser.parse(Array(document.utf8), keeping: selection) }
        #expect(throws: JSONError.self) { try JSONParser.parse(document) }
        #expect(throws: JSONError.self) { try JSONParser.parse(Array(#"{"skipped":"\#u{1}"}"#.utf8), keeping: selection) }
        #expect(throws: JSONError.self) { try JSONParser.parse([0x7B, 0x22, 0x73, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D], keeping: selection) }
        let deep = "{\"s\":" + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}"
        #expect(throws: JSONError.self) { try JSONParser.parse(Array(deep.utf8), keeping: selection) }
    }

    @Test func storedBytesDescribeAnObjectAsAFullParseDoes() throws {
        let bytes = Array((#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"ns","uid":"u1","resourceVersion":"42","#
            + #""generation":3,"deletionTimestamp":"2026-01-01T00:00:00Z","labels":{"app":"x","tier":"db"},"annotations":{"k":"v"}},"#
            + #""spec":{"nodeName":"n1","containers":[{"name":"c","image":"i"}]},"status":{"phase":"Running"}}"#).utf8)
        let stored = try KubeObject(storedBytes: bytes, resource: .pods)
        let full = try KubeObject(bytes: bytes, resource: .pods)
        #expect(stored.key == full.key && stored.uid == full.uid && stored.resourceVersion == full.resourceVersion)
        #expect(stored.labels == full.labels && stored.generation == full.generation && stored.deletionTimestamp == full.deletionTimestamp)
        #expect(stored.fieldValues == full.fieldValues && stored.fieldSignature == full.fieldSignature)
        #expect(stored.fieldValue("spec.nodeName") == "n1" && stored.fieldValue("status.phase") == "Running")
        #expect(stored.encoded == bytes && JSONValue.object(stored.json) == JSONValue.object(full.json))
    }

    @Test func pathsAndFieldText() throws {
        let value = try JSONParser.parse(#"{"spec":{"nodeName":"n1","hostNetwork":true,"n":3},"status":{"phase":null}}"#)
        #expect(value.value(atPath: "spec.nodeName")?.fieldText == "n1")
        #expect(value.value(atPath: "spec.hostNetwork")?.fieldText == "true")
        #expect(value.value(atPath: "spec.n")?.fieldText == "3")
        #expect(value.value(atPath: "status.phase")?.fieldText == "")
        #expect(value.value(atPath: "spec.missing") == nil)
    }

    @Test func objectMembersReplaceAppendAndRemove() {
        var o = JSONObject([("a", .number("1")), ("b", .number("2"))])
        o["a"] = .number("3")
        o["c"] = .null
        o["b"] = nil
        #expect(o.keys == ["a", "c"])
        #expect(text(JSONWriter.encode(.object(o))) == #"{"a":3,"c":null}"#)
    }

    @Test func memberScanFindsAValueWhereverItIs() {
        func found(_ json: String, _ path: [String]) -> String? {
            let bytes = Array(json.utf8)
            return JSONMemberScan.valueRange(at: path, in: bytes).map { String(decoding: bytes[$0], as: UTF8.self) }
        }
        let path = ["metadata", "resourceVersion"]
        #expect(found(#"{"metadata":{"resourceVersion":"0"}}"#, path) == #""0""#)
        // Skipped on the way: strings with escaped quotes and the name itself inside them, nested
        // objects and arrays holding the same member name, numbers and literals.
        let tricky = #"{"kind":"a\"resourceVersion\":\"9","spec":{"resourceVersion":"8","x":[1,{"y":"}"}]},"# +
            #""n":-1.5e3,"t":true,"metadata":{"labels":{"resourceVersion":"7"},"name":"p","resourceVersion":"12","z":null}}"#
        #expect(found(tricky, path) == #""12""#)
        #expect(found(tricky, ["spec", "resourceVersion"]) == #""8""#)
        #expect(found(tricky, ["n"]) == "-1.5e3")
        #expect(found(tricky, ["metadata", "z"]) == "null")
        #expect(found(#"{"metadata":{"name":"p"}}"#, path) == nil)
        #expect(found(#"{"metadata":"x"}"#, path) == nil)
        #expect(found(#"{"metadata":{}}"#, path) == nil)
        #expect(found(#"{"metadata":{"resourceVersion":"1""#, path) == nil)  // the object never ends
        #expect(found(#"{"metadata":{"resourceVersion":"#, path) == nil)
        #expect(found(#"{"metadata":{"resourceVersion":"1"#, path) == nil)
        #expect(found("", path) == nil)
    }

    @Test func aNewVersionInPlaceGivesTheBytesAReEncodingWould() throws {
        let pod = try KubeObject(json: JSONObject([
            ("kind", .string("Pod")),
            ("metadata", .object(JSONObject([("name", .string("p")), ("namespace", .string("ns")),
                                             ("labels", .object(JSONObject([("resourceVersion", .string("x"))]))),
                                             ("resourceVersion", .string("0"))]))),
            ("spec", .object(JSONObject([("nodeName", .string("n1"))]))),
        ]), resource: .pods)
        let moved = pod.withResourceVersion(ResourceVersion(123_456))
        #expect(text(moved.encoded) == #"{"kind":"Pod","metadata":{"name":"p","namespace":"ns","labels":{"resourceVersion":"x"},"resourceVersion":"123456"},"spec":{"nodeName":"n1"}}"#)
        #expect(moved.resourceVersion == ResourceVersion(123_456))
        #expect(moved.key == pod.key && moved.labels == pod.labels && moved.fieldValue("spec.nodeName") == "n1")
        // Without a version in its bytes the object is re-encoded with one.
        let bare = try KubeObject(json: JSONObject([("metadata", .object(JSONObject([("name", .string("q"))])))]), resource: .configMaps)
        #expect(text(bare.withResourceVersion(ResourceVersion(7)).encoded) == #"{"metadata":{"name":"q","resourceVersion":"7"}}"#)
    }
}
