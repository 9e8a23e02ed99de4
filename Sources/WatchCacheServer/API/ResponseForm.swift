import WatchCache

/// The representation a client asked for in `Accept`: the object itself, or the `meta.k8s.io`
/// Table that `kubectl get` asks for (`application/json;as=Table;v=v1;g=meta.k8s.io,…,application/json`).
enum ResponseForm: Equatable {
    case object
    /// A Table in `meta.k8s.io/<version>` (v1 or v1beta1).
    case table(version: String)
    /// The object in Kubernetes protobuf (`application/vnd.kubernetes.protobuf`): built-in kinds only.
    case protobuf
    /// The object as YAML (`application/yaml`), as kube-apiserver serves it: not for watches.
    case yaml

    static let accepted = "application/json, application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io, application/json;as=Table;v=v1beta1;g=meta.k8s.io"
    static let acceptedWithProtobuf = "application/json, application/yaml, application/vnd.kubernetes.protobuf, application/json;as=Table;v=v1;g=meta.k8s.io, application/json;as=Table;v=v1beta1;g=meta.k8s.io"
    /// What a watch can be served as (YAML has no stream framing, as in kube-apiserver).
    static let acceptedForWatch = "application/json, application/json;stream=watch, application/vnd.kubernetes.protobuf, application/vnd.kubernetes.protobuf;stream=watch"

    /// 406 for a watch asked for in YAML.
    static let yamlWatch = Status(code: 406, reason: .notAcceptable,
                                  message: "only the following media types are accepted: \(acceptedForWatch)")

    /// The first form in `accept` this server can produce, in the client's order (as kube-apiserver
    /// picks); JSON when there is no header. Protobuf only when `protobuf` (the resource's kind has
    /// a schema); otherwise the client's next choice, as kube-apiserver does for custom resources.
    /// 406 when nothing listed can be served.
    static func negotiate(_ accept: String?, protobuf: Bool = false) throws(Status) -> ResponseForm {
        guard let accept, !accept.allSatisfy({ $0 == " " }) else { return .object }
        for range in MediaRange.parse(accept) {
            let (type, parameters) = (range.type, range.parameters)
            if type == "application/yaml" {
                if parameters["as"] == nil { return .yaml }
                continue
            }
            if type == "application/vnd.kubernetes.protobuf" {
                if protobuf && parameters["as"] == nil { return .protobuf }
                continue
            }
            guard range.coversJSON else { continue }
            switch parameters["as"] {
            case nil:
                return .object
            case "Table" where parameters["g"] == "meta.k8s.io" && (parameters["v"] == "v1" || parameters["v"] == "v1beta1"):
                return .table(version: parameters["v"]!)
            default:
                continue
            }
        }
        throw Status(code: 406, reason: .notAcceptable,
                     message: "only the following media types are accepted: \(protobuf ? acceptedWithProtobuf : accepted)")
    }
}
