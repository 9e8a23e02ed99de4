import ArgumentParser
import Foundation

/// A failure reported in one line on standard error (`Error: …`) — no usage text under it — with
/// the exit status it calls for: 64 (EX_USAGE, as for usage errors) when what the user gave is
/// wrong (a flag's value, a file, a directory), 1 when the failure came later.
enum CommandFailure {
    /// Prints `Error: message` and returns the exit to throw (`throw CommandFailure.usage(…)`).
    static func usage(_ message: String) -> ExitCode {
        report(message)
        return ExitCode.validationFailure
    }

    /// Prints `Error: message` and returns exit status 1.
    static func runtime(_ message: String) -> ExitCode {
        report(message)
        return ExitCode.failure
    }

    private static func report(_ message: String) {
        FileHandle.standardError.write(Data("Error: \(message)\n".utf8))
    }

    /// The reason a file operation failed, in the system's words (`No such file or directory`),
    /// however Foundation wrapped it.
    static func reason(_ error: any Error) -> String {
        if let posix = error as? POSIXError { return String(cString: strerror(posix.code.rawValue)) }
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSCocoaErrorDomain {
            switch ns.code {
            case NSFileNoSuchFileError, NSFileReadNoSuchFileError: return String(cString: strerror(ENOENT))
            case NSFileReadNoPermissionError, NSFileWriteNoPermissionError: return String(cString: strerror(EACCES))
            case NSFileWriteOutOfSpaceError: return String(cString: strerror(ENOSPC))
            case NSFileWriteVolumeReadOnlyError: return String(cString: strerror(EROFS))
            default: break
            }
        }
        return "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
    }
}

extension CommandFailure {
    /// Fails with one line, before a long run, when `path` (the value of `flag`) cannot be written:
    /// its directory is missing or not writable, or it is a directory.
    static func checkWritable(_ path: String?, flag: String) throws {
        guard let path else { return }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw usage("\(flag) \(path): \(String(cString: strerror(EISDIR)))")
        }
        let directory = (path as NSString).deletingLastPathComponent
        let parent = directory.isEmpty ? "." : directory
        guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory) else {
            throw usage("\(flag) \(path): \(String(cString: strerror(ENOENT))) (\(parent))")
        }
        guard isDirectory.boolValue else { throw usage("\(flag) \(path): \(String(cString: strerror(ENOTDIR))) (\(parent))") }
        guard access(parent, W_OK) == 0 else { throw usage("\(flag) \(path): \(String(cString: strerror(errno))) (\(parent))") }
    }

    /// Writes `bytes` to `path` (the value of `flag`), failing with one line.
    static func write(_ bytes: some Sequence<UInt8>, to path: String, flag: String) throws {
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        } catch {
            throw runtime("cannot write \(flag) \(path): \(reason(error))")
        }
    }
}
