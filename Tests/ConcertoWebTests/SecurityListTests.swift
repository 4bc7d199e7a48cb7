import ConcertoCore
import ConcertoStore
import ConcertoTestSupport
@testable import ConcertoWeb
import Foundation
import HummingbirdTesting
import SQLKit
import Testing

/// Attack: the agenda and the dashboard showed every community member the diagnosis of
/// every case, whatever the care scope or the patient's opposition (search already did not).
@Suite("Security: lists are reads") struct SecurityListTests {
    func setUp(_ d: AppDependencies, _ world: AccessWorld, status: String) async throws -> UUID {
        let meetingID = UUID(), start = Date().addingTimeInterval(86_400)
        try await d.meetings.create(id: meetingID, communityID: world.south.id, title: "RCP liste", startsAt: start, endsAt: start.addingTimeInterval(3600),
                                    place: "Salle 1", deadlineHours: 0)
        try await d.meetings.addToAgenda(patientID: world.southPatient, meetingID: meetingID, position: 1)
        let caseID = try #require(try await d.patients.cases(of: world.southPatient).first).id
        try await d.database.write { sql in
            try await sql.raw("UPDATE cases SET tumour_site = 'C34.1', status = \(bind: status), meeting_id = \(bind: meetingID.storageKey) WHERE id = \(bind: caseID.storageKey)").run()
        }
        return meetingID
    }

    /// Loaded together with other patients', each patient's facts are the ones it has alone
    /// (the two are different statements: a list of ids, or one id compared directly).
    @Test func factsForSeveralPatientsAreEachPatientsOwn() async throws {
        try await withTestApp { _, d in
            let world = try await AccessWorld.make(d)
            let meetingID = try await setUp(d, world, status: "registered")
            try await d.meetings.addParticipant(userID: world.southSecretary.id, to: meetingID)
            try await d.care.recordOpposition(patientID: world.northPatient, target: .organisation(world.organisation.id), by: world.northPhysician.id,
                                              audit: AuditDraft(actorID: nil, action: .oppositionRecord, resourceType: "opposition", outcome: .success))
            let now = Date()
            try await d.care.recordEmergencyGrant(EmergencyGrant(grantedAt: now, expiresAt: now.addingTimeInterval(3600), overridesOpposition: true),
                                                  patientID: world.northPatient, userID: world.southPhysician.id, communityID: world.south.id,
                                                  reasonCode: "autre", justification: "j",
                                                  audit: AuditDraft(actorID: world.southPhysician.id, action: .emergencyAccessGrant, resourceType: "patient", outcome: .success))
            #expect(try await d.care.accessFacts(userID: world.southPhysician.id, patientID: UUID()) == nil)
            var kindsCompared: Set<String> = []
            for user in [world.southPhysician.id, world.northPhysician.id, world.southSecretary.id, world.admin.id] {
                let batch = try await d.care.accessFacts(userID: user, patientIDs: [world.southPatient, world.northPatient, UUID()])
                #expect(batch.count == 2)
                for patient in [world.southPatient, world.northPatient] {
                    let alone = try await d.care.accessFacts(userID: user, patientID: patient)
                    #expect(batch[patient] == alone)
                    if let alone {
                        kindsCompared.formUnion([alone.caseCommunities.isEmpty ? nil : "case", alone.careLinks.isEmpty ? nil : "care",
                                                 alone.oppositions.isEmpty ? nil : "opposition", alone.meetings.isEmpty ? nil : "meeting",
                                                 alone.grants.isEmpty ? nil : "grant", alone.memberships.isEmpty ? nil : "member"].compactMap { $0 })
                    }
                }
            }
            // Every kind of fact was there to compare, in one form and the other.
            #expect(kindsCompared == ["case", "care", "opposition", "meeting", "grant", "member"])
        }
    }

    func page(_ browser: TestBrowser, _ email: String, _ path: String) async throws -> String {
        let viewer = browser.fresh()
        try await viewer.logIn(email: email)
        return try await viewer.get(path).text
    }

