#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// An exclusive lock on a data directory (`flock` on its `LOCK` file), so two servers never write
/// the same storage. The kernel releases it when the process dies, `kill -9` included.
final class DataDirectoryLock: Sendable {
    private let descriptor: Mutex<Int32>

    init(directory: String) throws {
        let path = directory + "/LOCK"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StorageError("cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw StorageError("the data directory \(directory) is in use by another process (\(path) is locked)")
        }
        descriptor = Mutex(fd)
    }

    func release() {
        descriptor.withLock { fd in
            // Unlocked before closed: a child process spawned at this moment may still share the
            // descriptor until its exec, and the lock would live on with it.
            if fd >= 0 {
                flock(fd, LOCK_UN)
                close(fd)
            }
            fd = -1
        }
    }

    deinit { release() }
}

/// A storage failure with a one-line explanation.
public struct StorageError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
