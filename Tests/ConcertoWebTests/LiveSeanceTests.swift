import ConcertoCore
import ConcertoStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import ConcertoWeb

/// The live séance: presenting, following through the event stream, each follower seeing
/// only what the policy allows (audited once per case), the decision typed live.
@Suite struct LiveSeanceTests {
    static let summary = "Nodule du lobe supérieur droit, adénocarcinome confidentiel."

    /// Today's board in the south with the south patient's case and a second patient's case on its agenda.
    struct Board {
        let world: AccessWorld
        let meetingID: UUID
        let first: UUID
        let second: UUID
    }

    func board(_ d: AppDependencies) async throws -> Board {
        let world = try await AccessWorld.make(d)
        let meetingID = UUID()
        let start = Date().addingTimeInterval(10 * 60)
        try await d.meetings.create(id: meetingID, communityID: world.south.id, title: "RCP thoracique", startsAt: start, endsAt: start.addingTimeInterval(3600),
                                    place: "Salle 1", deadlineHours: 0)
        let audit = AuditDraft(actorID: world.southPhysician.id, action: .caseUpdate, resourceType: "case", outcome: .success)
        let identity = PatientIdentity(birthName: "MARTIN", firstNames: "Paul", birthDate: CalendarDate(iso: "1950-01-02")!, sex: .male, status: .provisional)
        let secondPatient = try await d.patients.create(identity, in: world.south.id, by: world.southPhysician.id, careReason: "Référent", localID: nil,
                                                        audit: AuditDraft(actorID: nil, action: .patientCreate, resourceType: "patient", outcome: .success))
        var ids: [UUID] = []
        for patient in [world.southPatient, secondPatient] {
            let held = try #require(try await d.patients.cases(of: patient).first { $0.communityID == world.south.id })
            let record = try #require(try await d.cases.find(id: held.id))
            try await d.cases.save(id: held.id, revision: record.revision, content: CaseContent(
                tumourSiteCode: "C34.1", tnm: TNM(cT: "T2a", cN: "N0", cM: "M0", edition: 8), summary: Self.summary, question: "Lobectomie ?"),
                newEdition: false, by: world.southPhysician.id, audit: audit)
            try await d.cases.register(id: held.id, meetingID: meetingID, from: [.draft], by: world.southPhysician.id, audit: audit)
            ids.append(held.id)
        }
        return Board(world: world, meetingID: meetingID, first: ids[0], second: ids[1])
    }

    /// Runs the feed as the server does (PostgreSQL: its LISTEN connection) for `body`.
    func withFeed(_ d: AppDependencies, _ body: () async throws -> Void) async throws {
        let task = Task { await d.liveFeed.run() }
        defer { task.cancel() }
        if d.database.engine == .postgres {
            for _ in 0..<200 where !d.liveFeed.isListening { try await Task.sleep(for: .milliseconds(20)) }
            #expect(d.liveFeed.isListening)
        }
        try await body()
    }

    /// Reads the stream until `events` arrived (or 5 s passed): the feed is closed then,
    /// which ends the response.
    /// `catchUpOnly`: the feed is closed first (or was, by an earlier `stream` here), so the
    /// stream ends after its catch-up.
    func stream(_ browser: TestBrowser, _ d: AppDependencies, meetingID: UUID, lastEventID: String?, query: String = "", catchUpOnly: Bool = false,
                whileOpen: @escaping @Sendable () async throws -> Void = {}) async throws -> String {
        var headers = HTTPFields()
        if let lastEventID { headers[HTTPField.Name("Last-Event-ID")!] = lastEventID }
        let feed = d.liveFeed
        if catchUpOnly { feed.close() }
        let closer = Task {
            guard !catchUpOnly else { return }
            for _ in 0..<250 where feed.followerCount == 0 { try await Task.sleep(for: .milliseconds(20)) }
            try await whileOpen()
            try await Task.sleep(for: .milliseconds(600))
            feed.close()
        }
        let response = try await browser.get(SiteURL.meetingLiveEvents(meetingID).path + query, headers: headers)
        try await closer.value
        #expect(response.status == .ok)
        #expect(response.headers[.contentType] == "text/event-stream; charset=utf-8")
        return String(buffer: response.body)
    }

