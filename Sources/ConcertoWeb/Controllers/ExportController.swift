import CDA
import ConcertoCore
import ConcertoStore
import Documents
import Foundation
import HTTPTypes
import Hummingbird

/// Exports hospitals file: the fiche RCP as CDA R2. Each download passes `AccessGuard`
/// (reading the case's clinical data) and is audited as `case.export`.
struct ExportController: Sendable {
    let cases: CaseStore
    let communities: CommunityStore
    let activity: ActivityStore
    let exporter: FicheExporter
    let guardian: AccessGuard
    let renderer: Renderer

    func addRoutes(to group: some RouterMethods<AuthenticatedContext>) {
        group.get(PatientController.route { id, _ in .caseFicheXML(id) }, use: ficheXML)
        group.get(PatientController.route { id, _ in .communityActivityCSV(id) }, use: activityCSV)
    }

    /// `?from=YYYY-MM-DD&to=YYYY-MM-DD` (to inclusive; default: the last 12 months) and
    /// `format=plain` for the comma flavour. Coordinators of the community and platform
    /// admins only: the figures are pseudonymous but still about patients.
    @Sendable func activityCSV(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let id = try context.parameters.uuid("id")
        guard let community = try await communities.find(id: id) else { throw AppError.notFound }
        let membership = try await communities.membership(userID: context.user.id, in: id)
        guard context.user.isAdmin || membership != nil else { throw AppError.notFound }
        guard context.user.isAdmin || (membership?.role == .coordinator && membership?.status == .active) else {
            _ = try await guardian.audit.record(context.auditDraft(.activityExport, resourceType: "community", resourceID: id.storageKey, outcome: .denied,
                                                                   reason: "not_coordinator"))
            throw AppError.forbidden
        }
        let query = request.uri.queryParameters
        let today = ParisCalendar.date(of: Date())
        guard let range = ExportPeriod.parse(from: query["from"].map(String.init), to: query["to"].map(String.init), today: today) else { throw AppError.badRequest }
        let flavour: ActivityCSV.Flavour = query["format"] == "plain" ? .plain : .french
        let rows = try await activity.presentedCases(community: community.id, from: range.from, to: range.to)
        _ = try await guardian.audit.record(context.auditDraft(.activityExport, resourceType: "community", resourceID: id.storageKey, outcome: .success,
                                                               reason: "rows:\(rows.count)"))
        let name = "activite-\(community.name.filter { $0.isLetter || $0.isNumber })-\(range.label).csv"
        return DocumentController.download(ActivityCSV.render(rows, flavour: flavour), type: "text/csv; charset=utf-8", name: name)
    }


    @Sendable func ficheXML(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let id = try context.parameters.uuid("id")
        guard let record = try await cases.find(id: id) else {
            _ = try await guardian.audit.record(context.auditDraft(.caseExport, resourceType: "case", resourceID: id.storageKey, outcome: .denied, reason: "unknown_case"))
            throw AppError.notFound
        }
        let pages = PageBuilder(request: request, context: context)
        try await guardian.require(.readClinical, patient: record.patientID, community: record.communityID, auditAction: .caseExport,
                                   resourceType: "case", resourceID: "\(record.id.storageKey)/fiche.xml", context: context)
        do {
            let data = try await exporter.cda(of: record)
            return DocumentController.download(data, type: "application/xml", name: "fiche-rcp-\(record.id.storageKey)-v\(record.edition).xml")
        } catch FicheExporter.Problem.notValidated {
            return try renderer.html("imaging_refused", pages.page(ViewFields([
                "message": pages.text("case_export_not_validated"), "backURL": SiteURL.caseItem(record.id).path, "caseURL": SiteURL.caseItem(record.id).path,
            ])), status: .conflict)
        }
    }
}

/// A period of whole Paris days for exports: [from 00:00, the day after `to` 00:00).
public enum ExportPeriod {
    /// Nil for an unreadable or reversed range; empty bounds default to the last 12 months.
    public static func parse(from: String?, to: String?, today: CalendarDate) -> (from: Date, to: Date, label: String)? {
        func day(_ text: String?) -> CalendarDate?? {
            guard let text, !text.isEmpty else { return .some(nil) }
            return CalendarDate(iso: text).map { .some($0) } ?? nil
        }
        guard let end = day(to), let start = day(from) else { return nil }
        let last = end ?? today
        let first = start ?? CalendarDate(year: today.year - 1, month: today.month, day: min(today.day, 28))!
        guard first <= last else { return nil }
        let midnight = LocalTime(hour: 0, minute: 0)!
        return (ParisCalendar.instant(first, midnight), ParisCalendar.instant(ParisCalendar.adding(days: 1, to: last), midnight), "\(first.iso)_\(last.iso)")
    }
}
