import WatchCache
@testable import WatchCacheSchema
import XCTest

/// Strategic merge patch on pods and deployments, each expected result written from the semantics
/// kube-apiserver applies (apimachinery's `strategicpatch` with the types' patch tags).
final class StrategicMergePatchTests: XCTestCase {
    private func object(_ text: String) throws -> JSONObject {
        guard case .object(let object) = try JSONParser.parse(text) else {
            XCTFail("not an object: \(text)")
            return JSONObject()
        }
        return object
    }

    private func patched(_ original: String, _ patch: String, type: String = "io.k8s.api.core.v1.Pod") throws -> JSONValue {
        let schema = APISchema.builtIn
        let message = try XCTUnwrap(schema[type])
        return .object(try StrategicMergePatch.apply(try JSONParser.parse(patch), to: try object(original), type: message, in: schema))
    }

    private func assertPatch(_ original: String, _ patch: String, _ expected: String, type: String = "io.k8s.api.core.v1.Pod",
                             file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try patched(original, patch, type: type)
        XCTAssertEqual(JSONWriter.text(result), JSONWriter.text(try JSONParser.parse(expected)), file: file, line: line)
    }

    private func assertFails(_ original: String, _ patch: String, _ message: String, kind: PatchError.Kind = .badRequest,
                             file: StaticString = #filePath, line: UInt = #line) throws {
        do {
            _ = try patched(original, patch)
            XCTFail("the patch applied", file: file, line: line)
        } catch let error as PatchError {
            XCTAssertEqual(error.message, message, file: file, line: line)
            XCTAssertEqual(error.kind, kind, file: file, line: line)
        }
    }

    // MARK: Lists merged by key

