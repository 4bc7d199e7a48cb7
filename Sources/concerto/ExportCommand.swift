import ArgumentParser
import ConcertoCore
import ConcertoServices
import ConcertoStore
import ConcertoWeb
import Documents
import Foundation

/// `concerto export`: the files hospitals and coordination centres take away, from the
/// server's own database (an operator's tool, like `cda import`: each export is audited
/// with the `cli` reason).
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Export fiches RCP (CDA R2) and activity figures (CSV).",
        subcommands: [Fiche.self, Minutes.self, Activity.self]
    )

    static func write(_ data: Data, to output: String?) throws {
        if let output, output != "-" {
            try data.write(to: URL(fileURLWithPath: output), options: .atomic)
            FileHandle.standardError.write(Data("\(data.count) octets écrits dans \(output)\n".utf8))
        } else {
            FileHandle.standardOutput.write(data)
        }
    }

    static func audit(_ dependencies: AppDependencies, _ action: AuditAction, resourceType: String, resourceID: String, patient: UUID? = nil) async throws {
        _ = try await dependencies.audit.record(AuditDraft(actorID: nil, action: action, resourceType: resourceType, resourceID: resourceID,
                                                           patientID: patient, outcome: .success, reason: "cli"))
    }

    struct Fiche: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A validated fiche RCP as a CDA R2 document (CI-SIS FRCP 2022.01) or a PDF.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "Case id.") var caseID: String
        @Option(help: "xml (CDA R2), xml-pdf (CDA with its PDF copy embedded) or pdf.") var format = "xml"
        @Option(name: .shortAndLong, help: "Output file (default: standard output).") var output: String?

        func run() async throws {
            guard let id = UUID(storageKey: caseID) else { throw ValidationError("CASE must be a case id") }
            guard ["xml", "xml-pdf", "pdf"].contains(format) else { throw ValidationError("--format: xml, xml-pdf or pdf") }
            try await withDependencies(try common.configuration()) { dependencies in
                guard let record = try await dependencies.cases.find(id: id) else { throw CommandFailure("Unknown case \(caseID).") }
                do {
                    let data = format == "pdf" ? try await dependencies.ficheExporter.pdf(of: record)
                        : try await dependencies.ficheExporter.cda(of: record, embedPDF: format == "xml-pdf")
                    try await ExportCommand.audit(dependencies, .caseExport, resourceType: "case", resourceID: "\(id.storageKey)/fiche.\(format == "pdf" ? "pdf" : "xml")",
                                                  patient: record.patientID)
                    try ExportCommand.write(data, to: output)
                } catch FicheExporter.Problem.notValidated {
                    throw CommandFailure("The case is not validated: only a validated fiche is exported.")
                }
            }
        }
    }

    struct Minutes: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A meeting's minutes: PDF, ZIP (minutes + every validated fiche as CDA and PDF) or CSV.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "Meeting id.") var meetingID: String
        @Option(help: "pdf, zip, csv (French: ';' and BOM) or csv-plain (',').") var format = "pdf"
        @Option(name: .shortAndLong, help: "Output file (default: standard output).") var output: String?

        func run() async throws {
            guard let id = UUID(storageKey: meetingID) else { throw ValidationError("MEETING must be a meeting id") }
            guard ["pdf", "zip", "csv", "csv-plain"].contains(format) else { throw ValidationError("--format: pdf, zip, csv or csv-plain") }
            try await withDependencies(try common.configuration()) { dependencies in
                guard let meeting = try await dependencies.meetings.find(id: id) else { throw CommandFailure("Unknown meeting \(meetingID).") }
                let data: Data
                switch format {
                case "pdf": data = try await dependencies.ficheExporter.minutesPDF(of: meeting)
                case "zip": data = try await dependencies.ficheExporter.minutesArchive(of: meeting)
                default:
                    let rows = try await ActivityStore(database: dependencies.database).presentedCases(
                        community: meeting.communityID, from: meeting.startsAt, to: meeting.startsAt.addingTimeInterval(1), meeting: meeting.id)
                    data = ActivityCSV.render(rows, flavour: format == "csv" ? .french : .plain)
                }
                try await ExportCommand.audit(dependencies, .minutesExport, resourceType: "meeting", resourceID: id.storageKey)
                try ExportCommand.write(data, to: output)
            }
        }
    }

    struct Activity: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A community's activity over a period: one CSV row per decided case.")
        @OptionGroup var common: CommonOptions
        @Option(help: "Community id.") var community: String
        @Option(help: "First day, YYYY-MM-DD (default: a year ago).") var from: String?
        @Option(help: "Last day, YYYY-MM-DD (default: today).") var to: String?
        @Flag(help: "Comma-separated, no byte-order mark.") var plain = false
        @Option(name: .shortAndLong, help: "Output file (default: standard output).") var output: String?

        func run() async throws {
            guard let id = UUID(storageKey: community) else { throw ValidationError("--community must be a community id") }
            guard let period = ExportPeriod.parse(from: from, to: to, today: ParisCalendar.date(of: Date())) else {
                throw ValidationError("--from/--to: dates as YYYY-MM-DD, from before to")
            }
            try await withDependencies(try common.configuration()) { dependencies in
                guard try await dependencies.communities.find(id: id) != nil else { throw CommandFailure("Unknown community \(community).") }
                let rows = try await ActivityStore(database: dependencies.database).presentedCases(community: id, from: period.from, to: period.to)
                try await ExportCommand.audit(dependencies, .activityExport, resourceType: "community", resourceID: id.storageKey)
                try ExportCommand.write(ActivityCSV.render(rows, flavour: plain ? .plain : .french), to: output)
            }
        }
    }
}
