import ConcertoCore
import ConcertoServices
@testable import ConcertoWeb
import ConcertoTestSupport
import Foundation
import Testing

/// Interface texts that cannot drift: one definition per key, both languages for each, every
/// key the Swift code asks for present, and no interface text written in Swift.
@Suite struct LocalizationTests {
    /// The importer returns what happened as values; each is worded in both languages
    /// (it once answered in French to an English page and to the API's English callers).
    @Test func everyImportMessageIsWordedInBothLanguages() throws {
        let patient = PatientIdentity(birthName: "MARTIN", firstNames: "Paul", birthDate: try #require(CalendarDate(iso: "1960-02-03")), sex: .male,
                                      status: .provisional)
        let messages: [DocumentImporter.Message] = [
            .noPatient, .otherPatientINS(documentINS: "160022A000000"), .otherPatientTraits(document: nil, patient: patient),
            .incompleteHeader, .idConflict("1.2.250.1^42"), .studiesNotSearched, .studiesAttached(2), .studiesMissing(1, unavailable: nil),
        ]
        for message in messages {
            let french = ImportPresentation.text(message, in: .fr), english = ImportPresentation.text(message, in: .en)
            #expect(french != english && !english.hasPrefix("document_") && !english.contains("{"), "\(message): \(english)")
        }
        for problem in DocumentImporter.TargetProblem.allCases {
            #expect(ImportPresentation.text(problem, in: .fr) != ImportPresentation.text(problem, in: .en))
        }
        #expect(ImportPresentation.text(.otherPatientTraits(document: nil, patient: patient), in: .en).contains("MARTIN Paul, born 03/02/1960"))
    }

    /// Stored instants show in Paris time whichever form they were written in: the plain
    /// form (read by hand), the audit trail's fractional seconds, an offset; anything else as is.
    @Test func storedInstantsShowInParisTime() {
        #expect(DisplayFormat.dateTime(iso: "2026-12-03T04:30:00Z") == "03/12/2026 05:30")
        #expect(DisplayFormat.dateTime(iso: "2026-07-03T22:15:09.123Z") == "04/07/2026 00:15")
        #expect(DisplayFormat.dateTime(iso: "2026-07-03T22:15:09+02:00") == "04/07/2026 00:15")
        #expect(DisplayFormat.dateTime(iso: "not a date") == "not a date")
    }

    @Test func everyKeyIsDefinedOnceWithBothLanguages() {
        var seen: [String: String] = [:]
        for section in Localization.sections {
            for (key, text) in section.entries {
                if let first = seen[key] { Issue.record("\(key) is defined in \(first) and in \(section.name)") }
                seen[key] = section.name
                #expect(!text.fr.isEmpty && !text.en.isEmpty, "\(key): a language is empty")
            }
        }
        #expect(Set(Localization.table(.fr).keys) == Set(Localization.table(.en).keys))
    }