    @Test func theAgendaShowsEachViewerWhatThePolicyLetsThemRead() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let meetingID = try await setUp(d, world, status: "registered")
            let agenda = SiteURL.meetingAgenda(meetingID).path
            // The physician of the care team sees the site.
            let physician = try await page(browser, "sud@t.fr", agenda)
            #expect(physician.contains("DUPONT Marie") && physician.contains("C34.1"))
            // A secretary, a coordinator and a physician outside the care scope: identity, slot, status.
            for email in ["secr@t.fr", "coord@t.fr", "collegue@t.fr"] {
                let text = try await page(browser, email, agenda)
                #expect(text.contains("DUPONT Marie"), "\(email)")
                #expect(text.contains("data-test=\"agenda-row\""), "\(email)")
                #expect(!text.contains("C34.1"), "\(email)")
            }
            // The patient opposes sharing with the community: the row is not shown to anyone.
            try await d.care.recordOpposition(patientID: world.southPatient, target: .community(world.south.id), by: world.southPhysician.id,
                                              audit: AuditDraft(actorID: nil, action: .oppositionRecord, resourceType: "opposition", outcome: .success))
            for email in ["sud@t.fr", "secr@t.fr", "coord@t.fr"] {
                let text = try await page(browser, email, agenda)
                #expect(!text.contains("DUPONT Marie"), "\(email)")
                #expect(!text.contains("C34.1"), "\(email)")
            }
        }
    }

    @Test func theDashboardListsHonourTheCareScopeAndOppositions() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            _ = try await setUp(d, world, status: "discussed")
            // The coordinator's cases to validate: the name, not the diagnosis (outside the care scope).
            let coordinator = try await page(browser, "coord@t.fr", "/")
            #expect(coordinator.contains("DUPONT Marie"))
            #expect(!coordinator.contains("C34.1"))
            // The physician's own cases: with the site.
            let physician = try await page(browser, "sud@t.fr", "/")
            #expect(physician.contains("DUPONT Marie") && physician.contains("C34.1"))
            try await d.care.recordOpposition(patientID: world.southPatient, target: .organisation(world.organisation.id), by: world.southPhysician.id,
                                              audit: AuditDraft(actorID: nil, action: .oppositionRecord, resourceType: "opposition", outcome: .success))
            for email in ["coord@t.fr", "sud@t.fr"] {
                let text = try await page(browser, email, "/")
                #expect(!text.contains("DUPONT Marie"), "\(email)")
            }
        }
    }
}

/// Attack: a community's audit page listed everything its members did, including their
/// reads of other communities' patients.
@Suite("Security: a community's audit page") struct SecurityCommunityAuditTests {
    @Test func onlyEventsAboutItsPatientsItselfOrItsMeetings() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            // A northern-only patient, read by a member of both communities (the north's physician joins the south).
            try await d.communities.addMember(userID: world.northPhysician.id, to: world.south.id, role: .physician)
            try await browser.logIn(email: "nord@t.fr")
            #expect(try await browser.get(SiteURL.patient(world.northPatient).path).status == .ok)
            let meetingID = UUID(), start = Date().addingTimeInterval(86_400)
            try await d.meetings.create(id: meetingID, communityID: world.south.id, title: "RCP", startsAt: start, endsAt: start.addingTimeInterval(3600),
                                        audit: AuditDraft(actorID: world.southCoordinator.id, action: .meetingCreate, resourceType: "meeting",
                                                          resourceID: meetingID.storageKey, outcome: .success))
            let south = try await d.audit.events(matching: .init(communityID: world.south.id), limit: 1000).map(\.event)
            #expect(!south.contains { $0.patientID == world.northPatient.storageKey })
            #expect(south.contains { $0.action == "meeting.create" && $0.resourceID == meetingID.storageKey })
            let north = try await d.audit.events(matching: .init(communityID: world.north.id), limit: 1000).map(\.event)
            #expect(north.contains { $0.patientID == world.northPatient.storageKey && $0.actorID == world.northPhysician.id.storageKey })
            // And on the page itself.
            let coordinator = browser.fresh()
            try await coordinator.logIn(email: "coord@t.fr")
            let page = try await coordinator.get(SiteURL.communityAudit(world.south.id).path)
            #expect(page.status == .ok)
            #expect(!page.text.contains("LEROY"))
        }
    }
}

