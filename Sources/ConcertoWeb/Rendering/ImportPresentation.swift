import CDA
import ConcertoCore
import ConcertoServices

/// The document importer's messages and refusals, worded in the reader's language (the
/// upload page, the hospital API, `concerto cda import`).
public enum ImportPresentation {
    public static func text(_ message: DocumentImporter.Message, in language: AppLanguage) -> String {
        switch message {
        case .reader(let words): words
        case .noPatient: Localization.text("document_message_no_patient", in: language)
        case .otherPatientINS(let ins): Localization.text("document_message_other_ins", in: language, ["ins": ins])
        case .otherPatientTraits(let document, let patient):
            Localization.text("document_message_other_traits", in: language, [
                "document": traits(document, in: language),
                "patient": patient.displayName + ", " + Localization.text("document_traits_born", in: language, ["date": patient.birthDate.french]),
            ])
        case .incompleteHeader: Localization.text("document_message_incomplete_header", in: language)
        case .idConflict(let id): Localization.text("document_message_id_conflict", in: language, ["id": id])
        case .studiesNotSearched: Localization.text("document_message_studies_not_searched", in: language)
        case .studiesAttached(let count): Localization.text("document_message_studies_attached", in: language, ["n": String(count)])
        case .studiesMissing(let count, let unavailable):
            Localization.text("document_message_studies_missing", in: language, ["n": String(count), "why": unavailable.map { " (\($0))" } ?? ""])
        }
    }

    public static func text(_ problem: DocumentImporter.TargetProblem, in language: AppLanguage) -> String {
        Localization.text("document_target_\(problem.rawValue)", in: language)
    }

    /// A document's identity traits as a person compares them: names, birth date, sex.
    public static func traits(_ patient: CDAPatient?, in language: AppLanguage) -> String {
        guard let patient else { return "" }
        let usedName = patient.usedName.flatMap { $0 == patient.birthName ? nil : "(" + Localization.text("document_traits_used_name", in: language, ["name": $0]) + ")" }
        let born = patient.birthDate.map { Localization.text("document_traits_born", in: language, ["date": $0.french]) }
        return [patient.birthName, usedName, patient.firstName, born, patient.sex].compactMap { $0 }.joined(separator: " ")
    }
}
