import CDA
import ConcertoCore
import ConcertoServices
import ConcertoStore
import ConcertoTestSupport
@testable import ConcertoWeb
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SQLKit
import Testing

/// Exports of the demo's validated fiches, on SQLite and PostgreSQL: CDA R2 valid against
/// the schema and read back with the fiche's values; access and audit like any read.
@Suite struct ExportWebTests {
    static let schemaPath = Repository.root.deletingLastPathComponent().appendingPathComponent("shared/spec/cda-xsd/CDA_extended.xsd").path

    /// The fiches validated at last week's board (Jean's and Louise's, which the oncologist
    /// follows); the demo's older history belongs to other referring physicians.
    func validatedCases(_ d: AppDependencies) async throws -> [UUID] {
        let lastWeek = Timestamp.epochSeconds(Date().addingTimeInterval(-8 * 86_400))
        return try await d.database.read { sql in
            try await sql.raw("""
                SELECT c.id FROM cases c JOIN meetings m ON m.id = c.meeting_id
                WHERE c.status = 'validated' AND m.starts_at > \(bind: lastWeek) ORDER BY c.id
                """).all()
                .compactMap { UUID(uuidString: try $0.decode(column: "id", as: String.self)) }
        }
    }

    @Test func theDemosValidatedFichesExportToValidCDAThatReadsBack() async throws {
        try await withTestApp(configure: { $0.seedDemoData = true }) { browser, d in
            let accounts = try await DemoData.seedIfEmpty(d)
            let oncologist = try #require(accounts.first { $0.email.hasPrefix("oncologue") })
            let schema = try CDASchema(path: Self.schemaPath)
            let ids = try await validatedCases(d)
            #expect(ids.count == 2)
            try await browser.logIn(email: oncologist.email, password: oncologist.password)
            var exported: [(name: String, data: Data)] = []
            for id in ids {
                let record = try #require(try await d.cases.find(id: id))
                let casePage = try await browser.get(SiteURL.caseItem(id).path)
                #expect(casePage.text.contains(SiteURL.caseFicheXML(id).path))
                let response = try await browser.get(SiteURL.caseFicheXML(id).path)
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/xml")
                #expect(response.headers[.cacheControl] == "no-store")
                exported.append((id.storageKey, Data(buffer: response.body)))
                let report = CDAReader.read(Data(buffer: response.body), options: CDAReadOptions(schema: schema))
                #expect(report.errors == [])
                let document = try #require(report.document)
                let decision = try #require(record.decision)
                #expect(document.type?.code == "34794-8")
                #expect(document.version == record.edition)
                #expect(document.boardOutcome?.quorumCode == (decision.quorumMet ? "ORG-126" : "ORG-133"))
                #expect(document.boardOutcome?.fileComplete == decision.fileComplete)
                #expect(document.boardOutcome?.proposal?.contains(decision.proposal) == true)
                #expect(document.tnm.cT == record.content.tnm.cT && document.tnm.pT == record.content.tnm.pT && document.tnm.pN == record.content.tnm.pN)
                #expect(document.serviceEvents.compactMap(\.code?.code).contains(record.content.tumourSiteCode ?? "-"))
                // The author and legal authenticator is the validating physician, with RPPS.
                #expect(document.legalAuthenticator?.rpps != nil && document.legalAuthenticator?.id?.root == "1.2.250.1.71.4.2.1")
                let patient = try #require(try await d.patients.find(id: record.patientID))
                if patient.identity.status == .qualified {
                    #expect(document.patient?.ins?.value == patient.identity.ins?.matricule)
                } else {
                    #expect(document.patient?.ins == nil)
                }
            }
            // The official ANS schematron (CANCER-FRCP 2022.01): no failed assertion.
            let failures = try Schematron.failedAssertions(exported)
            for (name, _) in exported { #expect(failures[name] == [], "\(name): \(failures[name] ?? [])") }
            let exports = try await d.audit.events(matching: .init()).map(\.event).filter { $0.action == "case.export" }
            #expect(exports.count == 2 && exports.allSatisfy { $0.outcome == "allowed" })
        }
    }

    @Test func aFicheNotYetValidatedIsNotExportedAndOtherCommunitiesGet404() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let caseID = try #require(try await d.patients.cases(of: world.southPatient).first).id
            try await browser.logIn(email: "sud@t.fr")
            let draft = try await browser.get(SiteURL.caseFicheXML(caseID).path)
            #expect(draft.status == .conflict)
            #expect(draft.text.contains("Seule une fiche validée"))
            let north = browser.fresh()
            try await north.logIn(email: "nord@t.fr")
            #expect(try await north.get(SiteURL.caseFicheXML(caseID).path).status == .notFound)
            #expect(try await north.get(SiteURL.caseFicheXML(UUID()).path).status == .notFound)
        }
    }
}

