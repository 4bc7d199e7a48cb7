import ConcertoCore
import ConcertoStore
import ConcertoTestSupport
@testable import ConcertoWeb
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// The 3C's indicators over HTTP (issue 20): only the community's coordinators; the page,
/// its charts and tables, the period; the CSV and the annual report, audited.
@Suite struct IndicatorsWebTests {
    @Test func coordinatorsSeeTheirCommunitysIndicatorsAndNobodyElseDoes() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let caseID = try await FollowUpWebTests().validatedCase(d, world, daysAgo: 40)
            try await d.followUps.record(DecisionFollowUp(outcome: .carriedOut, firstTreatmentOn: ParisCalendar.date(of: Date().addingTimeInterval(-30 * 86_400))),
                                         caseID: caseID, revision: 0, by: world.southPhysician.id,
                                         audit: AuditDraft(actorID: world.southPhysician.id, action: .caseFollowUp, resourceType: "case", outcome: .success))
            let path = SiteURL.communityIndicators(world.south.id).path

            try await browser.logIn(email: "coord@t.fr")
            let community = try await browser.get(SiteURL.community(world.south.id).path)
            #expect(community.text.contains(#"href="\#(path)" data-test="indicators-link""#))
            let page = try await browser.get(path)
            #expect(page.status == .ok)
            let figures = try #require(page.text.components(separatedBy: "data-test=\"indicators-figures\"").dropFirst().first?.components(separatedBy: "</dl>").first)
            #expect(figures.contains("<dt>Fiches discutées</dt><dd>1</dd>") && figures.contains("<dt>Réunions tenues</dt><dd>1</dd>"))
            #expect(figures.contains("<dt>Nouveaux patients</dt><dd>1</dd>") && figures.contains("<dt>Décisions suivies</dt><dd>100 % (1/1)</dd>"))
            // Charts are images with a title and a description, their values in tables beside.
            #expect(page.text.contains(#"role="img" aria-labelledby="months-title months-desc""#) && page.text.contains("<title id=\"sites-title\">"))
            #expect(page.text.contains("C30-C39 · Organes respiratoires et intrathoraciques"))
            #expect(page.text.contains("Décision → premier traitement"))
            #expect(!page.text.contains("DUPONT"))

            // A narrower period without the meeting shows nothing; a reversed or unreadable one is refused.
            let old = try await browser.get(path + "?from=2020-01-01&to=2020-12-31")
            #expect(old.status == .ok && old.text.contains("Aucune fiche discutée sur cette période.") && old.text.contains(#"value="2020-12-31""#))
            #expect(try await browser.get(path + "?from=2026-05-01&to=2026-01-01").status == .badRequest)
            #expect(try await browser.get(path + "?from=hier").status == .badRequest)
            #expect(try await browser.get(path + "?from=2000-01-01&to=2026-01-01").status == .badRequest)
            // The last day a date field accepts: the day after it is computed, not typed, and
            // once crashed the server (a forced unwrap on the year range).
            #expect(try await browser.get(path + "?from=2200-01-01&to=2200-12-31").status == .ok)

            let csv = try await browser.get(SiteURL.communityIndicatorsCSV(world.south.id).path)
            #expect(csv.status == .ok && csv.headers[.contentType] == "text/csv; charset=utf-8")
            #expect(csv.text.hasPrefix("\u{FEFF}Indicateurs qualité (3C) · Sud;") && csv.text.contains("Fiches discutées;1\r\n"))
            #expect(csv.text.contains("Délai;Médiane;90e percentile;Fiches\r\n") && csv.text.contains("Inscription → réunion;"))
            let pdf = try await browser.get(SiteURL.communityIndicatorsPDF(world.south.id).path + "?from=2025-01-01&to=2026-12-31")
            #expect(pdf.status == .ok && pdf.headers[.contentType] == "application/pdf" && pdf.text.hasPrefix("%PDF"))
            let exports = try await d.audit.events(matching: .init()).filter { $0.event.action == "community.indicators_export" }.map(\.event.reason)
            #expect(exports.contains { $0?.hasPrefix("csv:") == true } && exports.contains("pdf:2025-01-01_2026-12-31"))

            // A physician of the community is refused; a stranger to it does not find it.
            let physician = browser.fresh()
            try await physician.logIn(email: "sud@t.fr")
            #expect(try await physician.get(path).status == .forbidden)
            #expect(try await physician.get(SiteURL.communityIndicatorsCSV(world.south.id).path).status == .forbidden)
            let north = browser.fresh()
            try await north.logIn(email: "nord@t.fr")
            #expect(try await north.get(path).status == .notFound)
            #expect(try await north.get(SiteURL.communityIndicatorsPDF(world.south.id).path).status == .notFound)
            #expect(try await browser.get(SiteURL.communityIndicators(UUID()).path).status == .notFound)
        }
    }
}