    @Test func aFollowerCatchesUpFromLastEventIDThenReceivesNewEventsWithIdsOnly() async throws {
        try await withTestApp { browser, d in
            let board = try await board(d)
            try await withFeed(d) {
                let coordinator = browser.fresh()
                try await coordinator.logIn(email: "coord@t.fr")
                try await coordinator.get(SiteURL.meetingLive(board.meetingID).path)
                #expect(try await coordinator.post(SiteURL.meetingLivePresent(board.meetingID).path, form: [("case", board.first.storageKey)]).status == .seeOther)
                try await browser.logIn(email: "sud@t.fr")
                let text = try await stream(browser, d, meetingID: board.meetingID, lastEventID: "0") {
                    try await d.meetingEvents.present(meetingID: board.meetingID, caseID: board.second, by: board.world.southCoordinator.id)
                }
                #expect(text.hasPrefix("retry: 1500\n\n"))
                #expect(text.contains("id: 1\nevent: case\ndata: {\"seq\":1,\"case\":\"\(board.first.storageKey)\""))
                #expect(text.contains("id: 2\nevent: case\ndata: {\"seq\":2,\"case\":\"\(board.second.storageKey)\""))
                // Ids, never clinical content or names.
                #expect(!text.contains("adénocarcinome") && !text.contains("DUPONT") && !text.contains("MARTIN"))
                #expect(try await d.meetings.find(id: board.meetingID)?.currentCaseID == board.second)
            }
        }
    }

    @Test func aReconnectingFollowerGetsOnlyWhatItMissed() async throws {
        try await withTestApp { browser, d in
            let board = try await board(d)
            try await withFeed(d) {
                let chair = board.world.southCoordinator.id
                try await d.meetingEvents.present(meetingID: board.meetingID, caseID: board.first, by: chair)
                try await d.meetingEvents.present(meetingID: board.meetingID, caseID: board.second, by: chair)
                try await browser.logIn(email: "sud@t.fr")
                let text = try await stream(browser, d, meetingID: board.meetingID, lastEventID: "1") {
                    try await d.meetings.recordAttendance(meetingID: board.meetingID, member: board.world.southColleague.id, guestName: nil,
                                                          specialtyCode: "G15_10/SM36", status: .present, by: chair,
                                                          audit: AuditDraft(actorID: chair, action: .meetingAttendance, resourceType: "meeting", outcome: .success))
                }
                #expect(!text.contains("id: 1\n"))
                #expect(text.contains("id: 2\nevent: case"))
                #expect(text.contains("id: 3\nevent: attendance"))
                // Without Last-Event-ID, the page's own ?after= says where it stands.
                let other = browser.fresh()
                try await other.logIn(email: "sud@t.fr")
                let fromPage = try await stream(other, d, meetingID: board.meetingID, lastEventID: nil, query: "?after=3", catchUpOnly: true)
                #expect(!fromPage.contains("id: "))
            }
        }
    }

