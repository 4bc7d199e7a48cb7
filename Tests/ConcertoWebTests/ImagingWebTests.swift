import ConcertoCore
import ConcertoStore
import ConcertoTestSupport
@testable import ConcertoWeb
import DICOMweb
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// The Imagerie tab over HTTP against the real Orthanc of the test run (on SQLite and
/// PostgreSQL): search by INS with filters, attach and detach, thumbnails through the
/// proxy, audit, refusals that send nothing to the exchange, and an exchange that hangs.
@Suite struct ImagingWebTests {
    static let orthanc = TestExchange.isAvailable

    func withImagingApp(exchange url: String? = TestExchange.url, timeout: Double = 2.5,
                        _ body: @Sendable (TestBrowser, AppDependencies, AccessWorld) async throws -> Void) async throws {
        try await withTestApp(configure: { config in
            config.dicomwebURL = url
            config.dicomwebTimeoutSeconds = timeout
            config.viewerURLTemplate = "https://viewer.example/ohif/viewer?StudyInstanceUIDs={study}"
        }) { browser, d in
            try await body(browser, d, try await AccessWorld.make(d))
        }
    }

    func southCase(_ d: AppDependencies, _ world: AccessWorld) async throws -> UUID {
        try #require(try await d.patients.cases(of: world.southPatient).first).id
    }

    func rows(_ html: String) -> [String] {
        html.components(separatedBy: "data-test=\"study-row\" data-uid=\"").dropFirst().compactMap { $0.split(separator: "\"").first.map(String.init) }
    }

    func attachedUIDs(_ html: String) -> [String] {
        html.components(separatedBy: "data-test=\"attached-study\" data-uid=\"").dropFirst().compactMap { $0.split(separator: "\"").first.map(String.init) }
    }

    /// Oldest first, in order of arrival: an event a change wrote may still wait for the sequencer (sequence 0).
    func events(_ d: AppDependencies, _ prefix: String = "imaging.") async throws -> [AuditEvent] {
        try await d.audit.events(matching: .init()).map(\.event).filter { $0.action.hasPrefix(prefix) }.reversed()
    }

    static func threeYearsAgo() -> String {
        let date = Calendar(identifier: .gregorian).date(byAdding: .year, value: -3, to: Date())!
        return ISO8601DateFormatter.string(from: date, timeZone: TimeZone(identifier: "Europe/Paris")!, formatOptions: .withFullDate).replacingOccurrences(of: "-", with: "")
    }

    @Test(.enabled(if: orthanc, "needs the test run's Orthanc"))
    func searchFiltersAttachThumbnailsAndAudit() async throws {
        try await withImagingApp { browser, d, world in
            let caseID = try await southCase(d, world)
            let marie = TestExchange.studies(of: "marie")
            try await browser.logIn(email: "sud@t.fr")

            // Default: the last three years (priors), newest first.
            let page = try await browser.get(SiteURL.caseImaging(caseID).path)
            #expect(page.status == .ok)
            let recent = marie.filter { $0.studyDate >= Self.threeYearsAgo() }.sorted { $0.studyDate > $1.studyDate }
            #expect(rows(page.text) == recent.map(\.studyInstanceUID))
            #expect(recent.count < marie.count)
            #expect(page.text.contains("TEP-TDM au 18F-FDG"))
            // Everything the exchange holds, then one modality, then an accession number.
            #expect(Set(rows(try await browser.get(SiteURL.caseImaging(caseID).path + "?from=").text)) == Set(marie.map(\.studyInstanceUID)))
            #expect(rows(try await browser.get(SiteURL.caseImaging(caseID).path + "?from=&modality=MR").text)
                == marie.filter { $0.modalities.contains("MR") }.map(\.studyInstanceUID))
            #expect(rows(try await browser.get(SiteURL.caseImaging(caseID).path + "?from=&accession=ACC-M-0004").text)
                == marie.filter { $0.accessionNumber == "ACC-M-0004" }.map(\.studyInstanceUID))
            let badDate = try await browser.get(SiteURL.caseImaging(caseID).path + "?from=31-12-2020")
            #expect(badDate.text.contains("Date invalide"))

