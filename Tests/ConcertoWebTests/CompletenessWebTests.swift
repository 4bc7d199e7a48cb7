import ConcertoCore
import ConcertoStore
import ConcertoTestSupport
@testable import ConcertoWeb
import Foundation
import HTTPTypes
import HummingbirdTesting
import SQLKit
import Testing

/// A board's completeness list over HTTP (issue 20): set on the series, shown at
/// registration with what to add, required items refused unless a coordinator records a
/// reason, and each file's state on the agenda, the case page and the séance.
@Suite struct CompletenessWebTests {
    /// The southern patient's draft, ready for registration (site, summary, question) but
    /// without TNM, performance status or any report.
    func readyCase(_ d: AppDependencies, _ world: AccessWorld) async throws -> UUID {
        let caseID = try #require(try await d.patients.cases(of: world.southPatient).first).id
        try await d.cases.save(id: caseID, revision: 1, content: CaseContent(tumourSiteCode: "C34.1", summary: "Nodule de 25 mm.", question: "Lobectomie ?"),
                               newEdition: false, by: world.southPhysician.id,
                               audit: AuditDraft(actorID: world.southPhysician.id, action: .caseUpdate, resourceType: "case", outcome: .success))
        return caseID
    }

    func meeting(_ d: AppDependencies, _ world: AccessWorld, rules: CompletenessRules, chair: UUID? = nil) async throws -> UUID {
        let id = UUID()
        let start = Date().addingTimeInterval(72 * 3600)
        try await d.meetings.create(id: id, communityID: world.south.id, title: "RCP thoracique", startsAt: start, endsAt: start.addingTimeInterval(7200),
                                    place: "Salle 1", completeness: rules)
        if let chair {
            try await d.meetings.setChair(meetingID: id, userID: chair, audit: AuditDraft(actorID: chair, action: .meetingChair, resourceType: "meeting", outcome: .success))
        }
        return id
    }

    @Test func aRequiredItemBlocksRegistrationUnlessACoordinatorGivesAReason() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let caseID = try await readyCase(d, world)
            let meetingID = try await meeting(d, world, rules: CompletenessRules([
                CompletenessItem(.pathologyReport, .required), CompletenessItem(.question, .required), CompletenessItem(.tnmStaged, .recommended),
            ]))
            try await browser.logIn(email: "sud@t.fr")
            try await browser.get(SiteURL.caseItem(caseID).path)
            let blocked = try await browser.post(SiteURL.caseRegister(caseID).path, form: [("meeting", meetingID.storageKey)])
            #expect(blocked.status == .conflict && blocked.text.contains("data-test=\"completeness-blocked\""))
            let lines = try #require(blocked.text.components(separatedBy: "data-test=\"completeness-lines\"").dropFirst().first?.components(separatedBy: "</ul>").first)
            #expect(lines.contains("Compte rendu anatomopathologique") && lines.contains("Stade TNM"))
            #expect(lines.contains(#"href="\#(SiteURL.caseItem(caseID).path)#documents-title""#) && lines.contains(#"href="\#(SiteURL.caseEdit(caseID).path)""#))
            #expect(lines.components(separatedBy: "data-met=\"1\"").count == 2) // the question only
            // A physician has no way round it, even by posting the coordinator's field.
            #expect(!blocked.text.contains("override_reason"))
            let forced = try await browser.post(SiteURL.caseRegister(caseID).path, form: [("meeting", meetingID.storageKey), ("override_reason", "urgent"),
                                                                                          ("confirm_incomplete", "1")])
            #expect(forced.status == .conflict)
            #expect(try await d.cases.find(id: caseID)?.status == .draft)

            // The coordinator may, with a reason, which is kept and shown.
            let coordinator = browser.fresh()
            try await coordinator.logIn(email: "coord@t.fr")
            try await coordinator.get("/")
            let offered = try await coordinator.post(SiteURL.caseRegister(caseID).path, form: [("meeting", meetingID.storageKey)])
            #expect(offered.status == .conflict && offered.text.contains("name=\"override_reason\""))
            let registered = try await coordinator.post(SiteURL.caseRegister(caseID).path, form: [
                ("meeting", meetingID.storageKey), ("override_reason", "Compte rendu attendu, patient symptomatique"), ("confirm_incomplete", "1"),
            ])
            #expect(registered.status == .seeOther)
            #expect(try await d.cases.find(id: caseID)?.status == .registered)
            #expect(try await CompletenessStore(database: d.database).evidence(forCase: caseID)?.override == "Compte rendu attendu, patient symptomatique")
            let reasons = try await d.audit.events(matching: .init(patientIDs: [world.southPatient])).filter { $0.event.action == "case.register" }.map(\.event.reason)
            #expect(reasons.contains { $0?.hasSuffix("completeness_override") == true })

