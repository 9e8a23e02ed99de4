import Testing
@testable import WatchCache

/// A filter keeps only the field terms it does not check otherwise (namespace, name, indexed
/// value), and matches exactly what the whole selector selects.
@Suite struct WatchFilterTests {
    static let pods: [KubeObject] = {
        var pods: [KubeObject] = []
        for namespace in ["a", "b"] {
            for name in ["p", "q"] {
                for node in ["", "n1", "n2"] {
                    pods.append(try! KubeObject(json: Fixture.podJSON(name, namespace: namespace, node: node, phase: node.isEmpty ? "Pending" : "Running"),
                                                resource: .pods))
                }
            }
        }
        return pods
    }()

    static let selectors: [String] = [
        "spec.nodeName=n1", "spec.nodeName=", "spec.nodeName!=n1", "spec.nodeName=n1,spec.nodeName=n2", "spec.nodeName=n1,spec.nodeName=n1",
        "spec.nodeName=n1,status.phase=Running", "metadata.namespace=a", "metadata.namespace=b,spec.nodeName=n2",
        "metadata.name=p", "metadata.name=p,metadata.name=q", "metadata.name=q,metadata.namespace=a,spec.nodeName=n1",
        "metadata.namespace!=a", "status.phase=Pending",
    ]

    @Test func matchesWhatTheWholeSelectorSelects() throws {
        for selector in Self.selectors {
            let whole = try FieldSelector(parsing: selector, for: .pods)
            for namespace in [nil, "a", "b"] {
                let filter = try WatchFilter(resource: .pods, namespace: namespace, labelSelector: nil, fieldSelector: selector)
                for pod in Self.pods {
                    let expected = whole.matches(pod) && (namespace.map { pod.namespace == $0 } ?? true)
                    #expect(filter.matches(pod) == expected, "\(selector) in \(namespace ?? "all"): \(pod.namespace)/\(pod.name) on \(pod.indexedValue ?? "")")
                }
            }
        }
    }

    @Test func aNodeWatcherKeepsNoFieldTerms() throws {
        #expect(try WatchFilter(resource: .pods, namespace: nil, labelSelector: nil, fieldSelector: "spec.nodeName=n1").fields.isEverything)
        #expect(try WatchFilter(resource: .pods, namespace: "a", labelSelector: nil, fieldSelector: "metadata.namespace=a,metadata.name=p").fields.isEverything)
        // Terms it cannot check through a pin stay.
        let kept = try WatchFilter(resource: .pods, namespace: "a", labelSelector: nil, fieldSelector: "metadata.namespace=b,spec.nodeName=n1,status.phase=Running")
        #expect(kept.fields.requirements.map(\.field) == ["metadata.namespace", "status.phase"])
        #expect(kept.hasFieldSelector)
    }
}
