import Foundation

/// Keeping a spawned program from inheriting this process's descriptors.
///
/// SwiftNIO opens its sockets without `O_CLOEXEC`, and `posix_spawn` passes on every descriptor
/// that lacks it. A long-lived child — an etcd member started while a test's server listens —
/// would keep that server's listening socket and its connections open after the server closes
/// them: the port stays taken (a restarting server could not bind it again; seen in CI) and
/// clients never see their connection end. Foundation's `Process` already closes them.
enum InheritedDescriptors {
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// glibc 2.34's `posix_spawn_file_actions_addclosefrom_np`, which the Swift Glibc module
    /// does not declare.
    private static let addCloseFrom: AddCloseFrom? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)
    }()

    /// Adds to `actions` the closing of every descriptor from 3 up in the child.
    static func closeAll(in actions: inout posix_spawn_file_actions_t) {
        if let addCloseFrom, addCloseFrom(&actions, 3) == 0 { return }
        // An older C library: close the descriptors open now (one opened meanwhile by another
        // thread can still slip through).
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for fd in open.compactMap({ Int32($0) }) where fd > 2 && fcntl(fd, F_GETFD) >= 0 {
            posix_spawn_file_actions_addclose(&actions, fd)
        }
    }
}
