import ConcertoCore
import Foundation
import Mustache

/// A board's completeness items as pages show them: the label, whether the file meets it,
/// and where to add what is missing.
struct CompletenessLine: Sendable, MustacheParent {
    let label: String
    let level: String
    let required: Bool
    let met: Bool
    /// Where to add it (upload a report, attach a study, edit the fiche); false when the
    /// item is met or is the presenter's to attest.
    let fixURL: String?
    let fixLabel: String?

    func child(named name: String) -> Any? {
        switch name {
        case "label": label
        case "level": level
        case "required": required
        case "met": met
        case "fixURL": fixURL ?? false
        case "fixLabel": fixLabel ?? false
        default: nil
        }
    }
}

enum CompletenessPresentation {
    static func label(_ check: CompletenessCheck, pages: PageBuilder) -> String {
        switch check {
        case .recentImaging(let days): pages.text("completeness_recent_imaging", ["days": String(days)])
        case .molecularResults(let sites): pages.text("completeness_molecular_results", ["sites": sites.joined(separator: ", ")])
        case .attested(let label): label
        default: pages.text("completeness_\(check.key)")
        }
    }

    static func fix(_ check: CompletenessCheck, caseID: UUID, pages: PageBuilder) -> (url: String, label: String)? {
        switch check {
        case .pathologyReport, .molecularResults: (SiteURL.caseItem(caseID).path + "#documents-title", pages.text("completeness_fix_report"))
        case .recentImaging: (SiteURL.caseImaging(caseID).path, pages.text("completeness_fix_imaging"))
        case .tnmStaged, .performanceStatus, .question: (SiteURL.caseEdit(caseID).path, pages.text("completeness_fix_edit"))
        case .attested: nil
        }
    }

    static func lines(_ report: CompletenessReport, caseID: UUID, pages: PageBuilder) -> [CompletenessLine] {
        report.lines.map { line in
            let fix = line.met ? nil : fix(line.item.check, caseID: caseID, pages: pages)
            return CompletenessLine(label: label(line.item.check, pages: pages), level: pages.text("completeness_level_\(line.item.level.rawValue)"),
                                    required: line.item.level == .required, met: line.met, fixURL: fix?.url, fixLabel: fix?.label)
        }
    }

    /// The case page's and the séance's card: each line, whether all are met, the override.
    static func fields(_ report: CompletenessReport, override: String?, caseID: UUID, pages: PageBuilder) -> ViewFields {
        ViewFields(["lines": lines(report, caseID: caseID, pages: pages), "complete": report.isComplete ? true : nil, "override": override])
    }

    /// The agenda's badge: complete, or how many items are missing (named in its title).
    static func badgeHTML(_ report: CompletenessReport, overridden: Bool, pages: PageBuilder) -> String {
        guard !report.lines.isEmpty else { return "" }
        if report.isComplete {
            return "<span class=\"badge badge--success\" data-test=\"completeness\">\(HTMLEscaping.escape(pages.text("completeness_complete")))</span>"
        }
        let missing = report.missing.map { label($0.check, pages: pages) }.joined(separator: ", ")
        let required = !report.missingRequired.isEmpty
        var text = pages.text("completeness_missing_count", ["count": String(report.missing.count), "total": String(report.lines.count)])
        if overridden { text += " · " + pages.text("completeness_overridden") }
        return "<span class=\"badge \(required ? "badge--danger" : "badge--warning")\" title=\"\(HTMLEscaping.escape(missing))\" data-test=\"completeness\">"
            + "\(HTMLEscaping.escape(text))</span>"
    }
}
