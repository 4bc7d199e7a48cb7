import ConcertoCore
import ConcertoStore
import Foundation
import Hummingbird

/// The identity desk (cellule d'identitovigilance), held by platform administrators:
/// records the high-trust identity document checked (VALI) and verifies the INS with the
/// national service (QUAL). The only way a record becomes qualified, and so the only way
/// its INS is shared and used to find the patient's images on the exchanges.
struct IdentityDeskController: Sendable {
    let patients: PatientStore
    let guardian: AccessGuard
    let verifier: (any INSVerifier)?

    func addRoutes(to group: some RouterMethods<AuthenticatedContext>) {
        group.post(SiteURL.route { id, _ in .patientIdentityValidate(id) }, use: validate)
        group.post(SiteURL.route { id, _ in .patientIdentityQualify(id) }, use: qualify)
    }

    /// The record, after the policy (a patient the user may not know of is a 404) and the
    /// desk's own rule (administrators only).
    private func deskRecord(_ context: AuthenticatedContext, action: AuditAction) async throws -> (PatientRecord, AccessGuard.Outcome) {
        let patientID = try context.parameters.uuid(.patient)
        let outcome = try await guardian.require(.readAdministrative, patient: patientID, auditAction: action, auditAllowed: false, context: context)
        guard context.user.isAdmin else {
            try await guardian.audit.record(context.auditDraft(action, resourceType: "patient_identity", resourceID: patientID.storageKey,
                                                               patientID: patientID, outcome: .denied, reason: "not_identity_desk"))
            throw AppError.forbidden
        }
        guard let record = try await patients.find(id: patientID), record.mergedInto == nil else { throw AppError.notFound }
        return (record, outcome)
    }

    @Sendable func validate(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let (record, outcome) = try await deskRecord(context, action: .identityValidate)
        let back = Response.redirect(to: SiteURL.patient(record.id).path, type: .normal)
        guard let document = context.form?["identity_document"].flatMap(IdentityDocumentType.init(rawValue:)) else {
            context.sessions.flash(.error, "flash_identity_document_missing")
            return back
        }
        guard record.identity.status == .provisional || record.identity.status == .retrieved else {
            context.sessions.flash(.error, "flash_identity_already_validated")
            return back
        }
        let proof = IdentityProof(status: .validated, documentType: document, verifier: nil, source: .identityDesk, recordedBy: context.user.id)
        do {
            try await patients.recordIdentityProof(proof, patientID: record.id, expectedStatus: record.identity.status,
                                                   audit: guardian.allowedEvent(outcome.decision, auditAction: .identityValidate, resourceType: "patient_identity",
                                                                                patientID: record.id, context: context))
            context.sessions.flash(.success, "flash_identity_validated")
        } catch StoreError.statusChanged {
            context.sessions.flash(.error, "flash_identity_changed")
        }
        return back
    }

    @Sendable func qualify(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let (record, outcome) = try await deskRecord(context, action: .identityQualify)
        let back = Response.redirect(to: SiteURL.patient(record.id).path, type: .normal)
        guard let verifier else {
            context.sessions.flash(.error, "flash_identity_no_verifier")
            return back
        }
        var verification: INSVerificationResult?
        if let ins = record.identity.ins, record.identity.status == .validated {
            do {
                verification = try await verifier.verify(ins, identity: record.identity)
            } catch {
                context.sessions.flash(.error, "flash_identity_verifier_unavailable")
                return back
            }
        }
        switch IdentityStatusRules.qualification(of: record.identity, verification: verification) {
        case .success:
            guard record.identity.status != .qualified else { return back }
            let proof = IdentityProof(status: .qualified, documentType: nil, verifier: verifier.name, source: .identityDesk, recordedBy: context.user.id)
            do {
                try await patients.recordIdentityProof(proof, patientID: record.id, expectedStatus: .validated,
                                                       audit: guardian.allowedEvent(outcome.decision, auditAction: .identityQualify, resourceType: "patient_identity",
                                                                                    patientID: record.id, context: context))
                context.sessions.flash(.success, "flash_identity_qualified")
            } catch StoreError.statusChanged {
                context.sessions.flash(.error, "flash_identity_changed")
            }
        case .failure(let refusal):
            let (reason, message) = (refusal.auditReason, refusal.messageKey)
            try await guardian.audit.record(context.auditDraft(.identityQualify, resourceType: "patient_identity", resourceID: record.id.storageKey,
                                                               patientID: record.id, outcome: .failure, reason: reason))
            context.sessions.flash(.error, message)
        }
        return back
    }

    /// An audit reason code and the message key for a refused qualification.
}