@Suite struct ActivityExportWebTests {
    @Test func coordinatorsDownloadTheActivityCSVWithPseudonymousKeys() async throws {
        try await withTestApp(configure: { $0.seedDemoData = true }) { browser, d in
            let accounts = try await DemoData.seedIfEmpty(d)
            let south = try #require(try await d.communities.all().first { $0.name == "RCP Nouvelle-Aquitaine Sud" })
            let coordinator = try #require(accounts.first { $0.role == .coordinator })
            try await browser.logIn(email: coordinator.email, password: coordinator.password)
            let page = try await browser.get(SiteURL.community(south.id).path)
            #expect(page.text.contains("data-test=\"activity-export\""))
            let today = ParisCalendar.date(of: Date())
            // Since last week's board (the demo's older history is other boards' fiches).
            let from = ParisCalendar.adding(days: -7, to: today)
            let path = SiteURL.communityActivityCSV(south.id).path + "?from=\(from.iso)&to=\(today.iso)"
            let response = try await browser.get(path)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "text/csv; charset=utf-8")
            let data = Data(buffer: response.body)
            #expect(Array(data.prefix(3)) == [0xEF, 0xBB, 0xBF])
            let lines = String(decoding: data.dropFirst(3), as: UTF8.self).components(separatedBy: "\r\n").filter { !$0.isEmpty }
            #expect(lines.first?.hasPrefix("date_rcp;rcp;cle_patient;cim10") == true)
            // Last week's board decided two cases (colon and breast); today's case has no decision yet.
            let rows = lines.dropFirst().map { $0.components(separatedBy: ";") }
            #expect(rows.map { $0[3] }.sorted() == ["C18.7", "C50.4"])
            #expect(rows.allSatisfy { $0[2].count == 16 && $0[2].allSatisfy(\.isHexDigit) })
            #expect(Set(rows.map { $0[2] }).count == 2)
            // No identity leaves in the file.
            let text = String(decoding: data, as: UTF8.self)
            for name in ["LAMBERT", "BERNARD", "Jean", "Louise"] { #expect(!text.contains(name)) }
            // The key is stable across exports.
            let again = String(decoding: Data(buffer: try await browser.get(path + "&format=plain").body), as: UTF8.self)
            #expect(!again.hasPrefix("\u{FEFF}"))
            #expect(Set(again.components(separatedBy: "\r\n").dropFirst().filter { !$0.isEmpty }.map { $0.components(separatedBy: ",")[2] })
                == Set(rows.map { $0[2] }))
            #expect(try await browser.get(SiteURL.communityActivityCSV(south.id).path + "?from=2026-13-01").status == .badRequest)
            #expect(try await browser.get(SiteURL.communityActivityCSV(south.id).path + "?from=\(today.iso)&to=\(from.iso)").status == .badRequest)
            let audited = try await d.audit.events(matching: .init()).map(\.event).filter { $0.action == "community.activity_export" }
            #expect(audited.count == 2 && audited.first?.reason == "rows:2")

            // A physician of the community: refused; a non-member: 404.
            let physician = browser.fresh()
            let oncologist = try #require(accounts.first { $0.email.hasPrefix("oncologue") })
            try await physician.logIn(email: oncologist.email, password: oncologist.password)
            #expect(try await physician.get(path).status == .forbidden)
            try await createUser(d, email: "outsider@t.fr", name: "Dr Dehors")
            let outsider = browser.fresh()
            try await outsider.logIn(email: "outsider@t.fr")
            #expect(try await outsider.get(path).status == .notFound)
        }
    }
}

@Suite(.enabled(if: TestTools.hasPoppler, "needs poppler-utils (make test installs it)"))
struct MinutesExportWebTests {
    /// A meeting of `count` decided cases of the southern test patient's community, the
    /// southern physician in the care team of each; the first `validated` are validated.
    static func boardOf(_ count: Int, validated: Int, _ d: AppDependencies, _ world: AccessWorld) async throws -> UUID {
        let meetingID = UUID()
        let start = Date().addingTimeInterval(-3600)
        try await d.meetings.create(id: meetingID, communityID: world.south.id, title: "RCP digestive", startsAt: start, endsAt: start.addingTimeInterval(7200),
                                    place: "Salle 2", deadlineHours: 0)
        let author = world.southPhysician.id
        func audit(_ action: AuditAction) -> AuditDraft { AuditDraft(actorID: author, action: action, resourceType: "case", outcome: .success) }
        for index in 0..<count {
            let identity = PatientIdentity(birthName: "PATIENT\(index)", firstNames: "Élise", birthDate: CalendarDate(year: 1950 + index, month: 3, day: 1)!,
                                           sex: .female, status: .provisional)
            let patient = try await d.patients.create(identity, in: world.south.id, by: author, careReason: "Référente", localID: nil, audit: audit(.patientCreate))
            let caseID = try await d.cases.create(patientID: patient, communityID: world.south.id, by: author, content: CaseContent(
                tumourSiteCode: "C18.7", tnm: TNM(pT: "T3", pN: "N1", edition: 8),
                summary: "Dossier \(index) : " + String(repeating: "synthèse détaillée du parcours, ", count: 12), question: "Chimiothérapie adjuvante ?"),
                audit: audit(.caseCreate))
            try await d.cases.register(id: caseID, meetingID: meetingID, from: [.draft], by: author, audit: audit(.caseRegister))
            try await d.cases.recordDecision(id: caseID, decision: CaseDecision(
                proposalTypes: [.chemotherapy], proposal: "FOLFOX 3 mois pour le dossier \(index).", followsGuidelines: true, trialProposed: false,
                fileComplete: true, quorumMet: true), by: author, audit: audit(.caseDecision))
            if index < validated { try await d.cases.validate(id: caseID, by: author, audit: audit(.caseValidate)) }
        }
        return meetingID
    }

