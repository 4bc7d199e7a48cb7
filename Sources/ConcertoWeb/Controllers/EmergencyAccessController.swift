import ConcertoCore
import ConcertoStore
import Foundation
import HTTPTypes
import Hummingbird
import Mustache

/// Break-the-glass: a physician without care access asks for it, with a reason and a
/// justification that go into the trail; the grant lasts `EmergencyAccessRules.duration`.
struct EmergencyAccessController: Sendable {
    let patients: PatientStore
    let care: CareStore
    let audit: AuditLog
    let guardian: AccessGuard
    let emergencyRules: EmergencyAccessRules
    let renderer: Renderer

    func addRoutes(to group: some RouterMethods<AuthenticatedContext>) {
        group.get(SiteURL.route { id, _ in .patientEmergencyAccess(id) }, use: emergencyForm)
        group.post(SiteURL.route { id, _ in .patientEmergencyAccess(id) }, use: requestEmergencyAccess)
    }

    struct EmergencyContent: Sendable, PageModel {
        let patientID, name, refusal: String
        let reasonCodes: [SelectOption]
        let justification: String
        let error: String?
        let needsConfirmation, overridePossible: Bool
        let hours, actionURL, patientURL: String
    }

    @Sendable func emergencyForm(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let patientID = try context.parameters.uuid(.patient)
        return try await renderEmergency(request: request, context: context, patientID: patientID, form: FormData(fields: [:]), problem: nil)
    }

    private func renderEmergency(
        request: Request, context: AuthenticatedContext, patientID: UUID, form: FormData, problem: EmergencyAccessRules.Problem?,
        status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let pages = PageBuilder(request: request, context: context)
        let outcome = try await guardian.require(.readAdministrative, patient: patientID, auditAction: .emergencyAccessGrant, auditAllowed: false, context: context)
        let clinical = guardian.policy.decide(.readClinical, outcome.facts, at: Date())
        if clinical.allowed, problem == nil { return .redirect(to: SiteURL.patient(patientID).path, type: .normal) }
        guard let record = try await patients.find(id: patientID) else { throw AppError.notFound }
        var problem = problem, status = status
        if problem == nil, !outcome.facts.isPhysician { (problem, status) = (.physicianOnly, .forbidden) }
        let content = EmergencyContent(
            patientID: patientID.storageKey, name: record.identity.displayName,
            refusal: pages.text("access_reason_\(clinical.reason.rawValue)"),
            reasonCodes: SelectOption.list(EmergencyAccessRules.ReasonCode.allCases, labelledBy: "emergency_reason", chosen: form["reason_code"], pages: pages),
            justification: form["justification"] ?? "",
            error: problem.map { pages.text("emergency_problem_\($0)") },
            needsConfirmation: problem == .confirmationRequired,
            overridePossible: clinical.reason == .opposition && guardian.policy.breakTheGlassMayOverrideOpposition,
            hours: String(format: "%g", emergencyRules.duration.seconds / 3600),
            actionURL: SiteURL.patientEmergencyAccess(patientID).path, patientURL: SiteURL.patient(patientID).path
        )
        return try renderer.html("emergency_access", pages.page(content), status: status)
    }

    @Sendable func requestEmergencyAccess(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let patientID = try context.parameters.uuid(.patient)
        let form = try context.requiredForm
        let now = Date()
        let outcome = try await guardian.require(.readAdministrative, patient: patientID, auditAction: .emergencyAccessGrant, auditAllowed: false, context: context, at: now)
        let clinical = guardian.policy.decide(.readClinical, outcome.facts, at: now)
        let justification = form.trimmed("justification") ?? ""
        switch emergencyRules.grant(
            justification: justification, reasonCode: form["reason_code"], confirmedOverride: form["confirm_override"] == "1",
            current: clinical, requesterIsPhysician: outcome.facts.isPhysician, policy: guardian.policy, at: now
        ) {
        case .failure(.notNeeded) where clinical.allowed:
            return .redirect(to: SiteURL.patient(patientID).path, type: .normal)
        case .failure(let problem):
            try await audit.record(context.auditDraft(.emergencyAccessGrant, resourceType: "patient", resourceID: patientID.storageKey, patientID: patientID,
                                                      mode: .breakTheGlass, outcome: .denied, reason: "\(problem)"), at: now)
            return try await renderEmergency(request: request, context: context, patientID: patientID, form: form, problem: problem,
                                             status: problem == .confirmationRequired ? .ok : problem == .physicianOnly ? .forbidden : .badRequest)
        case .success(let grant):
            let community = outcome.facts.caseCommunities.filter { outcome.facts.memberships[$0]?.status == .active }.sorted { $0.storageKey < $1.storageKey }.first
            let reasonCode = form["reason_code"] ?? ""
            // The justification is evidence: it goes into the trail with the grant.
            try await care.recordEmergencyGrant(
                grant, patientID: patientID, userID: context.user.id, communityID: community, reasonCode: reasonCode, justification: justification,
                audit: context.auditDraft(.emergencyAccessGrant, resourceType: "patient", resourceID: patientID.storageKey, patientID: patientID,
                                          mode: .breakTheGlass, outcome: .success,
                                          reason: "\(reasonCode)\(grant.overridesOpposition ? AuditPresentation.oppositionOverride : ""): \(justification)")
            )
            return context.sessions.redirect(to: SiteURL.patient(patientID), flash: .info, "flash_emergency_granted")
        }
    }
}
