import CDA
import ConcertoCore
import ConcertoStore
import Foundation
import HTTPTypes
import Hummingbird

/// Exports hospitals file: the fiche RCP as CDA R2. Each download passes `AccessGuard`
/// (reading the case's clinical data) and is audited as `case.export`.
struct ExportController: Sendable {
    let cases: CaseStore
    let exporter: FicheExporter
    let guardian: AccessGuard
    let renderer: Renderer

    func addRoutes(to group: some RouterMethods<AuthenticatedContext>) {
        group.get(PatientController.route { id, _ in .caseFicheXML(id) }, use: ficheXML)
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
