import ConcertoCore
import ConcertoStore
import ConcertoTestSupport
@testable import ConcertoWeb
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// The follow-up of a validated decision over HTTP (issue 20): the referring physician
/// records it; those who may only read see it; nobody else reaches it; the dashboards list
/// the decisions still waiting for it.
@Suite struct FollowUpWebTests {
    static let day: TimeInterval = 86_400

    /// The southern patient's draft case, decided and validated `daysAgo` days ago by the
    /// coordinator at a meeting whose follow-up delay is `followUpDays`.
    func validatedCase(_ d: AppDependencies, _ world: AccessWorld, daysAgo: Double, followUpDays: Int = 30) async throws -> UUID {
        let caseID = try #require(try await d.patients.cases(of: world.southPatient).first).id
        let validatedAt = Date().addingTimeInterval(-daysAgo * Self.day)
        let audit = AuditDraft(actorID: world.southCoordinator.id, action: .caseValidate, resourceType: "case", outcome: .success)
        try await d.cases.save(id: caseID, revision: 1, content: CaseContent(tumourSiteCode: "C34.1", summary: "Synthèse.", question: "Question ?"),
                               newEdition: false, by: world.southPhysician.id, audit: audit)
        let meetingID = UUID()
        try await d.meetings.create(id: meetingID, communityID: world.south.id, title: "RCP thoracique", startsAt: validatedAt.addingTimeInterval(-3600),
                                    endsAt: validatedAt, followUpDays: followUpDays)
        try await d.cases.register(id: caseID, meetingID: meetingID, from: [.draft], by: world.southPhysician.id, audit: audit,
                                   at: validatedAt.addingTimeInterval(-2 * Self.day))
        try await d.cases.recordDecision(id: caseID, decision: CaseDecision(proposalTypes: [.surgery], proposal: "Lobectomie supérieure droite.",
                                                                            followsGuidelines: true, trialProposed: false, fileComplete: true, quorumMet: true),
                                         by: world.southCoordinator.id, audit: audit, at: validatedAt.addingTimeInterval(-60))
        try await d.cases.validate(id: caseID, by: world.southCoordinator.id, followUpDays: followUpDays, audit: audit, at: validatedAt)
        return caseID
    }

    @Test func theReferringPhysicianRecordsTheFollowUpAndTheCasePageShowsIt() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let caseID = try await validatedCase(d, world, daysAgo: 40)
            try await browser.logIn(email: "sud@t.fr")

            // Overdue: on the physician's dashboard and on the case page.
            let dashboard = try await browser.get("/")
            let overdue = try #require(dashboard.text.components(separatedBy: "data-test=\"my-follow-ups\"").dropFirst().first?.components(separatedBy: "</ul>").first)
            #expect(overdue.contains(SiteURL.caseFollowUp(caseID).path) && overdue.contains("DUPONT"))
            let casePage = try await browser.get(SiteURL.caseItem(caseID).path)
            #expect(casePage.text.contains("data-test=\"follow-up-overdue\"") && casePage.text.contains("data-test=\"follow-up-link\""))

            let form = try await browser.get(SiteURL.caseFollowUp(caseID).path)
            #expect(form.status == .ok && form.text.contains("data-test=\"follow-up-form\"") && form.text.contains("Lobectomie supérieure droite."))
            // "Non" without its reason, a day before the board, a day to come: each said, nothing saved.
            let today = ParisCalendar.date(of: Date())
            let refused = try await browser.post(SiteURL.caseFollowUp(caseID).path, form: [("revision", "0"), ("outcome", "not_carried_out")])
            #expect(refused.status == .badRequest && refused.text.contains("Indiquez le motif"))
            // The answer given stays ticked, and only it.
            #expect(refused.text.contains("value=\"not_carried_out\" checked") && refused.text.components(separatedBy: "\" checked required").count == 2)
            let early = ParisCalendar.date(of: Date().addingTimeInterval(-60 * Self.day)).iso
            let tooEarly = try await browser.post(SiteURL.caseFollowUp(caseID).path, form: [("revision", "0"), ("outcome", "carried_out"), ("first_treatment_on", early)])
            #expect(tooEarly.status == .badRequest && tooEarly.text.contains("précède la RCP"))
            let tomorrow = ParisCalendar.date(of: Date().addingTimeInterval(2 * Self.day)).iso
            let future = try await browser.post(SiteURL.caseFollowUp(caseID).path, form: [("revision", "0"), ("outcome", "carried_out"), ("first_treatment_on", tomorrow)])
            #expect(future.status == .badRequest && future.text.contains("dans le futur"))
            #expect(try await browser.post(SiteURL.caseFollowUp(caseID).path, form: [("revision", "0"), ("outcome", "maybe")]).status == .badRequest)
            #expect(try await d.followUps.find(caseID: caseID) == nil)