            // Attach two studies with notes; the exchange's description is stored, not the form's.
            let pet = try #require(marie.first { $0.accessionNumber == "ACC-M-0002" })
            let ct = try #require(marie.first { $0.accessionNumber == "ACC-M-0001" })
            try await browser.get(SiteURL.caseImaging(caseID).path)
            for (study, note) in [(pet, "Examen de référence"), (ct, "Dernier bilan")] {
                let attached = try await browser.post(SiteURL.caseImaging(caseID).path, form: [
                    ("study", study.studyInstanceUID), ("exchange", "default"), ("note", note), ("description", "forged"),
                ])
                #expect(attached.status == .seeOther)
            }
            // Twice is once.
            _ = try await browser.post(SiteURL.caseImaging(caseID).path, form: [("study", pet.studyInstanceUID), ("exchange", "default")])
            let stored = try await d.imagingStudies.studies(ofCase: caseID)
            #expect(stored.map(\.reference.studyUID) == [pet, ct].sorted { $0.studyDate > $1.studyDate }.map(\.studyInstanceUID))
            let storedPET = try #require(stored.first { $0.reference.studyUID == pet.studyInstanceUID })
            #expect(storedPET.reference.description == "TEP-TDM au 18F-FDG")
            #expect(storedPET.reference.modalities.sorted() == ["CT", "PT"])
            #expect(storedPET.reference.seriesCount == 2 && storedPET.reference.instanceCount == 6)
            #expect(storedPET.note == "Examen de référence")
            // The key series is the PET (the image series with most instances, first on ties).
            #expect(storedPET.reference.keySeriesUID == pet.series[0].seriesInstanceUID)

            // The case page shows both with thumbnails and viewer links, from the database.
            let casePage = try await browser.get(SiteURL.caseItem(caseID).path)
            #expect(Set(attachedUIDs(casePage.text)) == [pet.studyInstanceUID, ct.studyInstanceUID])
            #expect(casePage.text.contains("Examen de référence"))
            let thumbnailPath = SiteURL.caseImagingThumbnail(caseID, study: storedPET.id).path
            #expect(casePage.text.contains(thumbnailPath))
            let thumbnail = try await browser.get(thumbnailPath)
            #expect(thumbnail.status == .ok)
            #expect(thumbnail.headers[.contentType] == "image/jpeg")
            #expect(Array(Data(buffer: thumbnail.body).prefix(2)) == [0xFF, 0xD8])
            #expect(thumbnail.headers[.cacheControl] == "private, no-cache")
            let etag = try #require(thumbnail.headers[.eTag])
            let again = try await browser.get(thumbnailPath, headers: [.ifNoneMatch: etag])
            #expect(again.status == .notModified)
            #expect(d.imaging.thumbnails.count == 1)
            let viewer = try await browser.get(SiteURL.caseImagingViewer(caseID, study: storedPET.id).path)
            #expect(viewer.status == .seeOther)
            #expect(viewer.headers[.location] == "https://viewer.example/ohif/viewer?StudyInstanceUIDs=\(pet.studyInstanceUID)")

            // Every search, attachment and view is audited with the study UID.
            let trail = try await events(d)
            // Five searches: the invalid date sends none.
            #expect(trail.filter { $0.action == "imaging.search" }.count == 5)
            #expect(trail.filter { $0.action == "imaging.attach" }.map(\.resourceID) == [pet.studyInstanceUID, ct.studyInstanceUID])
            #expect(trail.filter { $0.action == "imaging.view" }.map(\.resourceID) == [pet.studyInstanceUID, pet.studyInstanceUID])
            #expect(trail.filter { $0.action == "imaging.viewer" }.map(\.resourceID) == [pet.studyInstanceUID])
            #expect(trail.allSatisfy { $0.patientID == world.southPatient.storageKey && $0.actorID == world.southPhysician.id.storageKey })

