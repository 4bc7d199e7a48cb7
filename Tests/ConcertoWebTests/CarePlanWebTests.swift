import CDA
import ConcertoCore
import ConcertoStore
import ConcertoTestSupport
@testable import ConcertoWeb
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// A personalised care plan (CI-SIS CANCER-PPS 2022.01) imported for a patient: shown with
/// its items on the patient's page, linked to the fiche RCP it carries out (at import when
/// one validated fiche precedes it; a physician chooses when several do).
@Suite struct CarePlanWebTests {
    static let plan = Schematron.shared.appendingPathComponent("corpus/cda/CANCER-PPS_2022.01_feuille-de-style-externe.xml")

    /// A validated fiche of the southern patient, validated on `day` (before the plan of 2021-01-13).
    func validatedFiche(_ d: AppDependencies, _ world: AccessWorld, on day: String) async throws -> UUID {
        let at = try Date(day + "T10:00:00Z", strategy: .iso8601)
        let audit = AuditDraft(actorID: world.southPhysician.id, action: .caseValidate, resourceType: "case", outcome: .success)
        let caseID = try await d.cases.create(patientID: world.southPatient, communityID: world.south.id, by: world.southPhysician.id,
                                             content: CaseContent(tumourSiteCode: "C50.4", summary: "Synthèse.", question: "Question ?"), audit: audit)
        let meetingID = UUID()
        try await d.meetings.create(id: meetingID, communityID: world.south.id, title: "RCP sein", startsAt: at.addingTimeInterval(-3600), endsAt: at)
        try await d.cases.register(id: caseID, meetingID: meetingID, from: [.draft], by: world.southPhysician.id, audit: audit, at: at.addingTimeInterval(-7200))
        try await d.cases.recordDecision(id: caseID, decision: CaseDecision(proposalTypes: [.surgery], proposal: "Chirurgie.", followsGuidelines: true,
                                                                            trialProposed: false, fileComplete: true, quorumMet: true),
                                         by: world.southPhysician.id, audit: audit, at: at.addingTimeInterval(-60))
        try await d.cases.validate(id: caseID, by: world.southPhysician.id, audit: audit, at: at)
        return caseID
    }

    /// Uploads ANS's example plan on the patient's draft fiche (`into`).
    func importPlan(_ browser: TestBrowser, _ d: AppDependencies, _ world: AccessWorld, into caseID: UUID) async throws -> DocumentRecord {
        try await browser.get(SiteURL.caseItem(caseID).path)
        // ANS's example plan, for the southern patient (its INS in place of the example's).
        let xml = try String(contentsOf: Self.plan, encoding: .utf8).replacingOccurrences(of: "279035121518989", with: "261053306312304")
        let answer = try await DocumentWebTests().upload(browser, to: caseID, [("pps.xml", xml)])
        #expect(answer.status == .ok, "\(answer.text.prefix(500))")
        return try #require(try await d.documents.documents(ofPatient: world.southPatient).first { $0.typeCode == "18776-5" })
    }

    @Test func aPlanIsShownWithItsItemsAndLinkedToTheOneFicheItCarriesOut() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let draft = try #require(try await d.patients.cases(of: world.southPatient).first).id
            let fiche = try await validatedFiche(d, world, on: "2020-12-10")
            try await browser.logIn(email: "sud@t.fr")
            let plan = try await importPlan(browser, d, world, into: draft)
            #expect(plan.carriesOutCaseID == fiche)
            let page = try await browser.get(SiteURL.patient(world.southPatient).path)
            #expect(page.text.contains("data-test=\"care-plan\""))
            #expect(page.text.contains("Radiothérapie") && page.text.contains("intervention chirurgicale"))
            #expect(page.text.contains("prévu : 01/09/2019 – 01/10/2019"))
            #expect(page.text.contains(#"href="\#(SiteURL.caseItem(fiche).path)" data-test="care-plan-case""#))
            // The plan's own page lists the same items and offers no choice.
            let document = try await browser.get(SiteURL.document(plan.id).path)
            #expect(document.text.contains("data-test=\"document-care-plan\"") && !document.text.contains("data-test=\"care-plan-link\""))
        }
    }

    @Test func withSeveralEarlierFichesAPhysicianChoosesAndOnlyAmongThem() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let draft = try #require(try await d.patients.cases(of: world.southPatient).first).id
            let first = try await validatedFiche(d, world, on: "2020-06-01")
            let second = try await validatedFiche(d, world, on: "2020-12-10")
            let later = try await validatedFiche(d, world, on: "2021-03-01")
            try await browser.logIn(email: "sud@t.fr")
            let plan = try await importPlan(browser, d, world, into: draft)
            #expect(plan.carriesOutCaseID == nil)
            let page = try await browser.get(SiteURL.document(plan.id).path)
            let chooser = try #require(page.text.components(separatedBy: "data-test=\"care-plan-link\"").dropFirst().first?.components(separatedBy: "</form>").first)
            #expect(chooser.contains(first.storageKey) && chooser.contains(second.storageKey) && !chooser.contains(later.storageKey))
            // A fiche validated after the plan, or another patient's, is not a choice.
            #expect(try await browser.post(SiteURL.documentCarePlan(plan.id).path, form: [("case", later.storageKey)]).status == .badRequest)
            // A secretary reads nothing clinical and links nothing.
            let secretary = browser.fresh()
            try await secretary.logIn(email: "secr@t.fr")
            try await secretary.get("/")
            #expect(try await secretary.post(SiteURL.documentCarePlan(plan.id).path, form: [("case", second.storageKey)]).status == .forbidden)

            try await browser.get(SiteURL.document(plan.id).path)
            #expect(try await browser.post(SiteURL.documentCarePlan(plan.id).path, form: [("case", second.storageKey)]).status == .seeOther)
            #expect(try await d.documents.find(id: plan.id)?.carriesOutCaseID == second)
            let actions = try await d.audit.events(matching: .init(patientIDs: [world.southPatient])).map(\.event.action)
            #expect(actions.contains("document.care_plan_link"))
        }
    }
}
