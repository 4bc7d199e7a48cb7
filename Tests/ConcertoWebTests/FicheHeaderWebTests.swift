import CDA
import ConcertoCore
import ConcertoStore
import ConcertoTestSupport
@testable import ConcertoWeb
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// The fiche's header needs the community's regional network, the board's national id and
/// its managing structure with an address (CI-SIS FRCP): coordinators record them, and a
/// fiche is not validated while they are missing, so no exported fiche fails the national
/// schematron for want of them.
@Suite struct FicheHeaderWebTests {
    @Test func aFicheIsNotValidatedUntilItsCommunityRecordsTheHeaderIdentifiers() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let south = world.south.id
            try await d.communities.setRegistration(BoardRegistration(), communityID: south,
                                                    audit: AuditDraft(actorID: nil, action: .communityRegistration, resourceType: "community", outcome: .success))
            _ = try await d.communities.addOrganisation(world.organisation.id, to: south)
            // A discussed fiche, ready for validation.
            let caseID = try #require(try await d.patients.cases(of: world.southPatient).first).id
            let meetingID = UUID(), start = Date().addingTimeInterval(-1800)
            try await d.meetings.create(id: meetingID, communityID: south, title: "RCP", startsAt: start, endsAt: start.addingTimeInterval(7200))
            // The coordinator sits at the séance (checked in): that seat lets them validate.
            try await d.meetings.addParticipant(userID: world.southCoordinator.id, to: meetingID)
            let audit = AuditDraft(actorID: world.southCoordinator.id, action: .caseDecision, resourceType: "case", outcome: .success)
            try await d.cases.register(id: caseID, meetingID: meetingID, from: [.draft], by: world.southCoordinator.id, audit: audit)
            try await d.cases.recordDecision(id: caseID, decision: CaseDecision(proposalTypes: [.surgery], proposal: "Lobectomie.", followsGuidelines: true,
                                                                                 trialProposed: false, fileComplete: true, quorumMet: true),
                                             by: world.southCoordinator.id, audit: audit)

            let coordinator = browser
            try await coordinator.logIn(email: "coord@t.fr")
            try await coordinator.get(SiteURL.meetingSession(meetingID).path)
            let refused = try await coordinator.follow(try await coordinator.post(SiteURL.caseValidate(caseID).path, form: []))
            #expect(refused.text.contains("ne peut être validée"))
            #expect(try await d.cases.find(id: caseID)?.status == .discussed)

            let page = try await coordinator.get(SiteURL.community(south).path)
            #expect(page.text.contains("data-test=\"registration-missing\""))
            #expect(page.text.contains("identifiant de la RCP"))
            let path = SiteURL.communityRegistration(south).path
            let fields: [(String, String)] = [("network_name", "Onco-Nouvelle-Aquitaine"), ("network_id", "RRC-NA"), ("board_id", "RCP-THORAX-33"),
                                              ("manager", world.organisation.id.storageKey)]
            #expect(try await coordinator.post(path, form: fields.map { $0.0 == "board_id" ? ($0.0, "RCP 33 <b>") : $0 }).status == .badRequest)
            #expect(try await coordinator.post(path, form: fields.map { $0.0 == "manager" ? ($0.0, UUID().storageKey) : $0 }).status == .badRequest)
            // A physician of the community does not record them.
            let physician = browser.fresh()
            try await physician.logIn(email: "sud@t.fr")
            try await physician.get(SiteURL.community(south).path)
            #expect(try await physician.post(path, form: fields).status == .forbidden)

            try await coordinator.get(SiteURL.community(south).path)
            #expect(try await coordinator.post(path, form: fields).status == .seeOther)
            #expect(!(try await coordinator.get(SiteURL.community(south).path).text.contains("data-test=\"registration-missing\"")))
            try await coordinator.get(SiteURL.meetingSession(meetingID).path)
            #expect(try await coordinator.post(SiteURL.caseValidate(caseID).path, form: []).status == .seeOther)
            #expect(try await d.cases.find(id: caseID)?.status == .validated)