            // Detach: the reference goes, the study stays on the exchange; audited.
            let detached = try await browser.post(SiteURL.caseImagingDetach(caseID, study: storedPET.id).path, form: [("return", SiteURL.caseItem(caseID).path)])
            #expect(detached.status == .seeOther && detached.headers[.location] == SiteURL.caseItem(caseID).path)
            #expect(try await d.imagingStudies.studies(ofCase: caseID).map(\.reference.studyUID) == [ct.studyInstanceUID])
            #expect(try await events(d).last?.action == "imaging.detach")
            #expect(try await events(d).last?.resourceID == pet.studyInstanceUID)
        }
    }

    @Test(.enabled(if: orthanc, "needs the test run's Orthanc"))
    func refusedUsersCauseNoRequestToTheExchange() async throws {
        try await withImagingApp { browser, d, world in
            let caseID = try await southCase(d, world)
            let client = try #require(d.imaging.client(ExchangeDirectory.defaultID))
            // An attachment to try the picture routes on.
            let study = try #require(TestExchange.studies(of: "marie").first)
            let reference = StudyReference(exchangeID: "default", studyUID: study.studyInstanceUID, accessionNumber: nil, studyDate: nil, modalities: ["CT"],
                                           description: nil, seriesCount: nil, instanceCount: nil, keySeriesUID: nil)
            guard case .attached(let attachment) = try await d.imagingStudies.attach(
                reference, toCase: caseID, note: nil, by: world.southPhysician.id,
                audit: AuditDraft(actorID: world.southPhysician.id, action: .imagingAttach, resourceType: "imaging_study", outcome: .success)) else {
                Issue.record("not attached"); return
            }
            let before = client.requestsSent
            // A member of another community: 404, like a case that does not exist.
            // A secretary (administrative data only) and a colleague outside the care team: 403.
            for (email, expected) in [("nord@t.fr", HTTPResponse.Status.notFound), ("secr@t.fr", .forbidden), ("collegue@t.fr", .forbidden)] {
                let other = browser.fresh()
                try await other.logIn(email: email)
                #expect(try await other.get(SiteURL.caseImaging(caseID).path).status == expected, "\(email)")
                #expect(try await other.get(SiteURL.caseImagingThumbnail(caseID, study: attachment).path).status == expected, "\(email)")
                #expect(try await other.get(SiteURL.caseImagingViewer(caseID, study: attachment).path).status == expected, "\(email)")
                try await other.get("/")
                let attach = try await other.post(SiteURL.caseImaging(caseID).path, form: [("study", study.studyInstanceUID), ("exchange", "default")])
                #expect(attach.status == expected, "\(email)")
            }
            #expect(client.requestsSent == before)
            let denied = try await d.audit.events(matching: .init(patientIDs: [world.southPatient])).map(\.event).filter { $0.outcome == "denied" }
            #expect(denied.filter { $0.action.hasPrefix("imaging.") }.count == 12)
            // The owner's request does reach it.
            try await browser.logIn(email: "sud@t.fr")
            #expect(try await browser.get(SiteURL.caseImaging(caseID).path).status == .ok)
            #expect(client.requestsSent > before)
        }
    }

    @Test(.enabled(if: orthanc, "needs the test run's Orthanc"))
    func forgedIdsAndAnotherPatientsStudyAttachNothing() async throws {
        try await withImagingApp { browser, d, world in
            let caseID = try await southCase(d, world)
            try await browser.logIn(email: "sud@t.fr")
            try await browser.get(SiteURL.caseImaging(caseID).path)
            // Louise's study, on Marie's case: the exchange says it is not hers.
            let louise = try #require(TestExchange.studies(of: "louise").first)
            let other = try await browser.post(SiteURL.caseImaging(caseID).path, form: [("study", louise.studyInstanceUID), ("exchange", "default")])
            #expect(other.status == .unprocessableContent)
            #expect(other.text.contains("rien n&#39;a été attaché") || other.text.contains("rien n'a été attaché"))
            for forged in ["../../studies", "1.2.3.4'; DROP TABLE case_studies;--", ""] {
                #expect(try await browser.post(SiteURL.caseImaging(caseID).path, form: [("study", forged), ("exchange", "default")]).status == .unprocessableContent)
            }
            #expect(try await browser.post(SiteURL.caseImaging(caseID).path, form: [("study", louise.studyInstanceUID), ("exchange", "elsewhere")]).status
                == .unprocessableContent)
            #expect(try await browser.post(SiteURL.caseImaging(caseID).path, form: [("study", louise.studyInstanceUID)], csrf: .none).status == .forbidden)
            #expect(try await d.imagingStudies.studies(ofCase: caseID).isEmpty)
            #expect(try await events(d).contains { $0.action == "imaging.attach" && $0.outcome == "denied" && $0.resourceID == louise.studyInstanceUID })

            // An attachment id under another case, or unknown: 404.
            let marie = try #require(TestExchange.studies(of: "marie").first)
            _ = try await browser.post(SiteURL.caseImaging(caseID).path, form: [("study", marie.studyInstanceUID), ("exchange", "default")])
            let attachment = try #require(try await d.imagingStudies.studies(ofCase: caseID).first).id
            let northCase = try #require(try await d.patients.cases(of: world.northPatient).first).id
            #expect(try await browser.get(SiteURL.caseImagingThumbnail(northCase, study: attachment).path).status == .notFound)
            #expect(try await browser.get(SiteURL.caseImagingThumbnail(caseID, study: UUID()).path).status == .notFound)
            #expect(try await browser.get("/cases/\(caseID.storageKey)/imaging/not-a-uuid/thumbnail").status == .notFound)
            #expect(try await browser.post(SiteURL.caseImagingDetach(caseID, study: UUID()).path, form: []).status == .notFound)
            #expect(try await d.imagingStudies.studies(ofCase: caseID).count == 1)
        }
    }

    @Test(.enabled(if: orthanc, "needs the test run's Orthanc"))
    func anImagingReportAttachesTheStudiesItReferences() async throws {
        try await withImagingApp { browser, d, world in
            let caseID = try await southCase(d, world)
            let study = try #require(TestExchange.studies(of: "marie").first { $0.accessionNumber == "ACC-M-0003" })
            try await browser.logIn(email: "sud@t.fr")
            try await browser.get(SiteURL.caseItem(caseID).path)
            // The report references one study the exchange holds for Marie and one it does not.
            var xml = DocumentWebTests.report()
            xml = xml.replacingOccurrences(of: #"<documentationOf><serviceEvent><id root="1.2.250.1.59.3.1.4.77"/></serviceEvent></documentationOf>"#, with: """
                <documentationOf><serviceEvent><id root="\(study.studyInstanceUID)"/></serviceEvent></documentationOf>
                <documentationOf><serviceEvent><id root="1.2.250.1.59.3.1.4.78"/></serviceEvent></documentationOf>
                """)
            let response = try await DocumentWebTests().upload(browser, to: caseID, [("cr.xml", xml)])
            #expect(response.status == .ok)
            #expect(response.text.contains("1 examen(s) d'imagerie référencé(s) attaché(s)"))
            #expect(response.text.contains("1 examen(s) référencé(s) introuvable(s)"))
            let attached = try await d.imagingStudies.studies(ofCase: caseID)
            #expect(attached.map(\.reference.studyUID) == [study.studyInstanceUID])
            #expect(attached.first?.documentID != nil)
            #expect(attached.first?.reference.description == "IRM cérébrale (bilan d'extension)")
        }
    }

    /// An exchange that accepts connections and never answers: the case page (which reads
    /// only the database) and the tab (bounded by the exchange's budget) still answer
    /// quickly, with a clear banner, and nothing attached is lost.
    @Test func aHangingExchangeNeverHoldsThePagesUp() async throws {
        let silent = try SilentServer()
        try await withImagingApp(exchange: silent.url, timeout: 5) { browser, d, world in
            let caseID = try await southCase(d, world)
            let reference = StudyReference(exchangeID: "default", studyUID: "1.2.3.4.5", accessionNumber: "A-1", studyDate: CalendarDate(iso: "2026-01-02"),
                                           modalities: ["CT"], description: "TDM de référence", seriesCount: 1, instanceCount: 3, keySeriesUID: "1.2.3.4.5.1")
            guard case .attached(let attachment) = try await d.imagingStudies.attach(
                reference, toCase: caseID, note: "Examen de référence", by: world.southPhysician.id,
                audit: AuditDraft(actorID: world.southPhysician.id, action: .imagingAttach, resourceType: "imaging_study", outcome: .success)) else {
                Issue.record("not attached"); return
            }
            try await browser.logIn(email: "sud@t.fr")
            var started = Date()
            let tab = try await browser.get(SiteURL.caseImaging(caseID).path)
            // The 5 s budget, not the 30 s read timeout; the margin is for the whole suite
            // starting on 2 cores (see the DICOMweb client's hanging-exchange test for what
            // the suite's start costs). The budget is that long so that the pages below,
            // which must not wait for it, are told apart from it under load (a case page
            // took 2.2 s once while the suite started, against a 2 s budget then).
            #expect(Date().timeIntervalSince(started) < 20)
            #expect(tab.status == .ok)
            #expect(tab.text.contains("data-test=\"imaging-unavailable\""))
            #expect(tab.text.contains("n&#39;a pas répondu à temps") || tab.text.contains("n'a pas répondu à temps"))
            #expect(attachedUIDs(tab.text) == ["1.2.3.4.5"])
            // The thumbnail: a placeholder picture with 503, within the budget.
            started = Date()
            let thumbnail = try await browser.get(SiteURL.caseImagingThumbnail(caseID, study: attachment).path)
            #expect(Date().timeIntervalSince(started) < 20)
            #expect(thumbnail.status == .serviceUnavailable)
            #expect(thumbnail.headers[.contentType] == "image/svg+xml")
            // Attaching fails cleanly: 503 page, nothing stored.
            let attach = try await browser.post(SiteURL.caseImaging(caseID).path, form: [("study", "1.2.3.9"), ("exchange", "default")])
            #expect(attach.status == .serviceUnavailable)
            #expect(try await d.imagingStudies.studies(ofCase: caseID).count == 1)
            // The case page never waits for the exchange, and says it is failing.
            started = Date()
            let casePage = try await browser.get(SiteURL.caseItem(caseID).path)
            #expect(Date().timeIntervalSince(started) < 4)  // waiting would take the 5 s budget
            #expect(casePage.text.contains("data-test=\"imaging-unavailable\""))
            #expect(attachedUIDs(casePage.text) == ["1.2.3.4.5"])
            // The breaker is open now: the tab answers without waiting for the budget.
            started = Date()
            let again = try await browser.get(SiteURL.caseImaging(caseID).path)
            #expect(Date().timeIntervalSince(started) < 4)
            #expect(again.text.contains("nouvel essai dans quelques secondes"))
            _ = silent
        }
    }

    @Test func withoutAnExchangeTheAppSaysSo() async throws {
        try await withImagingApp(exchange: nil) { browser, d, world in
            let caseID = try await southCase(d, world)
            try await browser.logIn(email: "sud@t.fr")
            let tab = try await browser.get(SiteURL.caseImaging(caseID).path)
            #expect(tab.status == .ok)
            #expect(tab.text.contains("data-test=\"imaging-not-configured\""))
            #expect(try await browser.get(SiteURL.caseItem(caseID).path).text.contains("data-test=\"no-attached-study\""))
        }
    }

    /// The board sees what imaging comes with each case: on the agenda (modality and date)
    /// and in the séance (the studies with their thumbnails), from the database.
    @Test func agendaAndSeanceShowAttachedStudies() async throws {
        try await withImagingApp(exchange: "http://127.0.0.1:9/dicom-web") { browser, d, world in
            let caseID = try await southCase(d, world)
            let meetingID = UUID()
            let start = Date().addingTimeInterval(3600)
            try await d.meetings.create(id: meetingID, communityID: world.south.id, title: "RCP test", startsAt: start, endsAt: start.addingTimeInterval(7200),
                                        place: "Salle 1", deadlineHours: 0)
            try await d.meetings.addParticipant(userID: world.southPhysician.id, to: meetingID)
            try await d.cases.register(id: caseID, meetingID: meetingID, from: [.draft], by: world.southPhysician.id,
                                       audit: AuditDraft(actorID: world.southPhysician.id, action: .caseRegister, resourceType: "case", outcome: .success))
            let reference = StudyReference(exchangeID: "default", studyUID: "1.2.3.4.5", accessionNumber: "A-1", studyDate: CalendarDate(iso: "2026-01-02"),
                                           modalities: ["CT", "PT"], description: "TEP-TDM", seriesCount: 2, instanceCount: 6, keySeriesUID: nil)
            _ = try await d.imagingStudies.attach(reference, toCase: caseID, note: "Examen de référence", by: world.southPhysician.id,
                                                  audit: AuditDraft(actorID: world.southPhysician.id, action: .imagingAttach, resourceType: "imaging_study", outcome: .success))
            try await browser.logIn(email: "sud@t.fr")
            let agenda = try await browser.get(SiteURL.meetingAgenda(meetingID).path)
            #expect(agenda.status == .ok)
            #expect(agenda.text.contains("<td class=\"study-summary\" data-test=\"agenda-imaging\">CT, PT 02/01/2026</td>"))
            let seance = try await browser.get(SiteURL.meetingSession(meetingID).path)
            #expect(seance.status == .ok)
            #expect(attachedUIDs(seance.text) == ["1.2.3.4.5"])
            #expect(seance.text.contains("Examen de référence"))
            #expect(!seance.text.contains("data-test=\"detach-study\""))
        }
    }

    /// Orthanc stopped mid-run, then back: the tab says so and keeps what is attached, and
    /// works again once the exchange answers (the breaker lets a trial call through).
    @Test(.enabled(if: orthanc, "needs Orthanc installed (make test)"))
    func exchangeStoppedMidRunThenBack() async throws {
        let orthanc = try TestExchange.PrivateOrthanc()
        defer { orthanc.clean() }
        try orthanc.start()
        try await withTestApp(configure: { config in
            config.dicomwebURL = orthanc.url
            config.dicomwebTimeoutSeconds = 1
        }) { browser, d in
            let world = try await AccessWorld.make(d)
            let caseID = try await southCase(d, world)
            let marie = TestExchange.studies(of: "marie")
            try await browser.logIn(email: "sud@t.fr")
            let before = try await browser.get(SiteURL.caseImaging(caseID).path + "?from=")
            #expect(Set(rows(before.text)) == Set(marie.map(\.studyInstanceUID)))
            _ = try await browser.post(SiteURL.caseImaging(caseID).path, form: [("study", marie[0].studyInstanceUID), ("exchange", "default")])

            try orthanc.stop()
            let down = try await browser.get(SiteURL.caseImaging(caseID).path + "?from=")
            #expect(down.status == .ok)
            #expect(down.text.contains("data-test=\"imaging-unavailable\""))
            #expect(rows(down.text).isEmpty)
            #expect(attachedUIDs(down.text) == [marie[0].studyInstanceUID])
            #expect(attachedUIDs(try await browser.get(SiteURL.caseItem(caseID).path).text) == [marie[0].studyInstanceUID])

            try orthanc.start()
            let back = try await browser.get(SiteURL.caseImaging(caseID).path + "?from=")
            #expect(!back.text.contains("data-test=\"imaging-unavailable\""))
            #expect(Set(rows(back.text)) == Set(marie.map(\.studyInstanceUID)))
        }
    }
}
