import ConcertoCore
import ConcertoStore
import Foundation
import HTTPTypes
import Hummingbird
import Mustache

/// The patient's access report: every access to the record (and to records merged into it),
/// for those the policy lets read the trail; a page and a CSV.
struct AccessReportController: Sendable {
    let patients: PatientStore
    let audit: AuditLog
    let guardian: AccessGuard
    let renderer: Renderer

    func addRoutes(to group: some RouterMethods<AuthenticatedContext>) {
        group.get(SiteURL.route { id, _ in .patientAccessReport(id) }, use: accessReport)
        group.get(SiteURL.route { id, _ in .patientAccessReportCSV(id) }, use: accessReportCSV)
    }

    struct AccessReportContent: Sendable, PageModel {
        let name: String
        let events: [ViewFields]
        let patientURL, csvURL: String
    }

    private func reportRows(patientID: UUID, context: AuthenticatedContext) async throws -> (PatientRecord, [AuditLog.ReportRow]) {
        try await guardian.require(.readAuditTrail, patient: patientID, auditAction: .accessReport, context: context)
        guard let record = try await patients.find(id: patientID) else { throw AppError.notFound }
        let ids = [patientID] + (try await patients.mergedRecords(into: patientID))
        return (record, try await audit.report(patientIDs: ids))
    }

    @Sendable func accessReport(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let patientID = try context.parameters.uuid(.patient)
        let pages = PageBuilder(request: request, context: context)
        let (record, rows) = try await reportRows(patientID: patientID, context: context)
        let content = AccessReportContent(
            name: record.identity.displayName,
            events: rows.map { AuditPresentation.fields($0, pages: pages) },
            patientURL: SiteURL.patient(patientID).path, csvURL: SiteURL.patientAccessReportCSV(patientID).path
        )
        return try renderer.html("access_report", pages.page(content))
    }

    @Sendable func accessReportCSV(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let patientID = try context.parameters.uuid(.patient)
        let pages = PageBuilder(request: request, context: context)
        let (_, rows) = try await reportRows(patientID: patientID, context: context)
        return Responses.download(Data(AuditPresentation.csv(rows, pages: pages).utf8), type: "text/csv; charset=utf-8",
                                  name: "acces-dossier-\(patientID.storageKey).csv")
    }
}