            let started = ParisCalendar.date(of: Date().addingTimeInterval(-20 * Self.day))
            let saved = try await browser.post(SiteURL.caseFollowUp(caseID).path, form: [
                ("revision", "0"), ("outcome", "carried_out"), ("first_treatment_on", started.iso), ("care_plan_given_on", today.iso),
            ])
            #expect(saved.status == .seeOther)
            let record = try #require(try await d.followUps.find(caseID: caseID))
            #expect(record.followUp == DecisionFollowUp(outcome: .carriedOut, firstTreatmentOn: started, carePlanGivenOn: today))
            let after = try await browser.get(SiteURL.caseItem(caseID).path)
            #expect(after.text.contains("data-test=\"follow-up-summary\"") && after.text.contains(started.french) && !after.text.contains("data-test=\"follow-up-overdue\""))
            #expect(!(try await browser.get("/")).text.contains("data-test=\"my-follow-ups\""))
            let actions = try await d.audit.events(matching: .init(patientIDs: [world.southPatient])).map(\.event.action)
            #expect(actions.contains("case.follow_up"))

            // A form built on the old revision is refused with the record shown, not overwritten.
            let stale = try await browser.post(SiteURL.caseFollowUp(caseID).path, form: [("revision", "0"), ("outcome", "not_carried_out"), ("reason", "Refus.")])
            #expect(stale.status == .conflict && stale.text.contains("data-test=\"follow-up-recorded\""))
            #expect(try await d.followUps.find(caseID: caseID)?.followUp.outcome == .carriedOut)
        }
    }

    @Test func onlyThoseWhoMayWriteTheFicheRecordItAndNoFormGoesWithoutItsToken() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let caseID = try await validatedCase(d, world, daysAgo: 40)
            let path = SiteURL.caseFollowUp(caseID).path
            let fields = [("revision", "0"), ("outcome", "not_carried_out"), ("reason", "Refus du patient.")]

            // The coordinator, outside the patient's care team, sees the decision overdue in the
            // community's list (administrative data, no tumour site, no way to the clinical
            // record) and can neither read nor record the follow-up.
            let coordinator = browser.fresh()
            try await coordinator.logIn(email: "coord@t.fr")
            let listed = try await coordinator.get("/")
            let rows = try #require(listed.text.components(separatedBy: "data-test=\"community-follow-ups\"").dropFirst().first?.components(separatedBy: "</ul>").first)
            #expect(rows.contains(SiteURL.caseItem(caseID).path) && rows.contains("Sud") && !rows.contains("C34.1") && !rows.contains(path))
            #expect(try await coordinator.get(path).status == .forbidden)
            #expect(try await coordinator.post(path, form: fields).status == .forbidden)

            // A secretary reads nothing clinical; another community's physician does not even find it.
            let secretary = browser.fresh()
            try await secretary.logIn(email: "secr@t.fr")
            try await secretary.get("/")
            #expect(try await secretary.get(path).status == .forbidden)
            #expect(try await secretary.post(path, form: fields).status == .forbidden)
            let north = browser.fresh()
            try await north.logIn(email: "nord@t.fr")
            try await north.get("/")
            #expect(try await north.post(path, form: fields).status == .notFound)

            // The physician: without the CSRF token, refused; a fiche not validated has no follow-up.
            try await browser.logIn(email: "sud@t.fr")
            try await browser.get(path)
            #expect(try await browser.post(path, form: fields, csrf: .none).status == .forbidden)
            #expect(try await d.followUps.find(caseID: caseID) == nil)
            let draft = try await d.cases.create(patientID: world.southPatient, communityID: world.south.id, by: world.southPhysician.id,
                                                 content: CaseContent(tumourSiteCode: "C34.1"),
                                                 audit: AuditDraft(actorID: world.southPhysician.id, action: .caseCreate, resourceType: "case", outcome: .success))
            #expect(try await browser.get(SiteURL.caseFollowUp(draft).path).status == .notFound)
            #expect(try await browser.post(SiteURL.caseFollowUp(draft).path, form: fields).status == .notFound)
            #expect(try await browser.post(SiteURL.caseFollowUp(UUID()).path, form: fields).status == .notFound)
            #expect(try await browser.post(path, form: fields).status == .seeOther)
            #expect(try await d.followUps.find(caseID: caseID)?.followUp.outcome == .notCarriedOut)
        }
    }

    @Test func aDecisionWithinItsBoardsDelayIsNotListedYet() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let caseID = try await validatedCase(d, world, daysAgo: 10, followUpDays: 14)
            try await browser.logIn(email: "sud@t.fr")
            #expect(!(try await browser.get("/")).text.contains("data-test=\"my-follow-ups\""))
            let page = try await browser.get(SiteURL.caseItem(caseID).path)
            #expect(page.text.contains("data-test=\"follow-up\"") && !page.text.contains("data-test=\"follow-up-overdue\""))
        }
    }
}
