import WatchCache
import WatchCacheSchema

/// The `/status` and `/scale` subresources of the built-in kinds.
///
/// `/status` reads the whole object and writes only its status (kubelets and controllers report
/// there); `/scale` reads and writes the replica count of deployments, replica sets and stateful
/// sets as an `autoscaling/v1` `Scale` (`kubectl scale`, the horizontal pod autoscaler). Writes go
/// through the registry like any other: versioned, stored, and seen by watches of the resource.
extension APIServer {
    static let scaleTypeName = "io.k8s.api.autoscaling.v1.Scale"

    func handleSubresource(_ subresource: String, _ request: APIRequest, resource: ResourceDescriptor, strategy: WriteStrategy,
                           cache: ResourceCache, namespace: String?, name: String,
                           respond: @escaping @Sendable (APIResponse) -> Void) throws(Status) -> APIResponse? {
        let dryRun = request.query.contains { $0.0 == "dryRun" && $0.1 == "All" }
        switch subresource {
        case "status" where strategy.kind.hasStatus:
            switch request.method {
            case "GET", "HEAD":
                guard let object = cache.get(namespace: namespace, name: name) else { throw Status.notFound(resource, name: name) }
                return .object(object)
            case "PUT":
                let validation = try FieldValidationMode(request)
                var duplicates: [String] = []
                var object = try RequestBody.object(request, strategy: strategy, duplicates: &duplicates)
                try Self.checkName(&object, name)
                let warnings = WriteWarnings()
                warnings.add(try validation.apply(&object, strategy: strategy, duplicates: duplicates))
                registry.modify(resource, namespace: namespace, name: name, dryRun: dryRun,
                                transform: { [object] (current) throws(Status) in strategy.prepareForStatusUpdate(object, current: current.json) },
                                completion: Self.answer(respond, warnings: warnings))
                return nil
            case "PATCH":
                let validation = try FieldValidationMode(request)
                let patch = try RequestPatch(request, strategic: true)
                let warnings = WriteWarnings()
                registry.modify(resource, namespace: namespace, name: name, dryRun: dryRun,
                                transform: { (current) throws(Status) in
                                    var patched = try Self.patched(current, patch, type: strategy.type)
                                    warnings.add(try validation.apply(&patched, strategy: strategy, duplicates: patch.duplicates,
                                                                      patch: (name, request.body)))
                                    return strategy.prepareForStatusUpdate(patched, current: current.json)
                                },
                                completion: Self.answer(respond, warnings: warnings))
                return nil
            default:
                throw Self.methodNotAllowed
            }
        case "scale" where strategy.kind.hasScale:
            switch request.method {
            case "GET", "HEAD":
                guard let object = cache.get(namespace: namespace, name: name) else { throw Status.notFound(resource, name: name) }
                return .json(.object(ScaleSubresource.scale(of: object.json)))
            case "PUT":
                let scale = try RequestBody.message(request, typeName: Self.scaleTypeName)
                registry.modify(resource, namespace: namespace, name: name, dryRun: dryRun,
                                transform: { (current) throws(Status) in try Self.scaled(current, to: scale, name: name, strategy: strategy) },
                                completion: Self.answerScale(respond))
                return nil
            case "PATCH":
                let scaleType = APISchema.builtIn[Self.scaleTypeName]
                let patch = try RequestPatch(request, strategic: scaleType != nil)
                registry.modify(resource, namespace: namespace, name: name, dryRun: dryRun,
                                transform: { (current) throws(Status) in
                                    var scale = ScaleSubresource.scale(of: current.json)
                                    scale = try patch.apply(to: scale, type: scaleType)
                                    // A patch that names no version applies to the current one.
                                    if scale["metadata"]?["resourceVersion"] == current.json["metadata"]?["resourceVersion"],
                                       var metadata = scale["metadata"]?.objectValue {
                                        metadata["resourceVersion"] = nil
                                        scale["metadata"] = .object(metadata)
                                    }
                                    return try Self.scaled(current, to: scale, name: name, strategy: strategy)
                                },
                                completion: Self.answerScale(respond))
                return nil
            default:
                throw Self.methodNotAllowed
            }
        default:
            throw Self.notFound
        }
    }

    /// `current` with the replica count of `scale`, as a main-resource update.
    private static func scaled(_ current: KubeObject, to scale: JSONObject, name: String,
                               strategy: WriteStrategy) throws(Status) -> JSONObject {
        var object: JSONObject
        do {
            object = try ScaleSubresource.apply(scale, to: current.json, name: name)
        } catch {
            switch error {
            case .badRequest(let message):
                throw Status.badRequest(message)
            case .invalid(let field, let value, let detail):
                throw Status.invalid(kind: "Scale", group: "autoscaling", name: name,
                                     errors: [FieldError(field: field, type: .invalid(value: value), detail: detail)])
            }
        }
        strategy.prepareForUpdate(&object, current: current.json)
        return object
    }

    /// A scale write's completion: answers with the `Scale` of the stored object.
    private static func answerScale(_ respond: @escaping @Sendable (APIResponse) -> Void) -> @Sendable (Result<KubeObject, Status>) -> Void {
        { result in
            switch result {
            case .success(let object): respond(.json(.object(ScaleSubresource.scale(of: object.json))))
            case .failure(let error): respond(.error(error))
            }
        }
    }
}
