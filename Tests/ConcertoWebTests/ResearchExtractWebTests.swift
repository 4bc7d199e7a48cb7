import ConcertoCore
import ConcertoStore
import ConcertoTestSupport
@testable import ConcertoWeb
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// The pseudonymised research extract (issue 20): nothing that names the patient, stable
/// pseudonyms, another key or community gives others, coordinators only, audited.
@Suite struct ResearchExtractWebTests {
    @Test func theExtractCarriesNoIdentifyingFieldAndStablePseudonyms() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let caseID = try await FollowUpWebTests().validatedCase(d, world, daysAgo: 40)
            try await d.followUps.record(DecisionFollowUp(outcome: .carriedOut, firstTreatmentOn: ParisCalendar.date(of: Date().addingTimeInterval(-30 * 86_400)),
                                                          carePlanGivenOn: ParisCalendar.date(of: Date().addingTimeInterval(-35 * 86_400))),
                                         caseID: caseID, revision: 0, by: world.southPhysician.id,
                                         audit: AuditDraft(actorID: world.southPhysician.id, action: .caseFollowUp, resourceType: "case", outcome: .success))
            let patient = try #require(try await d.patients.find(id: world.southPatient))
            try await browser.logIn(email: "coord@t.fr")
            let page = try await browser.get(SiteURL.communityResearch(world.south.id).path)
            #expect(page.status == .ok && page.text.contains("data-test=\"research-left-out\"") && page.text.contains("HMAC-SHA256"))

            let csv = try await browser.get(SiteURL.communityResearchCSV(world.south.id).path)
            #expect(csv.status == .ok && csv.headers[.contentType] == "text/csv; charset=utf-8")
            let lines = csv.text.dropFirst().components(separatedBy: "\r\n").filter { !$0.isEmpty }
            #expect(lines.first == ResearchExtractController.header.joined(separator: ";"))
            #expect(lines.count == 2)
            let fields = try #require(lines.last?.components(separatedBy: ";"))
            let pseudonym = fields[0]
            #expect(pseudonym.count == 32 && pseudonym.allSatisfy(\.isHexDigit))
            #expect(fields[1] == "1961" && fields[4] == "C34.1" && fields[12] == "surgery" && fields[17] == "carried_out" && fields[18] == "10" && fields[19] == "oui")
            #expect(fields[3].count == 7 && fields[16].count == 7) // months, not days
            // Nothing that names the patient: names, INS, ids, exact dates, free text.
            for identifying in [patient.identity.birthName, patient.identity.firstNames, patient.identity.ins?.matricule ?? "-", world.southPatient.storageKey,
                                caseID.storageKey, "1961-05-12", "Lobectomie supérieure droite.", "Synthèse.", "Question ?"] {
                #expect(!csv.text.contains(identifying), "\(identifying)")
            }
            // Stable from one export to the next, and it is the HMAC under the community's key.
            let again = try await browser.get(SiteURL.communityResearchCSV(world.south.id).path + "?from=2020-01-01&to=\(ParisCalendar.date(of: Date()).iso)")
            #expect(again.text.contains("\r\n\(pseudonym);"))
            let key = try #require(d.database.auditKey).pseudonymKey(community: world.south.id)
            #expect(ResearchExtractStore.pseudonym(patient: world.southPatient, key: key) == pseudonym)
            let reasons = try await d.audit.events(matching: .init()).filter { $0.event.action == "community.research_extract" }.map(\.event.reason)
            #expect(reasons.count == 2 && reasons.allSatisfy { $0?.hasPrefix("rows:1 ") == true })

            // A physician of the community is refused (and it is traced); a stranger finds nothing.
            let physician = browser.fresh()
            try await physician.logIn(email: "sud@t.fr")
            #expect(try await physician.get(SiteURL.communityResearchCSV(world.south.id).path).status == .forbidden)
            #expect(try await physician.get(SiteURL.communityResearch(world.south.id).path).status == .forbidden)
            let north = browser.fresh()
            try await north.logIn(email: "nord@t.fr")
            #expect(try await north.get(SiteURL.communityResearchCSV(world.south.id).path).status == .notFound)
            let denied = try await d.audit.events(matching: .init()).filter { $0.event.action == "community.research_extract" && $0.event.outcome == "denied" }
            #expect(denied.count == 2)
        }
    }

    @Test func anotherKeyOrAnotherCommunityGivesOtherPseudonyms() {
        let patient = UUID(), community = UUID()
        let key = AuditKey.random(), other = AuditKey.random()
        let pseudonym = ResearchExtractStore.pseudonym(patient: patient, key: key.pseudonymKey(community: community))
        #expect(pseudonym == ResearchExtractStore.pseudonym(patient: patient, key: key.pseudonymKey(community: community)))
        #expect(pseudonym != ResearchExtractStore.pseudonym(patient: patient, key: other.pseudonymKey(community: community)))
        #expect(pseudonym != ResearchExtractStore.pseudonym(patient: patient, key: key.pseudonymKey(community: UUID())))
        #expect(pseudonym != ResearchExtractStore.pseudonym(patient: UUID(), key: key.pseudonymKey(community: community)))
    }
}