    @Test func onlyTheChairAndCoordinatorsPresentAndForgedCasesAreRefused() async throws {
        try await withTestApp { browser, d in
            let board = try await board(d)
            try await browser.logIn(email: "sud@t.fr")
            try await browser.get(SiteURL.meetingLive(board.meetingID).path)
            #expect(try await browser.post(SiteURL.meetingLivePresent(board.meetingID).path, form: [("case", board.first.storageKey)]).status == .forbidden)
            #expect(try await browser.post(SiteURL.meetingLivePresent(board.meetingID).path, form: [("next", "1")]).status == .forbidden)
            let coordinator = browser.fresh()
            try await coordinator.logIn(email: "coord@t.fr")
            try await coordinator.get(SiteURL.meetingLive(board.meetingID).path)
            // A case not on this agenda, and no CSRF token.
            #expect(try await coordinator.post(SiteURL.meetingLivePresent(board.meetingID).path, form: [("case", UUID().storageKey)]).status == .badRequest)
            #expect(try await coordinator.post(SiteURL.meetingLivePresent(board.meetingID).path, form: [("case", board.first.storageKey)], csrf: .none).status == .forbidden)
            #expect(try await d.meetingEvents.lastSeq(of: board.meetingID) == 0)
            // Dossier suivant: the first, then the second, then nothing left.
            #expect(try await coordinator.post(SiteURL.meetingLivePresent(board.meetingID).path, form: [("next", "1")]).status == .seeOther)
            #expect(try await d.meetings.find(id: board.meetingID)?.currentCaseID == board.first)
            try await coordinator.post(SiteURL.meetingLivePresent(board.meetingID).path, form: [("next", "1")])
            #expect(try await d.meetings.find(id: board.meetingID)?.currentCaseID == board.second)
            #expect(try await d.meetingEvents.presentations(of: board.meetingID).map(\.caseID) == [board.first, board.second])
        }
    }

    func caseReads(_ d: AppDependencies, by user: UUID, patient: UUID) async throws -> [AuditEvent] {
        try await d.audit.events(matching: .init(patientIDs: [patient], actorID: user, action: AuditAction.caseRead.rawValue)).map(\.event)
    }

    @Test func aFollowerOutsideTheCareScopeSeesARestrictedCaseAuditedOnce() async throws {
        try await withTestApp { browser, d in
            let board = try await board(d)
            try await d.meetingEvents.present(meetingID: board.meetingID, caseID: board.first, by: board.world.southCoordinator.id)
            // Not the patient's physician, not checked in: a member, but outside the care scope.
            try await browser.logIn(email: "collegue@t.fr")
            let page = try await browser.get(SiteURL.meetingLive(board.meetingID).path)
            #expect(page.status == .ok)
            #expect(page.text.contains("Dossier n°1 — accès restreint"))
            #expect(!page.text.contains("confidentiel"))
            for _ in 0..<3 {
                let fragment = try await browser.get(SiteURL.meetingLiveCase(board.meetingID).path)
                #expect(fragment.text.contains("accès restreint") && !fragment.text.contains("confidentiel"))
                #expect(!(try await browser.get(SiteURL.meetingLiveDraft(board.meetingID).path)).text.contains("live-draft-proposal"))
            }
            let denied = try await caseReads(d, by: board.world.southColleague.id, patient: board.world.southPatient)
            #expect(denied.count == 1)
            #expect(denied.first?.outcome == AuditOutcome.denied.rawValue)

            // The referring physician reads it; their views are audited once too.
            let physician = browser.fresh()
            try await physician.logIn(email: "sud@t.fr")
            let readable = try await physician.get(SiteURL.meetingLive(board.meetingID).path)
            #expect(readable.text.contains("confidentiel"))
            for _ in 0..<3 { try await physician.get(SiteURL.meetingLiveCase(board.meetingID).path) }
            let allowed = try await caseReads(d, by: board.world.southPhysician.id, patient: board.world.southPatient)
            #expect(allowed.count == 1)
            #expect(allowed.first?.outcome == AuditOutcome.allowed.rawValue)
            // Checked in as present, the colleague joins the care scope and sees the case.
            try await d.meetings.recordAttendance(meetingID: board.meetingID, member: board.world.southColleague.id, guestName: nil, specialtyCode: "G15_10/SM36",
                                                  status: .present, by: board.world.southCoordinator.id,
                                                  audit: AuditDraft(actorID: board.world.southCoordinator.id, action: .meetingAttendance, resourceType: "meeting", outcome: .success))
            #expect(try await browser.get(SiteURL.meetingLiveCase(board.meetingID).path).text.contains("confidentiel"))
        }
    }

