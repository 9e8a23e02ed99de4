import Foundation
import Synchronization

/// Runs blocking work — starting, signalling or waiting for processes, blocking sockets — on a
/// thread of its own and awaits its result: never on the Swift concurrency pool, whose few threads
/// (two on a two-core machine) the servers' and clients' own tasks need.
///
/// Not on Dispatch's global queue either: on Linux it runs about as many blocks at once as there
/// are cores and adds a thread about once a second while they block, so a few long process waits
/// (a watch, an etcd member) delay every later one by seconds — long enough, in a full test run,
/// for a 12 s watch to begin and end before the poll that looked for it ran.
public func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        startThread { continuation.resume(with: Result { try body() }) }
    }
}

/// Starts `body` on a new thread at once (see ``offPool(_:)`` for why not Dispatch).
public func startThread(_ body: @escaping @Sendable () -> Void) {
    let thread = Thread(block: body)
    thread.stackSize = 512 * 1024
    thread.start()
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

/// What a finished program printed and how it exited.
public struct ProcessOutput: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs `executable` to its end, reading its standard output and error at once (so a full pipe
/// never stalls it), with `environment` added to this process's; its standard input is closed when
/// `closeInput`. Blocks: see ``offPool(_:)``.
public func runProcess(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                       closeInput: Bool = false) throws -> ProcessOutput {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    if closeInput { process.standardInput = FileHandle.nullDevice }
    try process.run()
    let errData = Mutex(Data())
    let errRead = DispatchSemaphore(value: 0)
    startThread {
        errData.withLock { $0 = err.fileHandleForReading.readDataToEndOfFile() }
        errRead.signal()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    errRead.wait()
    process.waitUntilExit()
    return ProcessOutput(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData.withLock { $0 }, as: UTF8.self))
}
