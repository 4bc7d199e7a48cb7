import CDA
import Foundation

// Fuzz target for the CDA reader (issue 5). Built by scripts/fuzz-cda with
// `-sanitize=fuzzer,address -D FUZZING`: this main hands over to libFuzzer's driver
// (its own main is not linked since ours exists), which calls the entry point below
// with mutated inputs. In the normal build this is a small replay tool:
// `cda-fuzz FILE...` runs the reader on crash files.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCDA(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    let report = CDAReader.read(Data(bytes: start, count: count))
    // Touch what the app renders, so a crash in any of it shows up here.
    if let document = report.document {
        _ = CDAInspection(file: "fuzz", report: report).jsonLine()
        _ = CDASummary.text(file: "fuzz", report: report)
        _ = document.studyInstanceUIDs
        _ = document.pdf?.count
    }
    return 0
}

#if FUZZING
// libFuzzer's `int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*)(const uint8_t *, size_t))`:
// pointer and int arguments only, so Swift's calling convention passes them as C does.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>,
                     _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt
var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(runFuzzerDriver(&argc, &argv, fuzzCDA))
#else
for path in CommandLine.arguments.dropFirst() {
    guard let bytes = FileManager.default.contents(atPath: path) else {
        print("\(path): unreadable")
        continue
    }
    _ = bytes.withUnsafeBytes { fuzzCDA($0.bindMemory(to: UInt8.self).baseAddress, $0.count) }
    print("\(path): read without crash")
}
#endif
