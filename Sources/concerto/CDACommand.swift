import ArgumentParser
import CDA
import Foundation

struct CDACommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cda",
        abstract: "Read HL7 CDA R2 documents.",
        subcommands: [Inspect.self]
    )

    struct Inspect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read CDA documents and print what Concerto extracts from each.",
            discussion: """
                With --json, one JSON object per file and per line (a stable contract: keys are
                never renamed or dropped). Exit code 0 when every file was read without error, 1 otherwise.
                """
        )

        @Argument(help: "CDA documents (XML files).")
        var files: [String]

        @Flag(name: .long, help: "One JSON object per file, one per line.")
        var json = false

        @Option(name: .long, help: "Validate against the CDA R2 XML schema: CDA_extended.xsd or its folder (default: CONCERTO_CDA_SCHEMA).")
        var schema: String?

        @Option(name: .long, help: "Largest accepted file, in MB. Default: 20 (CONCERTO_CDA_MAX_MB).")
        var maxMegabytes: Int?

        func run() async throws {
            let options = try CDAReadOptions.fromEnvironment(schema: schema, maxMegabytes: maxMegabytes)
            var allRead = true
            for file in files {
                let report: CDAReport
                if let bytes = FileManager.default.contents(atPath: file) {
                    report = CDAReader.read(bytes, options: options)
                } else {
                    report = CDAReport(document: nil, issues: [.error("Fichier illisible : \(file)")])
                }
                allRead = allRead && report.ok
                print(json ? CDAInspection(file: file, report: report).jsonLine() : CDASummary.text(file: file, report: report))
            }
            if !allRead { throw ExitCode(1) }
        }
    }
}

extension CDAReadOptions {
    /// Flags first, then CONCERTO_CDA_SCHEMA / CONCERTO_CDA_MAX_MB, then defaults.
    static func fromEnvironment(schema: String?, maxMegabytes: Int?) throws -> CDAReadOptions {
        let environment = ProcessInfo.processInfo.environment
        var options = CDAReadOptions()
        if let megabytes = maxMegabytes ?? environment["CONCERTO_CDA_MAX_MB"].flatMap(Int.init) {
            guard megabytes > 0 else { throw ValidationError("--max-megabytes must be positive") }
            options.limits.maxBytes = megabytes * 1024 * 1024
        }
        if let path = schema ?? environment["CONCERTO_CDA_SCHEMA"], !path.isEmpty {
            options.schema = try CDASchema(path: path)
        }
        return options
    }
}
