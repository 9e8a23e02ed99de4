import Logging
import Synchronization
import Testing
import WatchCache
@testable import WatchCacheServer

/// Failures are always logged; with request logging on, every request is.
@Suite struct RequestLoggingTests {
    /// A storage whose disk is gone: every write fails.
    struct BrokenStorage: Storage {
        struct DiskGone: Error {}
        func recover(historyLimit: Int) throws -> StorageRecovery { StorageRecovery() }
        func persist(_ writes: [StoredWrite]) throws { throw DiskGone() }
    }

    final class Lines: Sendable {
        let messages = Mutex<[(String, Logger.Metadata)]>([])
        var logger: Logger { Logger(label: "test") { _ in Handler(sink: self) } }

        struct Handler: LogHandler {
            let sink: Lines
            var metadata: Logger.Metadata = [:]
            var logLevel: Logger.Level = .trace
            subscript(metadataKey key: String) -> Logger.Metadata.Value? {
                get { metadata[key] }
                set { metadata[key] = newValue }
            }
            func log(event: LogEvent) {
                sink.messages.withLock { $0.append((event.message.description, event.metadata ?? [:])) }
            }
        }
    }

    func send(_ api: APIServer, _ method: String, _ target: String, body: String = "") async -> APIResponse {
        await withCheckedContinuation { c in
            api.handle(APIRequest(method: method, target: target, headers: [("content-type", "application/json")], body: Array(body.utf8))) { c.resume(returning: $0) }
        }
    }

    @Test func aFailedWriteIs500AndLogged() async throws {
        let lines = Lines()
        let api = try APIServer(registry: try Registry(storage: BrokenStorage()), resources: [.pods], serverAddress: "x", logger: lines.logger)
        guard case .complete(let status, _, let body, _) = await send(api, "POST", "/api/v1/namespaces/d/pods", body: #"{"metadata":{"name":"a"}}"#) else { Issue.record("the response changed shape"); return }
        #expect(status == 500)
        #expect(String(decoding: body, as: UTF8.self).contains(#""reason":"InternalError""#))
        _ = await send(api, "GET", "/api/v1/pods")  // fine: not logged
        let logged = lines.messages.withLock { $0 }
        #expect(logged.count == 1)
        #expect(logged.first?.0 == "request failed")
        #expect(logged.first?.1["http.code"] == "500")
        #expect(logged.first?.1["http.verb"] == "CREATE")
    }

    @Test func requestLoggingLogsEveryRequest() async throws {
        let lines = Lines()
        let api = try APIServer(registry: try Registry(), resources: [.pods], serverAddress: "x", logger: lines.logger, logRequests: true)
        _ = await send(api, "GET", "/api/v1/pods")
        _ = await send(api, "GET", "/api/v1/namespaces/d/pods/missing")
        let logged = lines.messages.withLock { $0 }
        #expect(logged.map(\.0) == ["request", "request"])
        #expect(logged.map { $0.1["http.code"] } == ["200", "404"])
        #expect(logged.first?.1["http.verb"] == "LIST")
    }
}