            // The agenda (for the physician, who reads the file) and the case page say so.
            let agenda = try await browser.get(SiteURL.meetingAgenda(meetingID).path)
            #expect(agenda.text.contains("data-test=\"completeness\"") && agenda.text.contains("2 élément(s) manquant(s) sur 3") && agenda.text.contains("dérogation"))
            let page = try await browser.get(SiteURL.caseItem(caseID).path)
            #expect(page.text.contains("data-test=\"case-completeness\"") && page.text.contains("patient symptomatique"))
        }
    }

    @Test func recommendedItemsWarnAndAttestedOnesCountOnceTicked() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let caseID = try await readyCase(d, world)
            let meetingID = try await meeting(d, world, rules: CompletenessRules([
                CompletenessItem(.tnmStaged, .recommended), CompletenessItem(.attested(label: "Consultation d'annonce faite"), .recommended),
            ]), chair: world.southPhysician.id)
            try await browser.logIn(email: "sud@t.fr")
            try await browser.get(SiteURL.caseItem(caseID).path)
            let warned = try await browser.post(SiteURL.caseRegister(caseID).path, form: [("meeting", meetingID.storageKey)])
            #expect(warned.status == .ok && warned.text.contains("data-test=\"register-anyway\"") && warned.text.contains("name=\"attest_0\""))
            // Ticking the attestation alone still leaves the TNM: the page comes back.
            let again = try await browser.post(SiteURL.caseRegister(caseID).path, form: [("meeting", meetingID.storageKey), ("attest_0", "1")])
            #expect(again.status == .ok && again.text.contains("name=\"attest_0\" value=\"1\" checked"))
            #expect(try await d.cases.find(id: caseID)?.status == .draft)
            let done = try await browser.post(SiteURL.caseRegister(caseID).path, form: [("meeting", meetingID.storageKey), ("attest_0", "1"), ("confirm_incomplete", "1")])
            #expect(done.status == .seeOther)
            #expect(try await CompletenessStore(database: d.database).evidence(forCase: caseID)?.attested == ["Consultation d'annonce faite"])

            // The séance shows the file under discussion against the list.
            let seance = try await browser.get(SiteURL.meetingSession(meetingID).path)
            let current = try #require(seance.text.components(separatedBy: "data-test=\"current-case\"").dropFirst().first)
            #expect(current.contains("data-test=\"completeness-lines\"") && current.contains("Stade TNM"))

            // Staging the tumour completes the file: the case page says so, and the decision keeps it.
            let record = try #require(try await d.cases.find(id: caseID))
            var content = record.content
            content.tnm = TNM(cT: "T2a", cN: "N0", cM: "M0", edition: 8)
            try await d.cases.save(id: caseID, revision: record.revision, content: content, newEdition: false, by: world.southPhysician.id,
                                   audit: AuditDraft(actorID: world.southPhysician.id, action: .caseUpdate, resourceType: "case", outcome: .success))
            let page = try await browser.get(SiteURL.caseItem(caseID).path)
            #expect(page.text.contains("data-test=\"case-completeness\"") && page.text.contains("dossier complet"))
            let decided = try await browser.post(SiteURL.caseDecision(caseID).path, form: [
                ("type_surgery", "1"), ("proposal", "Lobectomie."), ("guidelines", "yes"), ("trial", "no"), ("file_complete", "yes"),
            ])
            #expect(decided.status == .seeOther)
            #expect(try await d.cases.find(id: caseID)?.status == .discussed)
            let stored = try await d.database.read { sql in
                try await sql.raw("SELECT complete_at_discussion FROM cases WHERE id = \(bind: caseID.storageKey)").first()?.decode(column: "complete_at_discussion", as: Int64?.self)
            }
            #expect(stored == 1)
        }
    }

    @Test func aSeriesCarriesItsListToItsMeetingsAndRefusesAnUnreadableOne() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            try await browser.logIn(email: "coord@t.fr")
            let form = try await browser.get(SiteURL.meetingSeriesNew.path)
            #expect(form.text.contains("data-test=\"completeness-rules\"") && form.text.contains("name=\"cp_molecular_sites\""))
            var fields: [(String, String)] = [
                ("community", world.south.id.storageKey), ("title", "RCP thoracique"), ("kind", "transversal"), ("recurrence", "weekly"),
                ("interval", "1"), ("weekday", "4"), ("first_date", DisplayFormat.dateInput(Date().addingTimeInterval(7 * 86_400))),
                ("start_time", "14:00"), ("duration", "90"), ("place", "Salle 1"), ("deadline_hours", "48"), ("quorum_minimum", "3"),
                ("cp_pathology_report", "required"), ("cp_recent_imaging", "recommended"), ("cp_recent_imaging_days", "45"),
                ("cp_molecular_results", "required"), ("cp_molecular_sites", "Z99"), ("cp_attested_0", "recommended"),
                ("cp_attested_0_label", "Consultation d'annonce faite"), ("cp_question", "sometimes"),
            ]
            #expect(try await browser.post(SiteURL.meetingSeries.path, form: fields).status == .badRequest)
            fields.removeLast()
            let refused = try await browser.post(SiteURL.meetingSeries.path, form: fields)
            #expect(refused.status == .badRequest && refused.text.contains("liste de complétude est invalide"))
            fields[fields.firstIndex { $0.0 == "cp_molecular_sites" }!] = ("cp_molecular_sites", "c34, C18")
            #expect(try await browser.post(SiteURL.meetingSeries.path, form: fields).status == .seeOther)
            let expected = CompletenessRules([
                CompletenessItem(.pathologyReport, .required), CompletenessItem(.recentImaging(days: 45), .recommended),
                CompletenessItem(.molecularResults(sites: ["C34", "C18"]), .required),
                CompletenessItem(.attested(label: "Consultation d'annonce faite"), .recommended),
            ])
            #expect(try await d.meetings.series(inCommunities: [world.south.id]).first?.completeness == expected)
            let meetings = try await d.meetings.meetings(inCommunities: [world.south.id], from: Date(), to: Date().addingTimeInterval(30 * 86_400))
            #expect(!meetings.isEmpty && meetings.allSatisfy { $0.completeness == expected })
        }
    }
}
