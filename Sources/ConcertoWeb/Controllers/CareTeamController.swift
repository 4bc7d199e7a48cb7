import ConcertoCore
import ConcertoStore
import Foundation
import HTTPTypes
import Hummingbird
import Mustache

/// The care team and the patient's oppositions: who declares care, who records or lifts an
/// opposition (the policy says; `AccessGuard` checks and audits).
struct CareTeamController: Sendable {
    let care: CareStore
    let organisations: OrganisationStore
    let audit: AuditLog
    let guardian: AccessGuard

    func addRoutes(to group: some RouterMethods<AuthenticatedContext>) {
        group.post(SiteURL.route { id, _ in .patientCareTeam(id) }, use: addCareLink)
        group.post(SiteURL.route { .patientCareLinkEnd($0, link: $1) }, use: endCareLink)
        group.post(SiteURL.route { id, _ in .patientOppositions(id) }, use: recordOpposition)
        group.post(SiteURL.route { .patientOppositionWithdraw($0, opposition: $1) }, use: withdrawOpposition)
    }

    @Sendable func addCareLink(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let patientID = try context.parameters.uuid(.patient)
        let form = try context.requiredForm
        let outcome = try await guardian.require(.declareCare, patient: patientID, auditAction: .careLinkAdd, auditAllowed: false, context: context)
        guard let reason = form.trimmed("reason"), reason.count <= 200 else {
            return context.sessions.redirect(to: SiteURL.patient(patientID), flash: .error, "flash_care_reason_missing")
        }
        let party: CareLink.Party
        if form["party"] == "organisation" {
            guard let organisation = context.user.organisationID else { throw AppError.badRequest }
            party = .organisation(organisation)
        } else {
            party = .professional(context.user.id)
        }
        let end = DisplayFormat.startOfDay(form.trimmed("end"))
        try await care.addCareLink(
            patientID: patientID, party: party, reason: reason, start: Date(), end: end, declaredBy: context.user.id,
            audit: guardian.allowedEvent(outcome.decision, auditAction: .careLinkAdd, resourceType: "care_relationship", patientID: patientID, context: context)
        )
        return context.sessions.redirect(to: SiteURL.patient(patientID), flash: .success, "flash_care_added")
    }

    @Sendable func endCareLink(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let patientID = try context.parameters.uuid(.patient)
        let linkID = try context.parameters.uuid(.link)
        let outcome = try await guardian.require(.declareCare, patient: patientID, auditAction: .careLinkEnd, auditAllowed: false, context: context)
        guard try await care.endCareLink(id: linkID, patientID: patientID, audit: guardian.allowedEvent(
            outcome.decision, auditAction: .careLinkEnd, resourceType: "care_relationship", resourceID: linkID.storageKey, patientID: patientID, context: context))
        else { throw AppError.notFound }
        return context.sessions.redirect(to: SiteURL.patient(patientID), flash: .success, "flash_care_ended")
    }

    @Sendable func recordOpposition(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let patientID = try context.parameters.uuid(.patient)
        let form = try context.requiredForm
        let outcome = try await guardian.require(.writeAdministrative, patient: patientID, auditAction: .oppositionRecord, auditAllowed: false, context: context)
        let parts = (form["target"] ?? "").split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, let id = UUID(storageKey: parts[1]) else { throw AppError.badRequest }
        let target: OppositionScope.Target
        switch parts[0] {
        case "community" where outcome.facts.caseCommunities.contains(id): target = .community(id)
        case "organisation" where try await organisations.find(id: id) != nil: target = .organisation(id)
        default: throw AppError.badRequest
        }
        try await care.recordOpposition(patientID: patientID, target: target, by: context.user.id, audit: guardian.allowedEvent(
            outcome.decision, auditAction: .oppositionRecord, resourceType: "opposition", resourceID: id.storageKey, patientID: patientID, context: context))
        return context.sessions.redirect(to: SiteURL.patient(patientID), flash: .success, "flash_opposition_recorded")
    }

    @Sendable func withdrawOpposition(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let patientID = try context.parameters.uuid(.patient)
        let oppositionID = try context.parameters.uuid(.opposition)
        let outcome = try await guardian.require(.writeAdministrative, patient: patientID, auditAction: .oppositionWithdraw, auditAllowed: false, context: context)
        guard let opposition = try await care.oppositions(of: patientID).first(where: { $0.id == oppositionID && $0.scope.withdrawnAt == nil }) else {
            throw AppError.notFound
        }
        guard OppositionRules.mayLift(opposition.scope, outcome.facts, policy: guardian.policy, at: Date()) else {
            try await audit.record(context.auditDraft(.oppositionWithdraw, resourceType: "opposition", resourceID: oppositionID.storageKey, patientID: patientID,
                                                      outcome: .denied, reason: "not_care_team_or_coordinator"))
            throw AppError.forbidden
        }
        guard let reason = context.form?.trimmed("reason"), (5...500).contains(reason.count) else {
            return context.sessions.redirect(to: SiteURL.patient(patientID), flash: .error, "flash_opposition_reason_required")
        }
        guard try await care.withdrawOpposition(id: oppositionID, patientID: patientID, by: context.user.id, reason: reason, audit: guardian.allowedEvent(
            outcome.decision, auditAction: .oppositionWithdraw, resourceType: "opposition", resourceID: oppositionID.storageKey, patientID: patientID, context: context))
        else { throw AppError.notFound }
        return context.sessions.redirect(to: SiteURL.patient(patientID), flash: .success, "flash_opposition_withdrawn")
    }
}

extension CareLink.Party {
    var isOrganisation: Bool {
        if case .organisation = self { return true }
        return false
    }
}
