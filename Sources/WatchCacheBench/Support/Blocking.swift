import Dispatch
import Foundation

/// Runs blocking work — starting, signalling or waiting for processes, blocking sockets — on a
/// Dispatch thread and awaits its result: never on the Swift concurrency pool, whose few threads
/// (two on a two-core machine) the servers' and clients' own tasks need.
public func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}

/// What `executable` prints on its standard output (its standard error is dropped), once it has
/// exited; nil if it could not be started. Blocks: see ``offPool(_:)``.
public func commandOutput(_ executable: String, _ arguments: [String]) -> String? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}