    @Test func theDesignatedRecorderTypesTheDecisionFollowersSeeTheDraftThenTheRecordedDecision() async throws {
        try await withTestApp { browser, d in
            let board = try await board(d)
            // The coordinator checked in: in the room, so in the care scope of the agenda.
            let chair = board.world.southCoordinator.id
            try await d.meetings.recordAttendance(meetingID: board.meetingID, member: chair, guestName: nil, specialtyCode: "SECRETARIAT_MEDICAL",
                                                  status: .present, by: chair,
                                                  audit: AuditDraft(actorID: chair, action: .meetingAttendance, resourceType: "meeting", outcome: .success))
            let coordinator = browser.fresh()
            try await coordinator.logIn(email: "coord@t.fr")
            try await coordinator.get(SiteURL.meetingLive(board.meetingID).path)
            try await coordinator.post(SiteURL.meetingLivePresent(board.meetingID).path, form: [("case", board.first.storageKey)])
            // The referring physician may not type the decision until designated.
            try await browser.logIn(email: "sud@t.fr")
            let page = try await browser.get(SiteURL.meetingLive(board.meetingID).path)
            #expect(!page.text.contains("live-decision-form"))
            let draftForm: [(String, String)] = [("case", board.first.storageKey), ("type_surgery", "1"), ("proposal", "Lobectomie supérieure droite"), ("trial", "no")]
            #expect(try await browser.post(SiteURL.meetingLiveDraft(board.meetingID).path, form: draftForm).status == .forbidden)
            // A recorder from another community cannot be designated.
            #expect(try await coordinator.post(SiteURL.meetingLiveRecorder(board.meetingID).path, form: [("user", board.world.northPhysician.id.storageKey)]).status == .badRequest)
            #expect(try await coordinator.post(SiteURL.meetingLiveRecorder(board.meetingID).path, form: [("user", board.world.southPhysician.id.storageKey)]).status == .seeOther)
            #expect(try await d.meetings.find(id: board.meetingID)?.recorderID == board.world.southPhysician.id)
            #expect(try await browser.get(SiteURL.meetingLive(board.meetingID).path).text.contains("live-decision-form"))
            #expect(try await browser.post(SiteURL.meetingLiveDraft(board.meetingID).path, form: draftForm).status == .noContent)
            // A draft for a case that is not on screen is stale: nothing stored.
            var stale = draftForm
            stale[0] = ("case", board.second.storageKey)
            #expect(try await browser.post(SiteURL.meetingLiveDraft(board.meetingID).path, form: stale).status == .conflict)
            #expect(try await d.meetingEvents.draft(caseID: board.second) == nil)
            // The coordinator follows the draft.
            let draft = try await coordinator.get(SiteURL.meetingLiveDraft(board.meetingID).path)
            #expect(draft.text.contains("Lobectomie supérieure droite"))
            // Recorded by the recorder: a decision event, and followers see it recorded, not validated.
            let decision: [(String, String)] = [("type_surgery", "1"), ("proposal", "Lobectomie supérieure droite"), ("guidelines", "yes"), ("trial", "no"),
                                                ("file_complete", "yes"), ("without_quorum", "1"), ("return_to", SiteURL.meetingLive(board.meetingID).path)]
            #expect(try await browser.post(SiteURL.caseDecision(board.first).path, form: decision).status == .seeOther)
            #expect(try await d.cases.find(id: board.first)?.status == .discussed)
            let kinds = try await d.meetingEvents.events(of: board.meetingID).map(\.kind)
            #expect(kinds == [.attendance, .casePresented, .recorder, .draft, .decision])
            let followed = try await coordinator.get(SiteURL.meetingLiveCase(board.meetingID).path)
            #expect(followed.text.contains("data-test=\"live-decision-state\">enregistrée"))
            // The recorder records; only the chair and coordinators validate.
            #expect(try await browser.post(SiteURL.caseValidate(board.first).path, form: [("return_to", SiteURL.meetingLive(board.meetingID).path)]).status == .seeOther)
            #expect(try await d.cases.find(id: board.first)?.status == .discussed)
            try await coordinator.get(SiteURL.meetingLive(board.meetingID).path)
            try await coordinator.post(SiteURL.caseValidate(board.first).path, form: [("return_to", SiteURL.meetingLive(board.meetingID).path)])
            #expect(try await d.cases.find(id: board.first)?.status == .validated)
            #expect(try await coordinator.get(SiteURL.meetingLiveCase(board.meetingID).path).text.contains("validée"))
            // The agenda marks the case done.
            #expect(try await coordinator.get(SiteURL.meetingLiveStatus(board.meetingID).path).text.contains("data-case=\"\(board.first.storageKey)\" aria-current=\"true\" class=\"current\" data-done=\"1\""))
        }
    }

