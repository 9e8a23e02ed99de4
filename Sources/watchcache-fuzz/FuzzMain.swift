import Foundation
import WatchCacheFuzz

#if FUZZING
/// libFuzzer's entry when this binary is built with `-sanitize=fuzzer` (scripts/fuzz.sh).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

nonisolated(unsafe) var fuzzTarget = FuzzTarget.json

/// What libFuzzer's driver calls for each input (the same as the callback given to it).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    fuzzTarget.run(UnsafeRawBufferPointer(start: data, count: count))
    return 0
}
#endif

/// `watchcache-fuzz TARGET [FILE|DIR]...`: runs every input file through TARGET (a crash stops
/// it: run it under the fuzzing build for the report); `--list` names the targets. Built by
/// scripts/fuzz.sh with libFuzzer, `watchcache-fuzz TARGET [libFuzzer options] [CORPUS]...` fuzzes.
@main
struct FuzzMain {
    static func main() {
        let arguments = CommandLine.arguments
        if arguments.count == 2, arguments[1] == "--list" {
            for target in FuzzTarget.allCases { print(target.rawValue) }
            return
        }
        guard arguments.count >= 2, let target = FuzzTarget(rawValue: arguments[1]) else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
            FileHandle.standardError.write(Data("usage: watchcache-fuzz TARGET [FILE|DIR]... (TARGET: \(names))\n".utf8))
            exit(64)
        }
        #if FUZZING
        fuzzTarget = target
        var argc = CInt(arguments.count - 1)
        var cArguments = ([arguments[0]] + arguments.dropFirst(2)).map { strdup($0) } + [nil]
        let status = cArguments.withUnsafeMutableBufferPointer { buffer -> CInt in
            var argv = buffer.baseAddress
            return LLVMFuzzerRunDriver(&argc, &argv) { data, count in
                fuzzTarget.run(UnsafeRawBufferPointer(start: data, count: count))
                return 0
            }
        }
        exit(status)
        #else
        var inputs: [String] = []
        for path in arguments.dropFirst(2) {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                FileHandle.standardError.write(Data("watchcache-fuzz: \(path): no such file or directory\n".utf8))
                exit(1)
            }
            if isDirectory.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                inputs += names.sorted().map { path + "/" + $0 }
            } else {
                inputs.append(path)
            }
        }
        for input in inputs {
            guard let data = FileManager.default.contents(atPath: input) else {
                FileHandle.standardError.write(Data("watchcache-fuzz: \(input): cannot be read\n".utf8))
                exit(1)
            }
            target.run(Array(data))
        }
        print("watchcache-fuzz: \(target.rawValue): \(inputs.count) inputs, no crash")
        #endif
    }
}
