import Documents
import ConcertoCore
import ConcertoStore
import Foundation

/// Audit events as the audit pages and the access report show and export them.
enum AuditPresentation {
    static func fields(_ row: AuditLog.ReportRow, pages: PageBuilder) -> ViewFields {
        let event = row.event
        return ViewFields([
            "sequence": String(event.sequence),
            "time": DisplayFormat.dateTime(iso: event.recordedAt),
            "actor": row.actorName ?? pages.text("audit_unknown_actor"),
            "organisation": row.organisationName,
            "action": actionLabel(event.action, pages: pages),
            "breakTheGlass": event.mode == AccessMode.breakTheGlass.rawValue ? true : nil,
            "denied": event.outcome == AuditOutcome.denied.rawValue || event.outcome == AuditOutcome.failure.rawValue ? true : nil,
            "outcome": pages.text("audit_outcome_\(event.outcome)"),
            "reason": event.reason.map { reasonLabel($0, pages: pages) },
            "patientURL": event.patientID.flatMap(UUID.init(storageKey:)).map { SiteURL.patient($0).path },
            "clientAddress": event.clientAddress,
        ])
    }

    static func actionLabel(_ action: String, pages: PageBuilder) -> String {
        let key = "audit_action_" + action.replacingOccurrences(of: ".", with: "_")
        let text = pages.text(key)
        return text == key ? action : text
    }

    /// Appended to an emergency grant's reason code in the trail when it overrides the
    /// patient's opposition: a marker, worded in the reader's language when shown.
    static let oppositionOverride = " [opposition_override]"

    static func reasonLabel(_ reason: String, pages: PageBuilder) -> String {
        guard AccessReason(rawValue: reason) != nil else {
            return reason.replacingOccurrences(of: oppositionOverride, with: " " + pages.text("audit_opposition_override"))
        }
        return pages.text("access_reason_\(reason)")
    }

    /// `;`-separated UTF-8 with a byte-order mark, as French spreadsheets expect.
    static func csv(_ rows: [AuditLog.ReportRow], pages: PageBuilder) -> String {
        var lines = ["\u{FEFF}" + ["date", "professionnel", "organisation", "action", "mode", "resultat", "motif"].joined(separator: ";")]
        for row in rows {
            let event = row.event
            lines.append([
                DisplayFormat.dateTime(iso: event.recordedAt), row.actorName ?? "", row.organisationName ?? "",
                actionLabel(event.action, pages: pages), event.mode, pages.text("audit_outcome_\(event.outcome)"),
                event.reason.map { reasonLabel($0, pages: pages) } ?? "",
            ].map(csvField).joined(separator: ";"))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// Quotes a field when needed and neutralises what a spreadsheet would run as a formula,
    /// by the activity export's rule.
    static func csvField(_ value: String) -> String {
        ActivityCSV.quoted(value, separator: ";")
    }
}