    @Test func minutesOfA40CaseBoardAndTheArchive() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let meetingID = try await Self.boardOf(40, validated: 2, d, world)
            try await browser.logIn(email: "sud@t.fr")
            #expect(try await browser.get(SiteURL.meeting(meetingID).path).text.contains(SiteURL.meetingMinutesPDF(meetingID).path))
            let response = try await browser.get(SiteURL.meetingMinutesPDF(meetingID).path)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/pdf")
            let (text, pages) = try TestTools.pdfText(Data(buffer: response.body))
            #expect(pages >= 10)
            #expect(text.contains("Page 1 / \(pages)") && text.contains("Page \(pages) / \(pages)"))
            #expect(text.contains("Compte rendu de RCP"))
            for index in [0, 17, 39] {
                #expect(text.contains("PATIENT\(index)"), "PATIENT\(index)")
                #expect(text.contains("FOLFOX 3 mois pour le dossier \(index)."))
            }
            #expect(text.contains("Quorum"))
            #expect(text.contains("Chimiothérapie adjuvante"))

            let zip = try await browser.get(SiteURL.meetingMinutesZIP(meetingID).path)
            #expect(zip.status == .ok)
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("concerto-\(UUID().uuidString).zip")
            try Data(buffer: zip.body).write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            let listing = try TestTools.run(["unzip", "-l", file.path])
            #expect(listing.status == 0)
            #expect(listing.output.contains("compte-rendu.pdf"))
            // The two validated fiches, each as CDA and PDF.
            #expect(listing.output.components(separatedBy: "fiche-rcp.xml").count - 1 == 2)
            #expect(listing.output.components(separatedBy: "fiche-rcp.pdf").count - 1 == 2)
            let integrity = try TestTools.run(["unzip", "-t", file.path])
            #expect(integrity.status == 0 && integrity.output.contains("No errors detected"))
            let exports = try await d.audit.events(matching: .init()).map(\.event).filter { $0.action == "meeting.minutes_export" }
            #expect(Set(exports.compactMap(\.reason)) == ["pdf", "zip"] && exports.count == 2)
        }
    }

    @Test func minutesAreRefusedToWhoMayNotReadEveryCase() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let meetingID = try await Self.boardOf(3, validated: 0, d, world)
            // A colleague of the community outside the care team, not a participant.
            try await browser.logIn(email: "collegue@t.fr")
            let refused = try await browser.get(SiteURL.meetingMinutesPDF(meetingID).path)
            #expect(refused.status == .forbidden)
            #expect(refused.text.contains("3"))
            let north = browser.fresh()
            try await north.logIn(email: "nord@t.fr")
            #expect(try await north.get(SiteURL.meetingMinutesZIP(meetingID).path).status == .notFound)
        }
    }

    @Test func theFichePDFOfAValidatedCase() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let meetingID = try await Self.boardOf(1, validated: 1, d, world)
            let caseID = try #require(try await d.meetings.agenda(of: meetingID).first).caseID
            try await browser.logIn(email: "sud@t.fr")
            let response = try await browser.get(SiteURL.caseFichePDF(caseID).path)
            #expect(response.status == .ok)
            let (text, pages) = try TestTools.pdfText(Data(buffer: response.body))
            #expect(pages == 1)
            #expect(text.contains("Fiche RCP") && text.contains("PATIENT0") && text.contains("FOLFOX 3 mois pour le dossier 0."))
            #expect(text.contains("Fiche validée le"))
            // The CDA with its PDF copy embedded reads back with the PDF.
            let cda = try await browser.get(SiteURL.caseFicheXML(caseID).path + "?pdf=1")
            let document = try #require(CDA.CDAReader.read(Data(buffer: cda.body)).document)
            #expect(document.pdf?.starts(with: Data("%PDF".utf8)) == true)
        }
    }
}
