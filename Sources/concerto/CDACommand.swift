import ArgumentParser
import ConcertoCore
import ConcertoServices
import ConcertoStore
import ConcertoWeb
import CDA
import Foundation

struct CDACommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cda",
        abstract: "Read HL7 CDA R2 documents.",
        subcommands: [Inspect.self, Import.self, Token.self]
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
            // The server's configuration (CONCERTO_CDA_MAX_MB, CONCERTO_CDA_SCHEMA), flags first.
            var config = try AppConfiguration.fromEnvironment()
            if let maxMegabytes {
                guard maxMegabytes > 0 else { throw ValidationError("--max-megabytes must be positive") }
                config.cdaMaxBytes = maxMegabytes * 1024 * 1024
            }
            if let schema { config.cdaSchemaPath = schema }
            let options = try config.cdaReadOptions()
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

extension CDACommand {
    /// Batch import of a folder of reports for a community (hospital back-filing).
    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import CDA documents (files or folders, recursively *.xml) into a community.",
            discussion: """
                Each document goes to the community's patient with its INS (or to --case). Documents
                without a valid INS are refused: matching on identity traits needs a person to
                confirm, on the case page. Prints a progress bar and a summary; exit code 1 when
                any document was refused.
                """
        )

        @OptionGroup var common: CommonOptions

        @Argument(help: "CDA files or folders.")
        var paths: [String]

        @Option(name: .long, help: "Community id the documents are filed in.")
        var community: String

        @Option(name: .long, help: "File every document on this fiche RCP (its patient must match).")
        var `case`: String?

        func run() async throws {
            guard let communityID = UUID(storageKey: community) else { throw ValidationError("--community must be a community id") }
            let files = try Self.expand(paths)
            guard !files.isEmpty else { throw CommandFailure("No .xml file found in \(paths.joined(separator: ", ")).") }
            let config = try common.configuration()
            try await withDependencies(config) { dependencies in
                guard try await dependencies.communities.find(id: communityID) != nil else { throw CommandFailure("Unknown community \(community).") }
                var imported = 0, already = 0, refused: [(String, String)] = []
                let started = ContinuousClock.now
                var bytes = 0
                for (index, file) in files.enumerated() {
                    Self.progress(index, of: files.count, file: file)
                    guard let data = FileManager.default.contents(atPath: file) else {
                        refused.append((file, "fichier illisible"))
                        continue
                    }
                    bytes += data.count
                    let report = dependencies.importer.read(data)
                    guard let document = report.document, report.ok else {
                        refused.append((file, report.errors.joined(separator: " ")))
                        continue
                    }
                    let target: DocumentImporter.Target
                    switch try await dependencies.importer.target(for: document, community: communityID, caseParameter: self.case, cases: dependencies.cases) {
                    case .success(let found): target = found
                    case .failure(let problem):
                        refused.append((file, ImportPresentation.text(problem, in: .fr)))
                        continue
                    }
                    let audit = AuditDraft(actorID: nil, organisationID: nil, action: .documentImport, resourceType: "document", resourceID: nil,
                                           patientID: target.patient.id, mode: .normal, outcome: .success, reason: "cli", clientAddress: nil, requestID: nil)
                    switch try await dependencies.importer.file(document, bytes: data, warnings: report.warnings.map(DocumentImporter.Message.reader), into: target,
                                                                confirmedTraits: false, source: .cli, audit: audit, at: Date()) {
                    case .imported: imported += 1
                    case .alreadyImported: already += 1
                    case .refused(let messages): refused.append((file, messages.map { ImportPresentation.text($0, in: .fr) }.joined(separator: " ")))
                    case .needsConfirmation: refused.append((file, "rapprochement par traits : à confirmer depuis la fiche RCP"))
                    }
                }
                Self.progress(files.count, of: files.count, file: nil)
                let elapsed = ContinuousClock.now - started
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                say("\(files.count) document(s), \(bytes / 1024) Kio en \(String(format: "%.1f", seconds)) s : \(imported) importé(s), \(already) déjà présent(s), \(refused.count) refusé(s).")
                for (file, reason) in refused { say("  refusé : \(file) — \(reason)") }
                if !refused.isEmpty { throw ExitCode(1) }
            }
        }

        static func expand(_ paths: [String]) throws -> [String] {
            var files: [String] = []
            for path in paths {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw CommandFailure("No such file: \(path)") }
                if isDirectory.boolValue {
                    let walker = FileManager.default.enumerator(atPath: path)
                    while let item = walker?.nextObject() as? String {
                        if item.lowercased().hasSuffix(".xml") { files.append((path as NSString).appendingPathComponent(item)) }
                    }
                } else {
                    files.append(path)
                }
            }
            return files.sorted()
        }

        /// A one-line progress bar on standard error (standard output keeps the summary).
        static func progress(_ done: Int, of total: Int, file: String?) {
            let width = 30
            let filled = total == 0 ? width : done * width / total
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            let name = file.map { " " + ($0 as NSString).lastPathComponent } ?? "\n"
            FileHandle.standardError.write(Data("\r[\(bar)] \(done)/\(total)\(name)\u{1B}[K".utf8))
        }
    }
}

extension CDACommand {
    /// A token for a hospital system posting to /api/v1/documents.
    struct Token: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an API token for a hospital system of a community (printed once; only its hash is stored)."
        )

        @OptionGroup var common: CommonOptions

        @Option(name: .long, help: "Community id the token files documents in.")
        var community: String

        @Option(name: .long, help: "Who uses the token, e.g. \"DPI CHU Bordeaux\".")
        var label: String

        @Option(name: .long, help: "FINESS of the organisation whose system holds the token: its documents qualify identities when it is trusted for them (admin, Organisations).")
        var finess: String?

        func validate() throws {
            if let finess, FINESSNumber(finess) == nil { throw ValidationError("Not a valid FINESS number (9 characters, check digit): \(finess)") }
        }

        func run() async throws {
            guard let communityID = UUID(storageKey: community) else { throw ValidationError("--community must be a community id") }
            try await withDependencies(try common.configuration()) { dependencies in
                guard try await dependencies.communities.find(id: communityID) != nil else { throw CommandFailure("Unknown community \(community).") }
                var organisationID: UUID?
                if let finess = finess.flatMap(FINESSNumber.init) {
                    guard let organisation = try await dependencies.organisations.find(finess: finess) else {
                        throw CommandFailure("No organisation has the FINESS number \(finess)")
                    }
                    organisationID = organisation.id
                }
                let audit = AuditDraft(actorID: nil, action: .apiTokenCreate, resourceType: "api_token", outcome: .success, reason: "cli")
                let token = try await dependencies.documents.createToken(community: communityID, organisation: organisationID, label: label, by: nil, audit: audit)
                say(token.secret)
            }
        }
    }
}
