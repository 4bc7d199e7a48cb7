import Foundation

/// The readable summary `concerto cda inspect` prints without `--json`.
public enum CDASummary {
    public static func text(file: String, report: CDAReport) -> String {
        var lines = ["\(file) : \(report.ok ? "lu" : "refusé")"]
        if let document = report.document {
            func add(_ label: String, _ value: String?) { if let value, !value.isEmpty { lines.append("  \(label) : \(value)") } }
            add("Type", document.type.map { [$0.code, $0.displayName].compactMap { $0 }.joined(separator: " — ") })
            add("Titre", document.title)
            add("Date", document.effectiveTime?.french)
            add("Document", document.id?.key)
            add("Version", document.version.map { "\($0)" + (document.setID.map { " du lot \($0.key)" } ?? "") })
            if let patient = document.patient {
                let name = [patient.birthName, patient.given.first].compactMap { $0 }.joined(separator: " ")
                add("Patient", [name, patient.birthDate?.french, patient.sex].compactMap { $0 }.joined(separator: ", "))
                add("INS", patient.ins.map { "\($0.value) (\($0.contractKind)\($0.isValid ? "" : ", clé invalide"))" })
            }
            add("Auteur(s)", document.authors.map(\.displayName).joined(separator: " ; "))
            add("Structure", document.custodian?.name)
            add("Sections", document.sections.compactMap { $0.title ?? $0.code?.code }.joined(separator: " | "))
            add("Examens (Study UID)", document.studyInstanceUIDs.joined(separator: ", "))
            let tnm = document.tnm
            if !tnm.isEmpty {
                add("TNM", [tnm.cT, tnm.cN, tnm.cM, tnm.pT.map { "p\($0)" }, tnm.pN.map { "p\($0)" }, tnm.pM.map { "p\($0)" }].compactMap { $0 }.joined(separator: " "))
            }
            if case .nonXML(let mediaType, let data) = document.body {
                add("Corps non structuré", "\(mediaType ?? "?")" + (data.map { ", \($0.count) octets" } ?? ""))
            }
            if let pdf = document.pdf { add("PDF", "\(pdf.count) octets") }
        }
        lines += report.errors.map { "  ERREUR : \($0)" }
        lines += report.warnings.map { "  avertissement : \($0)" }
        return lines.joined(separator: "\n")
    }
}
