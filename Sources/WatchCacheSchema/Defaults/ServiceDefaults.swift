import WatchCache

/// Defaults of services (`SetDefaults_Service`, the `+default="TCP"` of service ports) and
/// endpoints (`SetDefaults_Endpoints`). Cluster IPs, IP families and node ports are allocated by
/// kube-apiserver's service registry, not defaulted, and are not filled in here.
enum ServiceDefaults {
    static func applyToService(_ service: inout JSONObject) {
        var type = "ClusterIP"
        service.withDefaultedObject("spec") { spec in
            spec.defaultString("sessionAffinity", "None")
            switch spec["sessionAffinity"] {
            case .string("None")?:
                spec["sessionAffinityConfig"] = nil
            case .string("ClientIP")?:
                if case .number? = spec["sessionAffinityConfig"]?["clientIP"]?["timeoutSeconds"] {
                    break
                }
                spec["sessionAffinityConfig"] = .object(JSONObject([
                    ("clientIP", .object(JSONObject([("timeoutSeconds", .number("10800"))]))),
                ]))
            default:
                break
            }
            spec.defaultString("type", "ClusterIP")
            type = spec["type"]?.stringValue ?? ""
            spec.withEachObject(in: "ports") { port in
                port.defaultString("protocol", "TCP")
                let target = port["targetPort"]
                if target == nil || target == .null || target == .string("") || target?.isZeroNumber == true,
                   let number = port["port"], case .number = number {
                    port["targetPort"] = number
                }
            }
            // Externally reachable services route external traffic cluster-wide unless told otherwise.
            let hasExternalIPs = !(spec["externalIPs"]?.arrayValue?.isEmpty ?? true)
            if type == "LoadBalancer" || type == "NodePort" || (type == "ClusterIP" && hasExternalIPs) {
                spec.defaultString("externalTrafficPolicy", "Cluster")
            }
            if type == "ClusterIP" || type == "NodePort" || type == "LoadBalancer" {
                spec.defaultValue("internalTrafficPolicy", .string("Cluster"))
            }
            if type == "LoadBalancer" {
                spec.defaultValue("allocateLoadBalancerNodePorts", .bool(true))
            }
        }
        // A load balancer's ingress points given by IP are VIPs unless they say otherwise.
        guard type == "LoadBalancer" else { return }
        service.withObject("status") { status in
            status.withObject("loadBalancer") { loadBalancer in
                loadBalancer.withEachObject(in: "ingress") { ingress in
                    if case .string(let ip)? = ingress["ip"], !ip.isEmpty {
                        ingress.defaultValue("ipMode", .string("VIP"))
                    }
                }
            }
        }
    }

    static func applyToEndpoints(_ endpoints: inout JSONObject) {
        endpoints.withEachObject(in: "subsets") { subset in
            subset.withEachObject(in: "ports") { $0.defaultString("protocol", "TCP") }
        }
    }
}
