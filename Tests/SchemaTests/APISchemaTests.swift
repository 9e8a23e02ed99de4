import XCTest
@testable import WatchCacheSchema
import WatchCache

/// The built-in schema carries the facts of the published API (kubernetes/api and
/// kubernetes/apimachinery, see `scripts/generate-schema.py`). Each expectation here was checked
/// against `generated.proto` and `types.go` at the tag the schema names.
final class APISchemaTests: XCTestCase {
    private let core = "io.k8s.api.core.v1."
    private let apps = "io.k8s.api.apps.v1."
    private let meta = "io.k8s.apimachinery.pkg.apis.meta.v1."

    private var schema: APISchema { APISchema.builtIn }

    private func field(_ type: String, _ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> FieldSchema {
        let message = try XCTUnwrap(schema[type], "no type \(type)", file: file, line: line)
        return try XCTUnwrap(message.field(named: name), "no field \(type).\(name)", file: file, line: line)
    }

    func testSourceNamesTheTag() {
        XCTAssertEqual(schema.source, "kubernetes/api v0.32.9, kubernetes/apimachinery v0.32.9")
    }

    func testPodSpecIsFieldTwo() throws {
        let spec = try field(core + "Pod", "spec")
        XCTAssertEqual(spec.number, 2)
        XCTAssertEqual(spec.type, .message(core + "PodSpec"))
        XCTAssertTrue(spec.omitEmpty)
        XCTAssertFalse(spec.isRequired)
        XCTAssertEqual(schema[core + "Pod"]?.field(number: 2)?.name, "spec")
        XCTAssertEqual(try field(core + "Pod", "metadata").number, 1)
        XCTAssertEqual(try field(core + "Pod", "status").number, 3)
    }

    func testPodHasTypeMeta() throws {
        let pod = try XCTUnwrap(schema[core + "Pod"])
        XCTAssertTrue(pod.hasTypeMeta)
        XCTAssertNil(pod.field(named: "kind"), "TypeMeta is not a protobuf field of the object")
        XCTAssertNil(pod.field(named: "apiVersion"))
        XCTAssertEqual(schema[core + "PodList"]?.hasTypeMeta, true)
        XCTAssertEqual(schema[meta + "Status"]?.hasTypeMeta, true)
        XCTAssertEqual(schema[meta + "ObjectMeta"]?.hasTypeMeta, false)
        XCTAssertEqual(schema[core + "PodSpec"]?.hasTypeMeta, false)
    }

    func testContainersMergeByName() throws {
        let containers = try field(core + "PodSpec", "containers")
        XCTAssertEqual(containers.number, 2)
        XCTAssertTrue(containers.isList)
        XCTAssertEqual(containers.type, .message(core + "Container"))
        XCTAssertEqual(containers.patchStrategy, .merge)
        XCTAssertEqual(containers.patchMergeKey, "name")
        XCTAssertEqual(containers.listType, "map")
        XCTAssertEqual(containers.listMapKeys, ["name"])
        XCTAssertTrue(containers.isRequired)
    }

    func testContainerPortsMergeByContainerPort() throws {
        let ports = try field(core + "Container", "ports")
        XCTAssertEqual(ports.number, 6)
        XCTAssertTrue(ports.isList)
        XCTAssertEqual(ports.type, .message(core + "ContainerPort"))
        XCTAssertEqual(ports.patchStrategy, .merge)
        XCTAssertEqual(ports.patchMergeKey, "containerPort")
        XCTAssertEqual(ports.listType, "map")
        XCTAssertEqual(ports.listMapKeys, ["containerPort", "protocol"])
        XCTAssertTrue(try field(core + "ContainerPort", "containerPort").isRequired)
    }

    func testContainerEnvMergesByName() throws {
        let env = try field(core + "Container", "env")
        XCTAssertEqual(env.number, 7)
        XCTAssertEqual(env.type, .message(core + "EnvVar"))
        XCTAssertEqual(env.patchStrategy, .merge)
        XCTAssertEqual(env.patchMergeKey, "name")
    }

    func testVolumesRetainKeys() throws {
        let volumes = try field(core + "PodSpec", "volumes")
        XCTAssertEqual(volumes.number, 1)
        XCTAssertEqual(volumes.patchStrategy, [.merge, .retainKeys])
        XCTAssertEqual(volumes.patchMergeKey, "name")
        XCTAssertEqual(volumes.type, .message(core + "Volume"))
    }

    func testVolumeSourceIsNestedInProtobuf() throws {
        // JSON inlines the volume source into the Volume; protobuf nests it as field 2.
        let volume = try XCTUnwrap(APISchema.builtIn[core + "Volume"])
        let source = try XCTUnwrap(volume.field(number: 2))
        XCTAssertEqual(source.name, "volumeSource")
        XCTAssertTrue(source.isInline)
        XCTAssertEqual(source.type, .message(core + "VolumeSource"))
        XCTAssertFalse(source.isRequired)
        // By JSON name the volume has the source's members, not the member itself.
        XCTAssertNil(volume.field(named: "volumeSource"))
        XCTAssertEqual(volume.field(named: "hostPath")?.type, .message(core + "HostPathVolumeSource"))
        XCTAssertEqual(volume.field(named: "name")?.number, 1)
        XCTAssertEqual(try field(core + "VolumeSource", "configMap").type, .message(core + "ConfigMapVolumeSource"))
    }

    func testLabelsAreAMapOfStrings() throws {
        let labels = try field(meta + "ObjectMeta", "labels")
        XCTAssertEqual(labels.number, 11)
        XCTAssertTrue(labels.isMap)
        XCTAssertFalse(labels.isList)
        XCTAssertEqual(labels.type, .string)
        XCTAssertTrue(labels.omitEmpty)
        XCTAssertEqual(try field(core + "Secret", "data").type, .bytes)
        XCTAssertEqual(try field(core + "Secret", "data").isMap, true)
    }

    func testResourceLimitsAreAMapOfQuantities() throws {
        let resources = try field(core + "Container", "resources")
        XCTAssertEqual(resources.type, .message(core + "ResourceRequirements"))
        let limits = try field(core + "ResourceRequirements", "limits")
        XCTAssertEqual(limits.number, 1)
        XCTAssertTrue(limits.isMap)
        XCTAssertEqual(limits.type, .quantity)
        XCTAssertEqual(try field(core + "ResourceRequirements", "requests").type, .quantity)
    }

    func testSpecialTypes() throws {
        XCTAssertEqual(try field(core + "ServicePort", "targetPort").type, .intOrString)
        XCTAssertEqual(try field(core + "ServicePort", "targetPort").number, 4)
        XCTAssertEqual(try field(meta + "ObjectMeta", "creationTimestamp").type, .time)
        XCTAssertEqual(try field(meta + "ObjectMeta", "creationTimestamp").number, 8)
        XCTAssertEqual(try field(meta + "ObjectMeta", "deletionTimestamp").type, .time)
        XCTAssertEqual(try field(meta + "ManagedFieldsEntry", "fieldsV1").type, .fieldsV1)
        XCTAssertEqual(try field(meta + "WatchEvent", "object").type, .rawExtension)
        XCTAssertEqual(try field(core + "Event", "eventTime").type, .microTime)
        for special in ["io.k8s.apimachinery.pkg.api.resource.Quantity", "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
                        meta + "Time", meta + "MicroTime", meta + "FieldsV1", "io.k8s.apimachinery.pkg.runtime.RawExtension"] {
            XCTAssertNil(schema[special], "\(special) is a special type, not a message")
        }
    }

    func testScalarTypes() throws {
        XCTAssertEqual(try field(meta + "ObjectMeta", "generation").type, .int64)
        XCTAssertEqual(try field(core + "ContainerPort", "containerPort").type, .int32)
        XCTAssertEqual(try field(core + "Container", "stdin").type, .bool)
        XCTAssertEqual(try field(core + "Container", "command").type, .string)
        XCTAssertEqual(try field(core + "Container", "command").isList, true)
    }

    func testRequiredFollowsOpenAPI() throws {
        XCTAssertTrue(try field(core + "Container", "name").isRequired)
        XCTAssertTrue(try field(core + "EnvVar", "name").isRequired)
        XCTAssertTrue(try field(apps + "DeploymentSpec", "selector").isRequired)
        XCTAssertTrue(try field(apps + "DeploymentSpec", "template").isRequired)
        XCTAssertFalse(try field(apps + "DeploymentSpec", "replicas").isRequired)
        XCTAssertFalse(try field(core + "Container", "image").isRequired)
        XCTAssertFalse(try field(meta + "ObjectMeta", "name").isRequired)
    }

    func testOwnerReferencesAndFinalizers() throws {
        let owners = try field(meta + "ObjectMeta", "ownerReferences")
        XCTAssertEqual(owners.patchStrategy, .merge)
        XCTAssertEqual(owners.patchMergeKey, "uid")
        XCTAssertEqual(owners.listMapKeys, ["uid"])
        let finalizers = try field(meta + "ObjectMeta", "finalizers")
        XCTAssertEqual(finalizers.patchStrategy, .merge)
        XCTAssertNil(finalizers.patchMergeKey)
        XCTAssertEqual(finalizers.listType, "set")
    }

    func testFieldsAreInNumberOrder() throws {
        for message in schema.types.values {
            let numbers = message.fields.map(\.number)
            XCTAssertEqual(numbers, numbers.sorted(), message.name)
            XCTAssertEqual(Set(numbers).count, numbers.count, "duplicate numbers in \(message.name)")
            XCTAssertEqual(Set(message.fields.map(\.name)).count, numbers.count, "duplicate names in \(message.name)")
        }
    }

    func testDeploymentKind() throws {
        let deployment = try XCTUnwrap(schema.kind(apiVersion: "apps/v1", kind: "Deployment"))
        XCTAssertEqual(deployment.group, "apps")
        XCTAssertEqual(deployment.version, "v1")
        XCTAssertEqual(deployment.plural, "deployments")
        XCTAssertTrue(deployment.namespaced)
        XCTAssertTrue(deployment.hasStatus)
        XCTAssertTrue(deployment.hasScale)
        XCTAssertEqual(deployment.typeName, apps + "Deployment")
        XCTAssertEqual(deployment.listTypeName, apps + "DeploymentList")
        XCTAssertEqual(schema.kind(group: "apps", version: "v1", plural: "deployments")?.kind, "Deployment")
        XCTAssertNotNil(schema["io.k8s.api.autoscaling.v1.Scale"])
        XCTAssertEqual(try field("io.k8s.api.autoscaling.v1.ScaleSpec", "replicas").type, .int32)
    }

    func testKinds() throws {
        XCTAssertEqual(Set(schema.kinds.map(\.plural)), [
            "pods", "configmaps", "secrets", "services", "endpoints", "events", "nodes", "namespaces",
            "deployments", "replicasets", "statefulsets", "daemonsets",
        ])
        let pods = try XCTUnwrap(schema.kind(group: "", version: "v1", plural: "pods"))
        XCTAssertEqual(pods.apiVersion, "v1")
        XCTAssertTrue(pods.namespaced)
        XCTAssertTrue(pods.hasStatus)
        XCTAssertFalse(pods.hasScale)
        XCTAssertEqual(schema.kind(apiVersion: "v1", kind: "Node")?.namespaced, false)
        XCTAssertEqual(schema.kind(apiVersion: "v1", kind: "Namespace")?.namespaced, false)
        XCTAssertEqual(schema.kind(apiVersion: "v1", kind: "ConfigMap")?.hasStatus, false)
        XCTAssertEqual(schema.kind(apiVersion: "apps/v1", kind: "DaemonSet")?.hasScale, false)
        XCTAssertEqual(schema.kind(apiVersion: "apps/v1", kind: "StatefulSet")?.hasScale, true)
        XCTAssertNil(schema.kind(apiVersion: "v1", kind: "Deployment"))
    }

    func testEveryKindsTypesExist() {
        for kind in schema.kinds {
            XCTAssertNotNil(schema[kind.typeName], kind.typeName)
            XCTAssertNotNil(schema[kind.listTypeName], kind.listTypeName)
            XCTAssertEqual(schema[kind.typeName]?.hasTypeMeta, true, kind.typeName)
            XCTAssertEqual(schema[kind.listTypeName]?.field(named: "items")?.type, .message(kind.typeName))
            XCTAssertEqual(schema[kind.typeName]?.field(named: "status") != nil, kind.hasStatus, kind.kind)
        }
    }

    func testEveryReferencedTypeExists() {
        for message in schema.types.values {
            for field in message.fields {
                if let ref = field.type.messageName {
                    XCTAssertNotNil(schema[ref], "\(message.name).\(field.name) names \(ref)")
                }
            }
        }
    }

    func testRejectsAnUndefinedReference() {
        let json = #"{"types":{"A":{"fields":[{"name":"b","number":1,"type":"B"}]}},"kinds":[]}"#
        XCTAssertThrowsError(try APISchema(json: Array(json.utf8)))
    }
}