            let fiche = try await physician.get(SiteURL.caseFicheXML(caseID).path)
            #expect(fiche.status == .ok)
            let xml = String(buffer: fiche.body)
            #expect(xml.contains(#"extension="RCP-THORAX-33""#))
            let failures = try Schematron.failedAssertions([("fiche", Data(buffer: fiche.body))])
            #expect(failures["fiche"] == [])
        }
    }

    /// Every field of the fiche and of the decision filled through the forms, exported: the
    /// official schematron finds nothing to say.
    @Test func aFicheFilledThroughEveryFieldOfTheFormsPassesTheSchematron() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let caseID = try #require(try await d.patients.cases(of: world.southPatient).first).id
            let physician = browser
            try await physician.logIn(email: "sud@t.fr")
            try await physician.get(SiteURL.caseItem(caseID).path)
            let fiche: [(String, String)] = [
                ("revision", "1"), ("presentation_reason", PresentationReason.initialTreatment.rawValue), ("discovery_mode", DiscoveryMode.symptoms.rawValue),
                ("tumour_site", "C50.4"), ("morphology", "Carcinome canalaire infiltrant <grade 2> & RH+"), ("laterality", "7771000"),
                ("ct", "T2"), ("cn", "N1"), ("cm", "M0"), ("pt", "T2"), ("pn", "N1a"), ("tnm_edition", "8"),
                ("performance_status", "MED-240"), ("history", "HTA.\nDiabète de type 2."), ("comorbidities", "Obésité"), ("phase", "MED-268"),
                ("previous_treatments", "Tumorectomie en 2024.\n\nRadiothérapie adjuvante."), ("summary", "Récidive locale, 2 ans après."),
                ("question", "Mastectomie de rattrapage ?"),
            ]
            #expect(try await physician.post(SiteURL.caseItem(caseID).path, form: fiche).status == .seeOther)
            let content = try #require(try await d.cases.find(id: caseID)?.content)
            #expect(content.tnm.pN == "N1a" && content.lateralityCode == "7771000" && content.phaseCode == "MED-268")

            let meetingID = UUID(), start = Date().addingTimeInterval(-1800)
            try await d.meetings.create(id: meetingID, communityID: world.south.id, title: "RCP sein", startsAt: start, endsAt: start.addingTimeInterval(7200))
            try await d.meetings.addParticipant(userID: world.southCoordinator.id, to: meetingID)
            try await d.cases.register(id: caseID, meetingID: meetingID, from: [.draft], by: world.southPhysician.id,
                                       audit: AuditDraft(actorID: world.southPhysician.id, action: .caseRegister, resourceType: "case", outcome: .success))
            let coordinator = browser.fresh()
            try await coordinator.logIn(email: "coord@t.fr")
            try await coordinator.get(SiteURL.meetingSession(meetingID).path)
            let decision: [(String, String)] = [("type_surgery", "1"), ("type_radiotherapy", "1"), ("type_hormone_therapy", "1"),
                                                ("proposal", "Mastectomie totale gauche.\nPuis hormonothérapie."), ("guidelines", "no"),
                                                ("deviation", "Choix de la patiente"), ("trial", "yes"), ("trial_reference", "NCT-0000-42"),
                                                ("file_complete", "yes"), ("without_quorum", "1")]
            #expect(try await coordinator.post(SiteURL.caseDecision(caseID).path, form: decision).status == .seeOther)
            #expect(try await d.cases.find(id: caseID)?.decision?.proposalTypes.count == 3)
            #expect(try await coordinator.post(SiteURL.caseValidate(caseID).path, form: []).status == .seeOther)
            #expect(try await d.cases.find(id: caseID)?.status == .validated)

            let fiche1 = try await physician.get(SiteURL.caseFicheXML(caseID).path)
            #expect(fiche1.status == .ok)
            let failures = try Schematron.failedAssertions([("every-field", Data(buffer: fiche1.body))])
            #expect(failures["every-field"] == [])
        }
    }

    /// A series may carry its own board id (its fiches carry it); the network and the
    /// managing structure stay the community's.
    @Test func aSeriesBoardIDGoesOnItsFichesInPlaceOfTheCommunitys() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            try await browser.logIn(email: "coord@t.fr")
            try await browser.get(SiteURL.meetingSeriesNew.path)
            var form: [(String, String)] = [
                ("community", world.south.id.storageKey), ("title", "RCP thoracique"), ("kind", "transversal"), ("recurrence", "weekly"),
                ("interval", "1"), ("weekday", "4"), ("first_date", DisplayFormat.dateInput(Date().addingTimeInterval(7 * 86_400))),
                ("start_time", "14:00"), ("duration", "90"), ("place", "Salle 1"), ("deadline_hours", "48"), ("quorum_minimum", "3"),
                ("board_id", "RCP 33 thorax"),
            ]
            #expect(try await browser.post(SiteURL.meetingSeries.path, form: form).status == .badRequest)
            form[form.count - 1] = ("board_id", "RCP-33-THORAX")
            #expect(try await browser.post(SiteURL.meetingSeries.path, form: form).status == .seeOther)
            let meeting = try #require(try await d.meetings.meetings(inCommunities: [world.south.id], from: Date(), to: Date().addingTimeInterval(30 * 86_400)).first)
            let registration = try await d.communities.registration(communityID: world.south.id, seriesID: meeting.seriesID)
            #expect(registration.boardID == "RCP-33-THORAX")
            #expect(registration.networkID == "TEST-RRC" && registration.managerID == world.organisation.id)
            #expect(try await d.communities.registration(of: world.south.id).boardID == "TEST-RCP-Sud")
        }
    }

    @Test func missingPartsAreNamedOneByOne() {
        var organisation = Organisation(name: "CH", finess: FINESSNumber("330781196")!, city: "Bordeaux")
        let complete = BoardRegistration(networkName: "RRC", networkID: "1", boardID: "2", managerID: organisation.id)
        #expect(BoardRegistration().missing(manager: nil) == [.networkName, .networkID, .boardID, .manager])
        #expect(complete.missing(manager: organisation) == [.managerAddress])
        organisation.street = "1 rue"
        organisation.postalCode = "33000"
        #expect(complete.missing(manager: organisation) == [])
        #expect(BoardRegistration.isValidIdentifier("DEMO-RCP_01.2"))
        #expect(!BoardRegistration.isValidIdentifier("RCP 01") && !BoardRegistration.isValidIdentifier("") && !BoardRegistration.isValidIdentifier(String(repeating: "1", count: 31)))
    }
}
