import ConcertoCore
import ConcertoStore
import ConcertoTestSupport
@testable import ConcertoWeb
import Foundation
import HummingbirdTesting
import SQLKit
import Testing

/// Attack: a secretary used break-the-glass and read a record outside the care scope; a
/// community could give its physician role (clinical writes, declaring care) to any account.
@Suite("Security: roles follow professions") struct SecurityRoleTests {
    func grants(_ d: AppDependencies) async throws -> Int {
        try await d.database.read { sql in
            Int(try await sql.raw("SELECT COUNT(*) AS n FROM emergency_access").first()?.decode(column: "n", as: Int64.self) ?? -1)
        }
    }

    @Test func aSecretaryCannotBreakTheGlass() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            try await browser.logIn(email: "secr@t.fr")
            let page = try await browser.get(SiteURL.patient(world.southPatient).path)
            #expect(page.text.contains("Accès aux données cliniques refusé"))
            #expect(!page.text.contains("data-test=\"emergency-link\""))
            let form = try await browser.get(SiteURL.patientEmergencyAccess(world.southPatient).path)
            #expect(form.status == .forbidden)
            #expect(form.text.contains("réservé aux médecins"))
            let attempt = try await browser.post(SiteURL.patientEmergencyAccess(world.southPatient).path,
                                                 form: [("reason_code", "urgence_vitale"), ("justification", "Appel du service des urgences, patient inconscient")])
            #expect(attempt.status == .forbidden)
            #expect(try await grants(d) == 0)
            #expect(!(try await browser.get(SiteURL.patient(world.southPatient).path)).text.contains("data-test=\"clinical\""))
            let refusals = try await d.audit.events(matching: .init(patientIDs: [world.southPatient], action: "emergency_access.grant")).map(\.event)
            #expect(refusals.map(\.outcome) == ["denied"])
            #expect(refusals.first?.reason == "physicianOnly")
            // A physician of the community still can.
            let colleague = browser.fresh()
            try await colleague.logIn(email: "collegue@t.fr")
            try await colleague.get(SiteURL.patientEmergencyAccess(world.southPatient).path)
            let granted = try await colleague.post(SiteURL.patientEmergencyAccess(world.southPatient).path,
                                                   form: [("reason_code", "urgence_vitale"), ("justification", "Appel du service des urgences, patient inconscient")])
            #expect(granted.status == .seeOther)
            #expect(try await grants(d) == 1)
        }
    }

    @Test func theCommunityPhysicianRoleIsForPhysiciansWithAnRPPSNumber() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let secretary = User(email: "assistante@t.fr", displayName: "Assistante", organisationID: world.organisation.id, role: .secretary)
            let unlicensed = User(email: "sans-rpps@t.fr", displayName: "Sans RPPS", organisationID: world.organisation.id, role: .physician)
            for user in [secretary, unlicensed] {
                try await d.users.create(user, passwordHash: try await d.passwords.hash(testPassword))
                await #expect(throws: StoreError.physicianRoleNeedsRPPS) {
                    try await d.communities.addMember(userID: user.id, to: world.south.id, role: .physician)
                }
            }
            // Through the community page, as an administrator would invite them.
            try await browser.logIn(email: "admin@t.fr")
            try await browser.get(SiteURL.community(world.south.id).path)
            let invited = try await browser.post(SiteURL.communityMembers(world.south.id).path, form: [("email", "assistante@t.fr"), ("role", "physician")])
            #expect(invited.status == .unprocessableContent)
            #expect(invited.text.contains("réservé aux comptes de médecins"))
            #expect(try await d.communities.membership(userID: secretary.id, in: world.south.id) == nil)
            // Another role is fine.
            #expect(try await browser.post(SiteURL.communityMembers(world.south.id).path, form: [("email", "assistante@t.fr"), ("role", "secretary")]).status == .seeOther)
        }
    }

    /// A membership recorded as physician before this rule (or by hand in the database)
    /// gives nothing more to an account that is not a physician's.
    @Test func aStoredPhysicianRoleWithoutTheProfessionWritesNothing() async throws {
        try await withTestApp { _, d in
            let world = try await AccessWorld.make(d)
            let unlicensed = User(email: "ancien@t.fr", displayName: "Ancien", organisationID: world.organisation.id, role: .physician)
            try await d.users.create(unlicensed, passwordHash: "x")
            try await d.database.write { sql in
                try await sql.raw("""
                    INSERT INTO community_members (community_id, user_id, member_role, status, updated_at)
                    VALUES (\(bind: world.south.id.storageKey), \(bind: unlicensed.id.storageKey), 'physician', 'active', '2026-01-01T00:00:00Z')
                    """).run()
            }
            try await d.care.addCareLink(patientID: world.southPatient, party: .professional(unlicensed.id), reason: "r", start: Date().addingTimeInterval(-60),
                                         end: nil, declaredBy: world.southPhysician.id,
                                         audit: AuditDraft(actorID: nil, action: .careLinkAdd, resourceType: "care_relationship", outcome: .success))
            let facts = try #require(try await d.care.accessFacts(userID: unlicensed.id, patientID: world.southPatient))
            #expect(!facts.isPhysician)
            let policy = AccessPolicy()
            #expect(policy.decide(.readClinical, facts, at: Date()).allowed) // in the care team: reads
            #expect(policy.decide(.writeClinical, facts, at: Date()).reason == .physicianRoleRequired)
            #expect(policy.decide(.declareCare, facts, at: Date()).reason == .physicianRoleRequired)
            let physicianFacts = try #require(try await d.care.accessFacts(userID: world.southPhysician.id, patientID: world.southPatient))
            #expect(physicianFacts.isPhysician)
        }
    }
}