/// Attack: any member but an observer lifted a patient's opposition, including a member
/// of the very community it shuts out, without saying why.
@Suite("Security: lifting an opposition") struct SecurityOppositionTests {
    @Test func onlyTheCareTeamsPhysicianOrAnUnopposedCommunitysCoordinatorLiftsItWithAReason() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            try await d.care.recordOpposition(patientID: world.southPatient, target: .community(world.south.id), by: world.southPhysician.id,
                                              audit: AuditDraft(actorID: nil, action: .oppositionRecord, resourceType: "opposition", outcome: .success))
            let opposition = try #require(try await d.care.oppositions(of: world.southPatient).first)
            let withdraw = SiteURL.patientOppositionWithdraw(world.southPatient, opposition: opposition.id).path
            func isActive() async throws -> Bool { try await d.care.oppositions(of: world.southPatient).first?.scope.withdrawnAt == nil }
            // The opposed community's coordinator and secretary, and a physician outside the care team: refused.
            for email in ["coord@t.fr", "secr@t.fr", "collegue@t.fr"] {
                let member = browser.fresh()
                try await member.logIn(email: email)
                let page = try await member.get(SiteURL.patient(world.southPatient).path)
                #expect(!page.text.contains(withdraw), "\(email)")
                #expect(try await member.post(withdraw, form: [("reason", "Demande orale du patient")]).status == .forbidden, "\(email)")
                #expect(try await isActive(), "\(email)")
            }
            // The care team's physician: a reason is required, then it is lifted and audited.
            try await browser.logIn(email: "sud@t.fr")
            let page = try await browser.get(SiteURL.patient(world.southPatient).path)
            #expect(page.text.contains(withdraw))
            _ = try await browser.post(withdraw, form: [])
            #expect(try await isActive())
            #expect(try await browser.post(withdraw, form: [("reason", "Demande écrite de la patiente du 1er décembre")]).status == .seeOther)
            #expect(try await !isActive())
            let events = try await d.audit.events(matching: .init(patientIDs: [world.southPatient], action: "opposition.withdraw")).map(\.event)
            #expect(events.map(\.outcome) == ["allowed", "denied", "denied", "denied"])
            let reason = try await d.database.read { sql in
                try await sql.raw("SELECT withdrawal_reason FROM oppositions").first()?.decode(column: "withdrawal_reason", as: String?.self)
            }
            #expect(reason == "Demande écrite de la patiente du 1er décembre")
        }
    }

    @Test func theRule() {
        let user = UUID(), opposed = UUID(), other = UUID(), now = Date()
        let opposition = OppositionScope(target: .community(opposed), recordedAt: now.addingTimeInterval(-60))
        var facts = AccessFacts(userID: user, caseCommunities: [opposed, other], oppositions: [opposition])
        facts.memberships = [opposed: (.coordinator, .active)]
        #expect(!OppositionRules.mayLift(opposition, facts, policy: AccessPolicy(), at: now))
        facts.memberships[other] = (.coordinator, .active)
        #expect(OppositionRules.mayLift(opposition, facts, policy: AccessPolicy(), at: now))
        facts.memberships = [:]
        facts.careLinks = [CareLink(party: .professional(user), start: now.addingTimeInterval(-60))]
        #expect(!OppositionRules.mayLift(opposition, facts, policy: AccessPolicy(), at: now)) // not a physician
        facts.isPhysician = true
        #expect(OppositionRules.mayLift(opposition, facts, policy: AccessPolicy(), at: now))
    }
}
