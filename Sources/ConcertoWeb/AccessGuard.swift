import ConcertoCore
import ConcertoStore
import Foundation
import Hummingbird

/// The one door to patient data: loads the facts, asks `AccessPolicy`, records the
/// decision in the audit trail, and turns refusals into errors. A patient the user's
/// communities do not hold answers 404, exactly like one that does not exist.
struct AccessGuard: Sendable {
    let care: CareStore
    let audit: AuditLog
    let policy: AccessPolicy

    struct Outcome: Sendable {
        let decision: AccessDecision
        let facts: AccessFacts
    }

    /// Checks `action` on the patient; throws after auditing the refusal. An allowed
    /// access is audited too unless `auditAllowed` is false (writes record their own
    /// event in the same transaction as the change).
    @discardableResult
    func require(
        _ action: AccessAction, patient patientID: UUID, community: UUID? = nil, auditAction: AuditAction, resourceType: String = "patient",
        resourceID: String? = nil, auditAllowed: Bool = true, context: AuthenticatedContext, at now: Date = Date()
    ) async throws -> Outcome {
        let outcome = try await evaluate(action, patient: patientID, community: community, auditAction: auditAction, resourceType: resourceType,
                                         resourceID: resourceID, context: context, at: now)
        if outcome.decision.allowed {
            if auditAllowed {
                try await audit.record(allowedEvent(outcome.decision, auditAction: auditAction, resourceType: resourceType, resourceID: resourceID,
                                                    patientID: patientID, context: context), at: now)
            }
            return outcome
        }
        throw AppError.accessDenied(outcome.decision.reason, patientID: breakTheGlassMayHelp(outcome.decision, facts: outcome.facts) ? patientID : nil)
    }

    /// The case named by the URL's `{case}`, once `action` is allowed on its patient in its
    /// community; an unknown case is audited as a denial and answers 404 like a forbidden one.
    func requireCase(
        _ action: AccessAction, cases: CaseStore, auditAction: AuditAction, resourceType: String = "case", resourceID: ((CaseRecord) -> String)? = nil,
        auditAllowed: Bool, context: AuthenticatedContext, at now: Date = Date()
    ) async throws -> (record: CaseRecord, outcome: Outcome) {
        let id = try context.parameters.uuid(.case)
        guard let record = try await cases.find(id: id) else {
            _ = try await audit.record(context.auditDraft(auditAction, resourceType: "case", resourceID: id.storageKey, outcome: .denied, reason: "unknown_case"))
            throw AppError.notFound
        }
        let outcome = try await require(action, patient: record.patientID, community: record.communityID, auditAction: auditAction,
                                        resourceType: resourceType, resourceID: resourceID?(record) ?? record.id.storageKey, auditAllowed: auditAllowed,
                                        context: context, at: now)
        return (record, outcome)
    }

    /// The decision without throwing for a refusal the page shows itself, except an
    /// unknown or unreachable patient (audited, then 404). The caller audits what it shows.
    func evaluate(
        _ action: AccessAction, patient patientID: UUID, community: UUID? = nil, auditAction: AuditAction, resourceType: String = "patient",
        resourceID: String? = nil, context: AuthenticatedContext, at now: Date = Date()
    ) async throws -> Outcome {
        func recordDenial(_ reason: String) async throws {
            try await audit.record(context.auditDraft(auditAction, resourceType: resourceType, resourceID: resourceID ?? patientID.storageKey,
                                                      patientID: patientID, outcome: .denied, reason: reason), at: now)
        }
        guard let facts = try await care.accessFacts(userID: context.user.id, patientID: patientID, at: now) else {
            try await recordDenial("unknown_patient")
            throw AppError.notFound
        }
        let decision = policy.decide(action, facts, community: community, at: now)
        if !decision.allowed {
            try await recordDenial(decision.reason.rawValue)
            if decision.hidesExistence { throw AppError.notFound }
        }
        return Outcome(decision: decision, facts: facts)
    }

    /// Whether break-the-glass could lift this refusal here: outside the care scope, or an
    /// opposition when the configuration lets break-the-glass override it.
    /// Whether to offer break-the-glass: a physician's act, for a refusal it can lift.
    func breakTheGlassMayHelp(_ decision: AccessDecision, facts: AccessFacts) -> Bool {
        facts.isPhysician && (decision.breakTheGlassMayHelp || (decision.reason == .opposition && policy.breakTheGlassMayOverrideOpposition))
    }

    /// The policy's answer without an audit event: for pages that audit a view once (the
    /// live séance, whose followers refetch a case at every event). Nil for an unknown patient.
    func decideUnaudited(_ action: AccessAction, patient patientID: UUID, community: UUID?, context: AuthenticatedContext, at now: Date) async throws -> Outcome? {
        guard let facts = try await care.accessFacts(userID: context.user.id, patientID: patientID, at: now) else { return nil }
        return Outcome(decision: policy.decide(action, facts, community: community, at: now), facts: facts)
    }

    func allowedEvent(
        _ decision: AccessDecision, auditAction: AuditAction, resourceType: String, resourceID: String? = nil, patientID: UUID,
        context: AuthenticatedContext
    ) -> AuditDraft {
        context.auditDraft(auditAction, resourceType: resourceType, resourceID: resourceID ?? patientID.storageKey, patientID: patientID,
                           mode: decision.mode, outcome: .allowed, reason: decision.reason.rawValue)
    }
}

extension AccessGuard {
    /// What a list (agenda, dashboard) may show of each patient's row, as the record pages
    /// would: nothing when an active opposition covers the row's community or the user's
    /// organisation (as search leaves such patients out); identity, slot and status for the
    /// other members; the clinical columns (site, imaging) only for a physician or a
    /// coordinator of that community the policy lets read the patient's clinical data there.
    enum ListVisibility: Sendable, Equatable { case hidden, identity, clinical }

    func listVisibility(
        of rows: [(patient: UUID, community: UUID)], roles: [UUID: CommunityRole], user: UUID, at now: Date = Date()
    ) async throws -> [ListRowKey: ListVisibility] {
        // One query for every row's patient.
        let facts = try await care.accessFacts(userID: user, patientIDs: Array(Set(rows.map(\.patient))), at: now)
        var visibility: [ListRowKey: ListVisibility] = [:]
        for row in rows {
            let key = ListRowKey(patient: row.patient, community: row.community)
            guard visibility[key] == nil else { continue }
            guard let patientFacts = facts[row.patient], !policy.isOpposed(via: row.community, patientFacts, at: now) else {
                visibility[key] = .hidden
                continue
            }
            let role = roles[row.community]
            let mayReadClinical = (role == .physician || role == .coordinator)
                && policy.decide(.readClinical, patientFacts, community: row.community, at: now).allowed
            visibility[key] = mayReadClinical ? .clinical : .identity
        }
        return visibility
    }

    struct ListRowKey: Hashable, Sendable {
        let patient: UUID
        let community: UUID
    }
}