    /// The keys written in Swift (`text("…")`, flash messages) exist; keys built from an enum
    /// (`text("case_status_\(status.rawValue)")`) exist for each of its cases. A family this
    /// test does not know fails it, so that a new one is listed here with its values.
    @Test func everyKeyTheCodeAsksForExists() throws {
        let families: [String: [String]] = [
            "proposal_": ProposalType.allCases.map(\.rawValue),
            "discipline_": Specialty.Discipline.allCases.map(\.rawValue),
            "quorum_discipline_": Specialty.Discipline.allCases.map(\.rawValue),
            "identity_document_": IdentityDocumentType.allCases.map(\.rawValue),
            "case_status_": CaseStatus.allCases.map(\.rawValue),
            "access_reason_": AccessReason.allCases.map(\.rawValue),
            "weekday_": (1...7).map(String.init),
            "role_": ProfessionalRole.allCases.map(\.rawValue),
            "identity_status_": IdentityStatus.allCases.map(\.rawValue),
            "follow_up_outcome_": FollowUpOutcome.allCases.map(\.rawValue),
            "community_kind_": CommunityKind.allCases.map(\.rawValue),
            "audit_outcome_": AuditOutcome.allCases.map(\.rawValue),
            "attendance_": AttendanceStatus.allCases.map(\.rawValue),
            "account_request_refusal_": AccountRequest.Refusal.allCases.map(\.rawValue),
            "site_group_": TumourSiteGroup.allCases.filter { $0 != .unknown }.map { "\($0)" },
            "sex_": AdministrativeSex.allCases.map(\.rawValue),
            "series_kind_": MeetingSeriesKind.allCases.map(\.rawValue),
            "registration_missing_": BoardRegistration.Missing.allCases.map(\.rawValue),
            "presentation_": PresentationReason.allCases.map(\.rawValue),
            "patient_match_": ["ins", "traits"],
            "ins_kind_": INSKind.allCases.map(\.rawValue),
            "membership_status_": MembershipStatus.allCases.map(\.rawValue),
            "community_role_": CommunityRole.allCases.map(\.rawValue),
            "completeness_level_": CompletenessLevel.allCases.map(\.rawValue),
            "discovery_": DiscoveryMode.allCases.map(\.rawValue),
            "case_error_": CaseContent.Problem.allCases.map(\.rawValue),
            "follow_up_error_": DecisionFollowUp.Problem.allCases.map(\.rawValue),
            "emergency_reason_": EmergencyAccessRules.ReasonCode.allCases.map(\.rawValue),
            "ordinal_": ["1", "2", "3", "4", "-1"],
            "document_status_": ["imported", "already_imported", "refused", "needs_confirmation"],
            "document_target_": DocumentImporter.TargetProblem.allCases.map(\.rawValue),
        ]
        // Keys built from data or from error types that list no cases: the pages that show
        // them are tested; listed here so that a new family is a decision, not an accident.
        let builtFromData: Set<String> = ["completeness_", "document_source_", "emergency_problem_", "error_", "identity_verifier_", "imaging_error_",
                                          "modality_", "patient_error_"]
        let sources = try Self.swiftFiles(under: Repository.root.appendingPathComponent("Sources/ConcertoWeb"))
        let literal = try Regex(#"(?:(?:pages|Localization)\.text\(|flash\(|flash: )(?:\.[a-z]+, )?"([a-z0-9_]+)"(?:[,)])"#)
        let built = try Regex(#"(?:pages|Localization)\.text\("([a-z0-9_]+)\\\("#)
        // `SelectOption.list(…, labelledBy: "sex", …)` builds `sex_<value>`.
        let labelledBy = try Regex(#"labelledBy: "([a-z0-9_]+)""#)
        var unknownFamilies: Set<String> = []
        for (file, text) in sources {
            for match in text.matches(of: literal) {
                let key = String(match.output[1].substring ?? "")
                #expect(Localization.table(.fr)[key] != nil, "\(file): \(key) is not defined")
            }
            let prefixes = text.matches(of: built).map { String($0.output[1].substring ?? "") }
                + text.matches(of: labelledBy).map { String($0.output[1].substring ?? "") + "_" }
            for prefix in prefixes {
                guard let values = families[prefix] else {
                    if !builtFromData.contains(prefix) { unknownFamilies.insert("\(prefix) (\(file))") }
                    continue
                }
                for value in values {
                    #expect(Localization.table(.fr)[prefix + value] != nil, "\(file): \(prefix)\(value) is not defined")
                }
            }
        }
        #expect(unknownFamilies.isEmpty, "keys built from values this test does not list: \(unknownFamilies.sorted())")
    }

    /// Interface texts live in the tables. What stays in Swift is data: the demo's French
    /// people and places, the minutes' own French (a French medical record, as the fiche RCP
    /// in CDA), product names. The application services (ConcertoServices) return typed
    /// messages that the web words, so they are read too.
    @Test func noInterfaceTextIsWrittenInSwift() throws {
        let data: Set<String> = ["DemoData.swift", "DemoHistory.swift", "FicheExporter.swift"]
        let names = ["Pro Santé Connect"]
        let sources = try (Self.swiftFiles(under: Repository.root.appendingPathComponent("Sources/ConcertoWeb"))
            + Self.swiftFiles(under: Repository.root.appendingPathComponent("Sources/ConcertoServices")))
            .filter { !$0.file.hasPrefix("Localization") && !data.contains($0.file) }
        let stringLiteral = try Regex(#""(?:[^"\\\n]|\\.)*""#)
        let french = try Regex(#"[éèêàçùôîÉ]"#)
        var found: [String] = []
        for (file, text) in sources {
            for line in text.split(separator: "\n") where !line.trimmingCharacters(in: .whitespaces).hasPrefix("//") {
                for match in line.matches(of: stringLiteral) {
                    var literal = String(line[match.range].dropFirst().dropLast())
                    for name in names { literal = literal.replacingOccurrences(of: name, with: "") }
                    if literal.contains(french) { found.append("\(file): \"\(literal)\"") }
                }
            }
        }
        #expect(found.isEmpty, "interface text in Swift: \(found)")
    }

    static func swiftFiles(under directory: URL) throws -> [(file: String, text: String)] {
        let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil)
        var files: [(String, String)] = []
        while let url = enumerator?.nextObject() as? URL {
            guard url.pathExtension == "swift" else { continue }
            files.append((url.lastPathComponent, try String(contentsOf: url, encoding: .utf8)))
        }
        return files.sorted { $0.0 < $1.0 }
    }
}