    @Test func membersOfAnotherCommunityGetNothing() async throws {
        try await withTestApp { browser, d in
            let board = try await board(d)
            try await browser.logIn(email: "nord@t.fr")
            try await browser.get("/")
            for path in [SiteURL.meetingLive(board.meetingID).path, SiteURL.meetingLiveEvents(board.meetingID).path, SiteURL.meetingLiveCase(board.meetingID).path,
                         SiteURL.meetingLiveStatus(board.meetingID).path, SiteURL.meetingLiveDraft(board.meetingID).path] {
                #expect(try await browser.get(path).status == .notFound, "\(path)")
            }
            #expect(d.liveFeed.followerCount == 0)
        }
    }
    /// The stream is outside the session middleware chain: it checks the session itself,
    /// as the chain would.
    @Test func theStreamAuthenticatesItsSessionAsThePagesDo() async throws {
        try await withTestApp(configure: { $0.secondFactorSetting = SecondFactorRequirement(roles: [.coordinator]) }) { browser, d in
            let board = try await board(d)
            let path = SiteURL.meetingLiveEvents(board.meetingID).path
            // Nobody logged in: sent to the login page, no stream.
            let anonymous = try await browser.get(path)
            #expect(anonymous.status == .seeOther)
            #expect(anonymous.headers[.location]?.hasPrefix(SiteURL.login.path) == true)
            // A coordinator who has not enrolled the second factor their role requires.
            let coordinator = browser.fresh()
            try await coordinator.logIn(email: "coord@t.fr")
            #expect(try await coordinator.get(path).status != .ok)
            // A member logged in: the stream opens (closed here at once to end the response).
            let physician = browser.fresh()
            try await physician.logIn(email: "sud@t.fr")
            let text = try await stream(physician, d, meetingID: board.meetingID, lastEventID: nil, catchUpOnly: true)
            #expect(text.hasPrefix("retry: "))
            // Disabled meanwhile, or logged out: refused at the next connection.
            try await d.users.setDisabled(id: board.world.southPhysician.id, at: Date())
            #expect(try await physician.get(path).status == .seeOther)
            try await d.users.setDisabled(id: board.world.southPhysician.id, at: nil)
            try await physician.get("/")
            try await physician.post(SiteURL.logout.path, form: [])
            #expect(try await physician.get(path).status == .seeOther)
            // A forged meeting id: no such page.
            let again = browser.fresh()
            try await again.logIn(email: "sud@t.fr")
            #expect(try await again.get(SiteURL.meetingLiveEvents(UUID()).path).status == .notFound)
        }
    }
    @Test func theDashboardAndTheMeetingPagesLeadToTheLiveSeance() async throws {
        try await withTestApp { browser, d in
            let board = try await board(d)
            try await browser.logIn(email: "sud@t.fr")
            let live = SiteURL.meetingLive(board.meetingID).path
            // Starting in ten minutes: the dashboard offers the live séance, the meeting page too.
            #expect(try await browser.get("/").text.contains("href=\"\(live)\" data-test=\"dashboard-live\""))
            #expect(try await browser.get(SiteURL.meeting(board.meetingID).path).text.contains("href=\"\(live)\""))
            let page = try await browser.get(live)
            #expect(page.text.contains("data-events-url=\"\(SiteURL.meetingLiveEvents(board.meetingID).path)\""))
            #expect(page.text.contains("<script src=\"/js/live.js\" defer></script>"))
            #expect(page.text.contains("http-equiv=\"refresh\""))
            #expect(page.text.contains("data-test=\"live-no-case\""))
        }
    }
}
