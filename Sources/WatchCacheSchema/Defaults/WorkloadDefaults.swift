import WatchCache

/// Defaults of the apps/v1 workloads (`SetDefaults_Deployment`, `_ReplicaSet`, `_StatefulSet`,
/// `_DaemonSet`), with the pod-spec defaults of their pod templates and, for stateful sets, the
/// claim defaults of their volume claim templates. apps/v1 defaults no selector and no labels.
enum WorkloadDefaults {
    static func applyToDeployment(_ deployment: inout JSONObject) {
        deployment.withDefaultedObject("spec") { spec in
            spec.defaultValue("replicas", .number("1"))
            spec.withDefaultedObject("strategy") { strategy in
                strategy.defaultString("type", "RollingUpdate")
                guard strategy["type"] == .string("RollingUpdate") else { return }
                strategy.withDefaultedObject("rollingUpdate") { rollingUpdate in
                    rollingUpdate.defaultValue("maxUnavailable", .string("25%"))
                    rollingUpdate.defaultValue("maxSurge", .string("25%"))
                }
            }
            spec.defaultValue("revisionHistoryLimit", .number("10"))
            spec.defaultValue("progressDeadlineSeconds", .number("600"))
            spec.withDefaultedObject("template") { PodDefaults.applyToTemplate(&$0) }
        }
    }

    static func applyToReplicaSet(_ replicaSet: inout JSONObject) {
        replicaSet.withDefaultedObject("spec") { spec in
            spec.defaultValue("replicas", .number("1"))
            spec.withDefaultedObject("template") { PodDefaults.applyToTemplate(&$0) }
        }
    }

    static func applyToStatefulSet(_ statefulSet: inout JSONObject) {
        statefulSet.withDefaultedObject("spec") { spec in
            spec.defaultString("podManagementPolicy", "OrderedReady")
            spec.withDefaultedObject("updateStrategy") { strategy in
                // Only a defaulted type brings a defaulted rollingUpdate; an explicit RollingUpdate
                // without one stays without one.
                if strategy.isEmptyString("type") {
                    strategy["type"] = .string("RollingUpdate")
                    strategy.defaultValue("rollingUpdate", .object(JSONObject()))
                }
                guard strategy["type"] == .string("RollingUpdate") else { return }
                strategy.withObject("rollingUpdate") { $0.defaultValue("partition", .number("0")) }
            }
            spec.withDefaultedObject("persistentVolumeClaimRetentionPolicy") { policy in
                policy.defaultString("whenDeleted", "Retain")
                policy.defaultString("whenScaled", "Retain")
            }
            spec.defaultValue("replicas", .number("1"))
            spec.defaultValue("revisionHistoryLimit", .number("10"))
            spec.withDefaultedObject("template") { PodDefaults.applyToTemplate(&$0) }
            // Each claim template: `SetDefaults_PersistentVolumeClaim` and its spec's defaults.
            spec.withEachObject(in: "volumeClaimTemplates") { claim in
                claim.withDefaultedObject("spec") { PodDefaults.applyToClaimSpec(&$0) }
                claim.withDefaultedObject("status") { $0.defaultString("phase", "Pending") }
            }
        }
    }

    static func applyToDaemonSet(_ daemonSet: inout JSONObject) {
        daemonSet.withDefaultedObject("spec") { spec in
            spec.withDefaultedObject("updateStrategy") { strategy in
                strategy.defaultString("type", "RollingUpdate")
                guard strategy["type"] == .string("RollingUpdate") else { return }
                strategy.withDefaultedObject("rollingUpdate") { rollingUpdate in
                    rollingUpdate.defaultValue("maxUnavailable", .number("1"))
                    rollingUpdate.defaultValue("maxSurge", .number("0"))
                }
            }
            spec.defaultValue("revisionHistoryLimit", .number("10"))
            spec.withDefaultedObject("template") { PodDefaults.applyToTemplate(&$0) }
        }
    }
}
