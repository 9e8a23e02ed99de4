import Synchronization
import Testing
import WatchCache

/// The DocC catalog's code, compiled and run so it cannot rot: the resume loop of
/// `WatchSemantics.md` (kept here verbatim) mirrors a resource and returns when the registry closes, and
/// `GettingStarted.md`'s paged LIST reads every page.
@Suite struct DocumentationTests {
    // From WatchSemantics.md, "How a watch ends".
    func mirror(_ pods: ResourceCache, reset: ([KubeObject]) -> Void, apply: (WatchEvent) -> Void) async throws {
        var list = try await pods.list(ListOptions())
        reset(list.items)
        var version = list.resourceVersion
        while true {
            let stream = try pods.stream(WatchOptions(resourceVersion: version.description, allowWatchBookmarks: true))
            do {
                for try await event in stream where event.type != .error { apply(event) }
                return  // ended by its consumer: this task was cancelled
            } catch {
                // Only the loop throws in this `do`, so `error` is a WatchInterruption.
                guard error.reason != .cacheClosed else { return }  // the registry closed
                if error.mustRelist {
                    list = try await pods.list(ListOptions())
                    reset(list.items)
                    version = list.resourceVersion
                } else if let resumeFrom = error.resumeFrom {
                    version = resumeFrom
                }
            }
        }
    }

    /// The mirror ends up with exactly the cache's objects, and returns when the registry closes.
    @Test func theResumeLoopMirrorsTheCache() async throws {
        let registry = try Registry()
        let pods = try registry.register(.pods)
        let mirrored = Mirror()
        let task = Task {
            try await mirror(pods, reset: { items in mirrored.reset(items) }, apply: { event in mirrored.apply(event) })
        }
        for i in 0..<20 {
            _ = try await registry.create(JSONObject(parsing: #"{"metadata":{"name":"p\#(i)","namespace":"default"}}"#), in: .pods)
        }
        for i in 0..<5 { _ = try await registry.delete(.pods, namespace: "default", name: "p\(i)") }
        var names: Set<String> = []
        for _ in 0..<200 {
            names = mirrored.names
            if names.count == 15 { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(names == Set((5..<20).map { "p\($0)" }))
        registry.close()
        try await task.value  // returns on cacheClosed
    }

    // From GettingStarted.md, "Read objects".
    @Test func thePagedListReadsEveryPage() async throws {
        let registry = try Registry()
        let pods = try registry.register(.pods)
        for i in 0..<250 {
            _ = try await registry.create(JSONObject(parsing: #"{"metadata":{"name":"web-\#(i)","namespace":"default","labels":{"app":"web"}}}"#), in: .pods)
        }
        var seen = 0
        var options = ListOptions(limit: 100, labelSelector: "app=web", namespace: "default")
        while true {
            let page = try await pods.list(options)
            seen += page.items.count
            guard let token = page.continueToken else { break }
            options.continueToken = token
        }
        #expect(seen == 250)
        registry.close()
    }
}

/// The state the resume loop keeps: objects by name.
private final class Mirror: Sendable {
    private let objects = Mutex<[String: KubeObject]>([:])

    func reset(_ items: [KubeObject]) {
        objects.withLock { $0 = Dictionary(items.map { ($0.name, $0) }, uniquingKeysWith: { $1 }) }
    }

    func apply(_ event: WatchEvent) {
        guard let object = event.object else { return }
        objects.withLock { objects in
            switch event.type {
            case .added, .modified: objects[object.name] = object
            case .deleted: objects[object.name] = nil
            default: break
            }
        }
    }

    var names: Set<String> { objects.withLock { Set($0.keys) } }
}
