import Testing
import WatchCache
@testable import WatchCacheEtcd

@Suite struct EtcdKeyLayoutTests {
    let layout = EtcdKeyLayout()

    @Test func namespacedAndClusterScopedKeys() {
        #expect(layout.key(of: .pods, namespace: "default", name: "web-0") == "/registry/pods/default/web-0")
        #expect(layout.key(of: .deployments, namespace: "ns", name: "d") == "/registry/deployments/ns/d")
        #expect(layout.key(of: .namespaces, namespace: nil, name: "kube-system") == "/registry/namespaces/kube-system")
    }

    @Test func kubeApiserversHistoricalPrefixes() {
        #expect(layout.key(of: .nodes, namespace: nil, name: "n1") == "/registry/minions/n1")
        #expect(layout.key(of: .services, namespace: "a", name: "s") == "/registry/services/specs/a/s")
        #expect(layout.key(of: .endpoints, namespace: "a", name: "s") == "/registry/services/endpoints/a/s")
        let crd = ResourceDescriptor(group: "example.com", version: "v1", plural: "widgets", kind: "Widget")
        #expect(layout.folder(of: crd) == "/registry/example.com/widgets/")
        #expect(EtcdKeyLayout(prefix: "/other/").folder(of: .configMaps) == "/other/configmaps/")
    }

    @Test func rangeEndIsThePrefixEnd() {
        #expect(EtcdKeyLayout.rangeEnd(of: "/registry/pods/") == Array("/registry/pods0".utf8))
        #expect(EtcdKeyLayout.rangeEnd(of: "a\u{7F}") == [0x61, 0x80])
    }

    @Test func endpointsParseLikeKubeApiserversFlag() throws {
        let e = try EtcdEndpoints(parsing: "http://127.0.0.1:2379, http://127.0.0.1:22379")
        #expect(e.members.map(\.port) == [2379, 22379])
        #expect(!e.secure)
        #expect(throws: EtcdError.self) { try EtcdEndpoints(parsing: "127.0.0.1:2379") }
        #expect(throws: EtcdError.self) { try EtcdEndpoints(parsing: "http://127.0.0.1:2379,https://127.0.0.1:2380") }
        #expect(throws: EtcdError.self) { try EtcdEndpoints(parsing: "http://127.0.0.1:2379", caFile: "/ca.pem") }
    }
}