    func testContainerMergesByNameKeepingOtherFields() throws {
        // `kubectl apply` after changing the image: the container's ports stay.
        try assertPatch(
            #"{"spec":{"containers":[{"name":"a","image":"nginx:1","ports":[{"containerPort":80}]}]}}"#,
            #"{"spec":{"$setElementOrder/containers":[{"name":"a"}],"containers":[{"image":"nginx:2","name":"a"}]}}"#,
            #"{"spec":{"containers":[{"name":"a","image":"nginx:2","ports":[{"containerPort":80}]}]}}"#)
    }

    func testPatchingOneContainerKeepsTheOthers() throws {
        try assertPatch(
            #"{"spec":{"containers":[{"name":"a","image":"x:1","ports":[{"containerPort":80}]},{"name":"b","image":"y:1"}]}}"#,
            #"{"spec":{"containers":[{"name":"b","image":"y:2"}]}}"#,
            #"{"spec":{"containers":[{"name":"a","image":"x:1","ports":[{"containerPort":80}]},{"name":"b","image":"y:2"}]}}"#)
    }

    func testNewElementsComeBeforeServerOnlyOnesWithoutAnOrder() throws {
        // Elements the patch adds have no place in the live list: they go first.
        try assertPatch(
            #"{"spec":{"containers":[{"name":"a"}]}}"#,
            #"{"spec":{"containers":[{"name":"b"}]}}"#,
            #"{"spec":{"containers":[{"name":"b"},{"name":"a"}]}}"#)
    }

    func testNestedListsMergeByTheirOwnKeys() throws {
        // env by name, ports by containerPort, volumeMounts by mountPath.
        try assertPatch(
            #"{"spec":{"containers":[{"name":"a","env":[{"name":"X","value":"1"},{"name":"Y","value":"2"}],"ports":[{"containerPort":80,"name":"http"}],"volumeMounts":[{"name":"v","mountPath":"/d"}]}]}}"#,
            #"{"spec":{"containers":[{"name":"a","env":[{"name":"Y","value":"3"}],"ports":[{"containerPort":80,"protocol":"TCP"}],"volumeMounts":[{"name":"w","mountPath":"/d"}]}]}}"#,
            #"{"spec":{"containers":[{"name":"a","env":[{"name":"X","value":"1"},{"name":"Y","value":"3"}],"ports":[{"containerPort":80,"name":"http","protocol":"TCP"}],"volumeMounts":[{"name":"w","mountPath":"/d"}]}]}}"#)
    }

    func testListsWithoutMergeStrategyAreReplaced() throws {
        // A container's `args` is atomic.
        try assertPatch(
            #"{"spec":{"containers":[{"name":"a","args":["1","2"]}]}}"#,
            #"{"spec":{"containers":[{"name":"a","args":["3"]}]}}"#,
            #"{"spec":{"containers":[{"name":"a","args":["3"]}]}}"#)
    }

    func testMissingMergeKeyIsAnError() throws {
        try assertFails(#"{"spec":{"containers":[{"name":"a"}]}}"#, #"{"spec":{"containers":[{"image":"x"}]}}"#,
                        #"map: {"image":"x"} does not contain declared merge key: name"#)
    }

    // MARK: $patch

    func testDeleteDirectiveInAListRemovesTheElement() throws {
        try assertPatch(
            #"{"spec":{"containers":[{"name":"a"},{"name":"b"},{"name":"c"}]}}"#,
            #"{"spec":{"containers":[{"name":"b","$patch":"delete"}]}}"#,
            #"{"spec":{"containers":[{"name":"a"},{"name":"c"}]}}"#)
    }

    func testReplaceDirectiveInAListReplacesIt() throws {
        try assertPatch(
            #"{"spec":{"containers":[{"name":"a","image":"x"},{"name":"b"}]}}"#,
            #"{"spec":{"containers":[{"name":"c"},{"$patch":"replace"}]}}"#,
            #"{"spec":{"containers":[{"name":"c"}]}}"#)
    }

    func testMergeDirectiveInAListIsRejected() throws {
        try assertFails(#"{"spec":{"containers":[{"name":"a"}]}}"#, #"{"spec":{"containers":[{"name":"a","$patch":"merge"}]}}"#,
                        "merging lists cannot yet be specified in the patch")
    }

    func testReplaceDirectiveInAnObjectReplacesIt() throws {
        try assertPatch(
            #"{"metadata":{"labels":{"a":"1","b":"2"}}}"#,
            #"{"metadata":{"labels":{"$patch":"replace","c":"3"}}}"#,
            #"{"metadata":{"labels":{"c":"3"}}}"#)
    }

    func testDeleteDirectiveInAnObjectEmptiesIt() throws {
        try assertPatch(
            #"{"metadata":{"name":"p"},"spec":{"nodeSelector":{"a":"1"}}}"#,
            #"{"spec":{"nodeSelector":{"$patch":"delete"}}}"#,
            #"{"metadata":{"name":"p"},"spec":{"nodeSelector":{}}}"#)
    }

    func testUnknownDirectiveIsAnError() throws {
        try assertFails(#"{"metadata":{}}"#, #"{"metadata":{"$patch":"shuffle"}}"#,
                        #"unknown patch type: "shuffle" in map: {"$patch":"shuffle"}"#)
    }

    func testDirectivesOnNewValuesAreDropped() throws {
        // A member the original lacks takes the patch's value without its directives.
        try assertPatch(
            #"{"spec":{}}"#,
            #"{"spec":{"containers":[{"name":"a","env":[{"name":"X","$patch":"delete"}],"$setElementOrder/env":[{"name":"X"}]}]}}"#,
            #"{"spec":{"containers":[{"name":"a","env":[]}]}}"#)
    }

    // MARK: null

    func testNullDeletesAndNewNullsAreDiscarded() throws {
        try assertPatch(
            #"{"metadata":{"labels":{"a":"1","b":"2"}}}"#,
            #"{"metadata":{"labels":{"a":null},"annotations":{"x":null,"y":"1"}}}"#,
            #"{"metadata":{"labels":{"b":"2"},"annotations":{"y":"1"}}}"#)
    }

    // MARK: $retainKeys

    func testRetainKeysClearsTheOtherMembersOfAUnion() throws {
        // Volumes merge by name with `retainKeys`: switching the source clears the old one.
        try assertPatch(
            #"{"spec":{"volumes":[{"name":"v","emptyDir":{}}]}}"#,
            #"{"spec":{"volumes":[{"name":"v","hostPath":{"path":"/x"},"$retainKeys":["hostPath","name"]}]}}"#,
            #"{"spec":{"volumes":[{"name":"v","hostPath":{"path":"/x"}}]}}"#)
    }

    func testRetainKeysMustNameEveryPatchedMember() throws {
        try assertFails(#"{"spec":{"volumes":[{"name":"v","emptyDir":{}}]}}"#,
                        #"{"spec":{"volumes":[{"name":"v","hostPath":{"path":"/x"},"$retainKeys":["name"]}]}}"#,
                        "invalid patch format of retainKeys")
    }

    func testRetainKeysMustBeAList() throws {
        try assertFails(#"{"spec":{"strategy":{}}}"#, #"{"spec":{"$retainKeys":"x"}}"#, "invalid patch format of retainKeys")
    }

    func testDeploymentStrategyRetainKeys() throws {
        // Switching a deployment to Recreate drops rollingUpdate.
        try assertPatch(
            #"{"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%"}}}}"#,
            #"{"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}}"#,
            #"{"spec":{"strategy":{"type":"Recreate"}}}"#,
            type: "io.k8s.api.apps.v1.Deployment")
    }

    // MARK: $setElementOrder

    func testSetElementOrderReordersWithoutTheList() throws {
        try assertPatch(
            #"{"spec":{"containers":[{"name":"a","image":"x"},{"name":"b","image":"y"}]}}"#,
            #"{"spec":{"$setElementOrder/containers":[{"name":"b"},{"name":"a"}]}}"#,
            #"{"spec":{"containers":[{"name":"b","image":"y"},{"name":"a","image":"x"}]}}"#)
    }

    func testSetElementOrderInterleavesServerOnlyElements() throws {
        // kube-apiserver: live [1, 2, 4], patch deletes 1 and adds 3 in the order [2, 3] -> [2, 4, 3].
        try assertPatch(
            #"{"spec":{"containers":[{"name":"1"},{"name":"2","image":"b"},{"name":"4","image":"c"}]}}"#,
            #"{"spec":{"$setElementOrder/containers":[{"name":"2"},{"name":"3"}],"containers":[{"name":"3"},{"name":"1","$patch":"delete"}]}}"#,
            #"{"spec":{"containers":[{"name":"2","image":"b"},{"name":"4","image":"c"},{"name":"3"}]}}"#)
    }

    func testSetElementOrderOfPrimitives() throws {
        try assertPatch(
            #"{"metadata":{"finalizers":["a","b","c"]}}"#,
            #"{"metadata":{"$setElementOrder/finalizers":["c","a","d"],"finalizers":["d"]}}"#,
            #"{"metadata":{"finalizers":["b","c","a","d"]}}"#)
    }

    func testSetElementOrderMustCoverThePatchList() throws {
        try assertFails(#"{"spec":{"containers":[{"name":"a"}]}}"#,
                        #"{"spec":{"$setElementOrder/containers":[{"name":"a"}],"containers":[{"name":"z"}]}}"#,
                        "The order in patch list:\n[{\"name\":\"z\"}]\n doesn't match $setElementOrder list:\n[{\"name\":\"a\"}]\n")
    }

    // MARK: Primitive lists

    func testPrimitiveMergeListIsASet() throws {
        try assertPatch(
            #"{"metadata":{"finalizers":["x","y"]}}"#,
            #"{"metadata":{"finalizers":["y","z"]}}"#,
            #"{"metadata":{"finalizers":["x","y","z"]}}"#)
    }

    func testDeleteFromPrimitiveList() throws {
        try assertPatch(
            #"{"metadata":{"finalizers":["x","y","z"]}}"#,
            #"{"metadata":{"$deleteFromPrimitiveList/finalizers":["y","w"]}}"#,
            #"{"metadata":{"finalizers":["x","z"]}}"#)
    }

    func testDeleteFromAMissingPrimitiveListAddsNothing() throws {
        try assertPatch(
            #"{"metadata":{"name":"p"}}"#,
            #"{"metadata":{"$deleteFromPrimitiveList/finalizers":["y"]}}"#,
            #"{"metadata":{"name":"p"}}"#)
    }

    func testListsOfListsAreRejected() throws {
        try assertFails(#"{"metadata":{"finalizers":[["a"]]}}"#, #"{"metadata":{"finalizers":[["b"]]}}"#,
                        "lists of lists are not supported", kind: .unprocessable)
    }

    // MARK: Maps and replace strategy

    func testMapsMergeMemberByMember() throws {
        try assertPatch(
            #"{"spec":{"containers":[{"name":"a","resources":{"limits":{"cpu":"1","memory":"1Gi"}}}]}}"#,
            #"{"spec":{"containers":[{"name":"a","resources":{"limits":{"cpu":"2"}}}]}}"#,
            #"{"spec":{"containers":[{"name":"a","resources":{"limits":{"cpu":"2","memory":"1Gi"}}}]}}"#)
    }

    func testPatchMustBeAnObject() throws {
        try assertFails(#"{}"#, #"[1]"#, "invalid JSON document")
    }

    func testThreeAppliesOfKubectlKeepEveryField() throws {
        // The sequence from issue 11: apply, change the image, apply the first file again.
        let first = #"{"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"nginx:1","ports":[{"containerPort":80}]}]}}"#
        let second = try patched(first, #"{"spec":{"$setElementOrder/containers":[{"name":"a"}],"containers":[{"image":"nginx:2","name":"a"}]}}"#)
        let third = try patched(JSONWriter.text(second), #"{"spec":{"$setElementOrder/containers":[{"name":"a"}],"containers":[{"image":"nginx:1","name":"a"}]}}"#)
        XCTAssertEqual(JSONWriter.text(third), JSONWriter.text(try JSONParser.parse(first)))
    }
}
