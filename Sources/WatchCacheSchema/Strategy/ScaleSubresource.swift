import WatchCache

/// The `/scale` subresource of deployments, replica sets and stateful sets: their replica count as
/// an `autoscaling/v1` `Scale`.
public enum ScaleSubresource {
    /// The `Scale` of `object`: its name, namespace, uid, resourceVersion and creationTimestamp,
    /// `spec.replicas`, and `status.replicas` with the selector as text.
    public static func scale(of object: JSONObject) -> JSONObject {
        let metadata = object["metadata"]?.objectValue ?? JSONObject()
        var scaleMetadata = JSONObject()
        for key in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
            if let value = metadata[key] { scaleMetadata[key] = value }
        }
        var spec = JSONObject()
        if let replicas = object["spec"]?["replicas"], replicas != .number("0") { spec["replicas"] = replicas }
        var status = JSONObject()
        status["replicas"] = object["status"]?["replicas"] ?? .number("0")
        let selector = LabelSelectorText.text(object["spec"]?["selector"])
        if !selector.isEmpty { status["selector"] = .string(selector) }
        return JSONObject([
            ("kind", .string("Scale")),
            ("apiVersion", .string("autoscaling/v1")),
            ("metadata", .object(scaleMetadata)),
            ("spec", .object(spec)),
            ("status", .object(status)),
        ])
    }

    /// `object` with the replica count of `scale`. A `metadata.resourceVersion` in the scale is
    /// kept as the write's precondition; a negative count is invalid.
    public static func apply(_ scale: JSONObject, to object: JSONObject, name: String) throws(SubresourceError) -> JSONObject {
        if let kind = scale["kind"]?.stringValue, kind != "Scale" {
            throw .badRequest("the body of the request is a \(kind), not a Scale")
        }
        let scaleMetadata = scale["metadata"]?.objectValue ?? JSONObject()
        if let given = scaleMetadata["name"]?.stringValue, !given.isEmpty, given != name {
            throw .badRequest("the name of the object (\(given)) does not match the name on the URL (\(name))")
        }
        let replicas: Int
        switch scale["spec"]?["replicas"] {
        case nil, .null?: replicas = 0
        case .number(let text)?:
            guard let value = Int(text), value <= Int(Int32.max) else {
                throw .invalid(field: "spec.replicas", value: text, detail: "must be a 32-bit integer")
            }
            replicas = value
        default:
            throw .badRequest("spec.replicas of a Scale must be an integer")
        }
        if replicas < 0 {
            throw .invalid(field: "spec.replicas", value: String(replicas), detail: "must be greater than or equal to 0")
        }
        var result = object
        var spec = result["spec"]?.objectValue ?? JSONObject()
        spec["replicas"] = .number(String(replicas))
        result["spec"] = .object(spec)
        var metadata = result["metadata"]?.objectValue ?? JSONObject()
        metadata["resourceVersion"] = scaleMetadata["resourceVersion"].flatMap { $0 == .string("") ? nil : $0 }
        result["metadata"] = .object(metadata)
        return result
    }
}

/// A subresource write that cannot be applied.
public enum SubresourceError: Error, Equatable {
    /// A malformed body: `400 BadRequest`.
    case badRequest(String)
    /// A field value kube-apiserver's validation rejects: `422 Invalid`.
    case invalid(field: String, value: String, detail: String)
}
