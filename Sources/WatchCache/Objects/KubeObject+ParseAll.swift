import Dispatch
import Synchronization

extension KubeObject {
    /// Parses many stored objects (bytes this library wrote: kept as they are, see
    /// ``init(storedBytes:resource:)``) on every core — a restart loads hundreds of thousands —
    /// keeping their order. Throws the first object's error if any does not parse.
    static func parseAll(_ stored: [[UInt8]], resource: ResourceDescriptor) throws(Status) -> [KubeObject] {
        let chunkSize = 2_048
        let chunks = (stored.count + chunkSize - 1) / chunkSize
        guard chunks > 1 else {
            return try stored.map { (bytes) throws(Status) in try KubeObject(storedBytes: bytes, resource: resource) }
        }
        let parsed = Mutex<[[KubeObject]]>(Array(repeating: [], count: chunks))
        let failure = Mutex<(chunk: Int, status: Status)?>(nil)
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            var objects: [KubeObject] = []
            objects.reserveCapacity(chunkSize)
            for bytes in stored[(chunk * chunkSize)..<min(stored.count, (chunk + 1) * chunkSize)] {
                do throws(Status) {
                    objects.append(try KubeObject(storedBytes: bytes, resource: resource))
                } catch {
                    failure.withLock { f in if f == nil || f!.chunk > chunk { f = (chunk, error) } }
                    return
                }
            }
            parsed.withLock { $0[chunk] = objects }
        }
        if let failure = failure.withLock({ $0 }) { throw failure.status }
        return parsed.withLock { chunks in
            var all: [KubeObject] = []
            all.reserveCapacity(stored.count)
            for chunk in chunks { all += chunk }
            return all
        }
    }
}
