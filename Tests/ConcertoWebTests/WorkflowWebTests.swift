import ConcertoCore
import ConcertoStore
import ConcertoTestSupport
@testable import ConcertoWeb
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// The RCP workflow over HTTP, on SQLite and PostgreSQL: meetings, fiches, séance, search.
@Suite struct WorkflowWebTests {
    /// The southern patient's draft case (opened with the record).
    func southCase(_ d: AppDependencies, _ world: AccessWorld) async throws -> UUID {
        try #require(try await d.patients.cases(of: world.southPatient).first).id
    }

    func meeting(_ d: AppDependencies, _ world: AccessWorld, startingIn hours: Double, deadline: Int = 48, in community: Community? = nil) async throws -> UUID {
        let id = UUID()
        let start = Date().addingTimeInterval(hours * 3600)
        try await d.meetings.create(id: id, communityID: (community ?? world.south).id, title: "RCP test", startsAt: start, endsAt: start.addingTimeInterval(7200),
                                    place: "Salle 1", deadlineHours: deadline)
        return id
    }

    static let fiche: [(String, String)] = [
        ("tumour_site", "C34.1"), ("ct", "T2a"), ("cn", "N0"), ("cm", "M0"), ("tnm_edition", "8"),
        ("summary", "Nodule pulmonaire droit de 25 mm, adénocarcinome."), ("question", "Lobectomie d'emblée ?"),
    ]

    @Test func caseAndMeetingRoutesOfAnotherCommunityAreNotFound() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let caseID = try await southCase(d, world)
            let meetingID = try await meeting(d, world, startingIn: 72)
            try await browser.logIn(email: "nord@t.fr")
            try await browser.get("/")
            let item = UUID()
            var routes: [(HTTPRequest.Method, String)] = [
                (.get, SiteURL.caseItem(caseID).path), (.post, SiteURL.caseItem(caseID).path), (.get, SiteURL.caseEdit(caseID).path),
                (.post, SiteURL.caseRegister(caseID).path), (.post, SiteURL.caseWithdraw(caseID).path), (.post, SiteURL.caseDecision(caseID).path),
                (.post, SiteURL.caseValidate(caseID).path), (.post, SiteURL.caseSendBack(caseID).path), (.post, SiteURL.caseDocuments(caseID).path),
                (.get, SiteURL.caseImaging(caseID).path), (.post, SiteURL.caseImaging(caseID).path),
                (.post, SiteURL.caseImagingDetach(caseID, study: item).path), (.get, SiteURL.caseImagingThumbnail(caseID, study: item).path),
                (.get, SiteURL.caseImagingViewer(caseID, study: item).path), (.get, SiteURL.caseFicheXML(caseID).path),
                (.get, SiteURL.caseFichePDF(caseID).path), (.get, SiteURL.caseFollowUp(caseID).path), (.post, SiteURL.caseFollowUp(caseID).path),
            ]
            routes += [
                (.get, SiteURL.meeting(meetingID).path), (.get, SiteURL.meetingICS(meetingID).path), (.post, SiteURL.meetingMove(meetingID).path),
                (.post, SiteURL.meetingCancel(meetingID).path), (.post, SiteURL.meetingChair(meetingID).path), (.get, SiteURL.meetingAgenda(meetingID).path),
                (.post, SiteURL.meetingAgendaMove(meetingID, case: item).path), (.get, SiteURL.meetingSession(meetingID).path),
                (.post, SiteURL.meetingAttendance(meetingID).path), (.post, SiteURL.meetingCurrentCase(meetingID).path),
                (.get, SiteURL.meetingMinutesPDF(meetingID).path), (.get, SiteURL.meetingMinutesZIP(meetingID).path),
                (.get, SiteURL.meetingLive(meetingID).path), (.get, SiteURL.meetingLiveEvents(meetingID).path), (.get, SiteURL.meetingLiveStatus(meetingID).path),
                (.get, SiteURL.meetingLiveCase(meetingID).path), (.get, SiteURL.meetingLiveDraft(meetingID).path), (.post, SiteURL.meetingLiveDraft(meetingID).path),
                (.post, SiteURL.meetingLivePresent(meetingID).path), (.post, SiteURL.meetingLiveRecorder(meetingID).path),
            ]
            // The list covers every route under /cases/{case} and /meetings/{meeting}.
            let tested = Set(routes.map { method, path in "\(method) \(routePattern(path))" })
            let registered = Set(buildRouter(d).routes.map { "\($0.method) \($0.path)" }.filter { $0.contains("/cases/{case}") || $0.contains("/meetings/{meeting}") })
            #expect(tested == registered)
            for (method, path) in routes {
                let response = method == .get ? try await browser.get(path) : try await browser.post(path, form: [("meeting", meetingID.storageKey), ("status", "present")])
                #expect(response.status == .notFound, "\(method) \(path)")
            }
            #expect(try await browser.get("/cases/not-a-uuid").status == .notFound)
            #expect(try await browser.get(SiteURL.caseItem(UUID()).path).status == .notFound)
            // Nothing moved.
            #expect(try await d.cases.find(id: caseID)?.status == .draft)
            #expect(try await d.meetings.find(id: meetingID)?.status == .scheduled)
        }
    }

    @Test func concurrentSavesGiveAConflictPageAndNothingIsOverwritten() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let caseID = try await southCase(d, world)
            let first = browser, second = browser.fresh()
            for session in [first, second] {
                try await session.logIn(email: "sud@t.fr")
                #expect(try await session.get(SiteURL.caseEdit(caseID).path).text.contains("name=\"revision\" value=\"1\""))
            }
            let saved = try await first.post(SiteURL.caseItem(caseID).path, form: [("revision", "1"), ("summary", "Version A"), ("question", "Q ?")])
            #expect(saved.status == .seeOther)
            let conflict = try await second.post(SiteURL.caseItem(caseID).path, form: [("revision", "1"), ("summary", "Version B"), ("question", "Q ?")])
            #expect(conflict.status == .conflict)
            #expect(conflict.text.contains("rien n&#39;a été écrasé"))
            #expect(conflict.text.contains("Version A"))
            #expect(conflict.text.contains("Version B"))
            #expect(conflict.text.contains("name=\"revision\" value=\"2\""))
            #expect(try await d.cases.find(id: caseID)?.content.summary == "Version A")
            // Saving again, knowingly, against the current revision replaces it.
            #expect(try await second.post(SiteURL.caseItem(caseID).path, form: [("revision", "2"), ("summary", "Version B"), ("question", "Q ?")]).status == .seeOther)
            #expect(try await d.cases.find(id: caseID)?.content.summary == "Version B")
            // Invalid codes are refused with a message and nothing is stored.
            let invalid = try await first.post(SiteURL.caseItem(caseID).path, form: [("revision", "3"), ("tumour_site", "Z99"), ("ct", "T9")])
            #expect(invalid.status == .badRequest)
            #expect(invalid.text.contains("code CIM-10"))
            #expect(try await d.cases.find(id: caseID)?.revision == 3)
        }
    }

    /// The dashboard's lists are written as HTML by hand (`DashboardLists`): values escaped,
    /// links and badges as the template had them.
    @Test func theDashboardListsTheNextMeetingsAndMyFichesEscaped() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let id = UUID(), start = Date().addingTimeInterval(86_400)
            try await d.meetings.create(id: id, communityID: world.south.id, title: #"RCP <b>"thorax"</b> & co"#, startsAt: start,
                                        endsAt: start.addingTimeInterval(7200))
            try await browser.logIn(email: "sud@t.fr")
            let page = try await browser.get("/")
            #expect(page.text.contains("RCP &lt;b&gt;&quot;thorax&quot;&lt;/b&gt; &amp; co"))
            #expect(!page.text.contains(#"<b>"thorax"#))
            #expect(page.text.contains(#"href="\#(SiteURL.meetingAgenda(id).path)">Ordre du jour</a></li>"#))
            #expect(page.text.contains("data-test=\"dashboard-meetings\""))
            let caseID = try await southCase(d, world)
            #expect(page.text.contains(#"<li><a href="\#(SiteURL.caseItem(caseID).path)"><strong>"#))
            #expect(page.text.contains(#"<span class="badge status--draft">"#))
            // Validation is the coordinators' list.
            #expect(!page.text.contains("data-test=\"to-validate\""))
        }
    }

    @Test func fromDraftToValidatedWithTheForbiddenStepsRefused() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let caseID = try await southCase(d, world)
            let meetingID = try await meeting(d, world, startingIn: 0.5)
            let physician = browser
            try await physician.logIn(email: "sud@t.fr")
            try await physician.get(SiteURL.caseItem(caseID).path)
            // Not ready: no site, summary or question.
            _ = try await physician.post(SiteURL.caseRegister(caseID).path, form: [("meeting", meetingID.storageKey)])
            #expect(try await d.cases.find(id: caseID)?.status == .draft)
            _ = try await physician.post(SiteURL.caseItem(caseID).path, form: [("revision", "1")] + Self.fiche)
            // The deadline (48 h) has passed for a meeting in 30 min: refused to the physician.
            let late = try await physician.follow(try await physician.post(SiteURL.caseRegister(caseID).path, form: [("meeting", meetingID.storageKey)]))
            #expect(late.text.contains("date limite d&#39;inscription est passée"))
            #expect(try await d.cases.find(id: caseID)?.status == .draft)

            let coordinator = browser.fresh()
            try await coordinator.logIn(email: "coord@t.fr")
            try await coordinator.get(SiteURL.meetingSession(meetingID).path)
            #expect(try await coordinator.post(SiteURL.caseRegister(caseID).path, form: [("meeting", meetingID.storageKey)]).status == .seeOther)
            #expect(try await d.cases.find(id: caseID)?.status == .registered)
            #expect(try await d.meetings.agenda(of: meetingID).map(\.caseID) == [caseID])

            // A physician does not record the board's decision; nobody validates before it.
            let decision: [(String, String)] = [("type_surgery", "1"), ("proposal", "Lobectomie supérieure droite"), ("guidelines", "yes"), ("trial", "no"),
                                                ("file_complete", "yes")]
            _ = try await physician.post(SiteURL.caseDecision(caseID).path, form: decision)
            #expect(try await d.cases.find(id: caseID)?.decision == nil)
            _ = try await coordinator.post(SiteURL.caseValidate(caseID).path, form: [])
            #expect(try await d.cases.find(id: caseID)?.status == .registered)

            // The chair checks the coordinator in, which puts her in the agenda's care scope
            // (nobody checks themselves in); two specialties are not a quorum, so the
            // decision says so and validation waits.
            try await d.meetings.setChair(meetingID: meetingID, userID: world.southPhysician.id,
                                          audit: AuditDraft(actorID: nil, action: .meetingChair, resourceType: "meeting", outcome: .success))
            try await physician.get(SiteURL.meetingSession(meetingID).path)
            _ = try await physician.post(SiteURL.meetingAttendance(meetingID).path,
                                         form: [("user", world.southCoordinator.id.storageKey), ("specialty", "G15_10/SM36"), ("status", "present")])
            _ = try await coordinator.post(SiteURL.meetingAttendance(meetingID).path,
                                           form: [("user", world.southPhysician.id.storageKey), ("specialty", "G15_10/SM14"), ("status", "present")])
            let session = try await coordinator.get(SiteURL.meetingSession(meetingID).path)
            #expect(session.text.contains("data-quorum=\"not-met\""))
            _ = try await coordinator.post(SiteURL.caseDecision(caseID).path, form: decision)
            #expect(try await d.cases.find(id: caseID)?.decision?.quorumMet == false)
            let refused = try await coordinator.follow(try await coordinator.post(SiteURL.caseValidate(caseID).path, form: []))
            #expect(refused.text.contains("Quorum non atteint"))
            #expect(try await d.cases.find(id: caseID)?.status == .discussed)
            // A guest radiotherapist completes the quorum; the decision recorded again is valid.
            _ = try await coordinator.post(SiteURL.meetingAttendance(meetingID).path, form: [("guest_name", "Dr Invitée"), ("specialty", "G15_10/SM37"), ("status", "present")])
            #expect(try await coordinator.get(SiteURL.meetingSession(meetingID).path).text.contains("data-quorum=\"met\""))
            _ = try await coordinator.post(SiteURL.caseDecision(caseID).path, form: decision)
            #expect(try await d.cases.find(id: caseID)?.decision?.quorumMet == true)
            #expect(try await coordinator.post(SiteURL.caseValidate(caseID).path, form: []).status == .seeOther)
            let validated = try #require(try await d.cases.find(id: caseID))
            #expect(validated.status == .validated)

            // The physician reads the proposal; an edit now makes version 2 and keeps version 1.
            let page = try await physician.get(SiteURL.caseItem(caseID).path)
            #expect(page.text.contains("Lobectomie supérieure droite"))
            #expect(page.text.contains("data-test=\"read-only\""))
            let amended = Self.fiche.map { $0.0 == "summary" ? ($0.0, "Nodule, ACP complétée") : $0 }
            #expect(try await physician.post(SiteURL.caseItem(caseID).path, form: [("revision", String(validated.revision))] + amended).status == .seeOther)
            #expect(try await d.cases.find(id: caseID)?.edition == 2)
            let versions = try await physician.get(SiteURL.caseItem(caseID).path)
            #expect(versions.text.contains("data-test=\"edition\""))
            #expect(versions.text.contains("Nodule pulmonaire droit de 25 mm"))
            let actions = try await d.audit.events(matching: .init(patientIDs: [world.southPatient])).map(\.event.action)
            for action in [AuditAction.caseRegister, .caseDecision, .caseValidate, .caseUpdate, .caseRead] {
                #expect(actions.contains(action.rawValue), "\(action)")
            }
        }
    }

    @Test func aNewPresentationIsPrefilledFromTheEarlierFiche() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let caseID = try await southCase(d, world)
            try await browser.logIn(email: "sud@t.fr")
            try await browser.get(SiteURL.caseItem(caseID).path)
            _ = try await browser.post(SiteURL.caseItem(caseID).path, form: [("revision", "1")] + Self.fiche)
            let form = try await browser.get(SiteURL.caseNew.path + "?patient=\(world.southPatient.storageKey)&from=\(caseID.storageKey)")
            #expect(form.status == .ok)
            #expect(form.text.contains("Nodule pulmonaire droit de 25 mm"))
            #expect(form.text.contains("name=\"previous\" value=\"\(caseID.storageKey)\""))
            let created = try await browser.post(SiteURL.cases.path, form: [("patient", world.southPatient.storageKey), ("community", world.south.id.storageKey),
                                                                            ("previous", caseID.storageKey), ("tumour_site", "C34.1"),
                                                                            ("summary", "Récidive médiastinale"), ("question", "Radiothérapie ?")])
            #expect(created.status == .seeOther)
            let newID = try #require(created.headers[.location].flatMap { UUID(uuidString: String($0.split(separator: "/").last ?? "")) })
            let fresh = try #require(try await d.cases.find(id: newID))
            #expect(fresh.previousCaseID == caseID)
            #expect(fresh.status == .draft)
            #expect(fresh.content.summary == "Récidive médiastinale")
            // Another patient's fiche cannot be the model, nor can a foreign user start one.
            #expect(try await browser.get(SiteURL.caseNew.path + "?patient=\(world.southPatient.storageKey)&from=\(UUID().storageKey)").status == .notFound)
            let north = browser.fresh()
            try await north.logIn(email: "nord@t.fr")
            #expect(try await north.get(SiteURL.caseNew.path + "?patient=\(world.southPatient.storageKey)").status == .notFound)
        }
    }

    @Test func cancellingAMeetingSendsItsCasesBackAndCalendarsFollow() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let caseID = try await southCase(d, world)
            let meetingID = try await meeting(d, world, startingIn: 96)
            try await browser.logIn(email: "sud@t.fr")
            try await browser.get(SiteURL.caseItem(caseID).path)
            _ = try await browser.post(SiteURL.caseItem(caseID).path, form: [("revision", "1")] + Self.fiche)
            #expect(try await browser.post(SiteURL.caseRegister(caseID).path, form: [("meeting", meetingID.storageKey)]).status == .seeOther)
            #expect(try await d.cases.find(id: caseID)?.status == .registered)

            let ics = try await browser.get(SiteURL.meetingICS(meetingID).path)
            #expect(ics.headers[.contentType] == "text/calendar; charset=utf-8")
            #expect(ics.text.contains("BEGIN:VEVENT\r\n"))
            #expect(ics.text.contains("DTSTART;TZID=Europe/Paris:"))
            #expect(ics.text.contains("SEQUENCE:0"))
            // The subscription feed works without a session, until revoked.
            try await browser.get(SiteURL.meetings.path)
            let created = try await browser.post(SiteURL.calendarFeed.path, form: [])
            let feedPath = try #require(created.text.firstMatch(of: #//calendar/[A-Za-z0-9_-]+\.ics/#)).output
            let anonymous = browser.fresh()
            let feed = try await anonymous.get(String(feedPath))
            #expect(feed.status == .ok)
            #expect(feed.text.contains("UID:\(meetingID.storageKey)@concerto"))

            // A physician may not cancel; the coordinator may, and the case is to re-present.
            #expect(try await browser.post(SiteURL.meetingCancel(meetingID).path, form: []).status == .forbidden)
            let coordinator = browser.fresh()
            try await coordinator.logIn(email: "coord@t.fr")
            let physicianView = try await browser.get(SiteURL.meeting(meetingID).path).text
            #expect(!physicianView.contains(SiteURL.meetingCancel(meetingID).path))
            // The coordinator sees the forms, the community's members to chair, none chosen yet.
            let coordinatorView = try await coordinator.get(SiteURL.meeting(meetingID).path).text
            #expect(coordinatorView.contains("action=\"\(SiteURL.meetingCancel(meetingID).path)\""))
            #expect(coordinatorView.contains("<option value=\"\(world.southColleague.id.storageKey)\">"))
            #expect(!coordinatorView.contains("\(world.southColleague.id.storageKey)\" selected"))
            #expect(try await coordinator.post(SiteURL.meetingCancel(meetingID).path, form: []).status == .seeOther)
            #expect(try await d.cases.find(id: caseID)?.status == .toRepresent)
            let cancelled = try await anonymous.get(String(feedPath))
            #expect(cancelled.text.contains("STATUS:CANCELLED"))
            #expect(cancelled.text.contains("SEQUENCE:1"))
            try await browser.get(SiteURL.meetings.path)
            _ = try await browser.post(SiteURL.calendarFeedRevoke.path, form: [])
            #expect(try await anonymous.get(String(feedPath)).status == .notFound)
        }
    }

    @Test func workflowFormsRefuseAMissingCSRFTokenAndChangeNothing() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let caseID = try await southCase(d, world)
            let meetingID = try await meeting(d, world, startingIn: 96)
            try await browser.logIn(email: "coord@t.fr")
            try await browser.get("/")
            let posts = [SiteURL.caseItem(caseID), .caseRegister(caseID), .caseDecision(caseID), .meetingCancel(meetingID), .meetingMove(meetingID),
                         .meetingAttendance(meetingID), .meetings, .meetingSeries, .calendarFeed, .cases]
            for url in posts {
                #expect(try await browser.post(url.path, form: [("meeting", meetingID.storageKey), ("revision", "1"), ("summary", "x")], csrf: .none).status == .forbidden,
                        "\(url.path)")
            }
            #expect(try await d.cases.find(id: caseID)?.revision == 1)
            #expect(try await d.meetings.find(id: meetingID)?.status == .scheduled)
            #expect(try await d.meetings.attendance(of: meetingID).isEmpty)
        }
    }

    @Test func searchFindsByNameAndTextButNotClinicalTextForASecretary() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let caseID = try await southCase(d, world)
            try await browser.logIn(email: "sud@t.fr")
            try await browser.get(SiteURL.caseItem(caseID).path)
            _ = try await browser.post(SiteURL.caseItem(caseID).path, form: [("revision", "1")] + Self.fiche)
            let byName = try await browser.get("/cases?q=dup")
            #expect(byName.text.contains(SiteURL.caseItem(caseID).path))
            #expect(try await browser.get("/cases?q=ADENOCARCINOME").text.contains(SiteURL.caseItem(caseID).path))
            #expect(try await browser.get("/cases?q=adenocarcinome&status=validated").text.contains("data-test=\"no-results\""))
            #expect(try await browser.get("/cases?site=C34").text.contains(SiteURL.caseItem(caseID).path))
            let secretary = browser.fresh()
            try await secretary.logIn(email: "secr@t.fr")
            #expect(try await secretary.get("/cases?q=dupont").text.contains(SiteURL.caseItem(caseID).path))
            #expect(!(try await secretary.get("/cases?q=adenocarcinome").text.contains(SiteURL.caseItem(caseID).path)))
            // Another community's member finds nothing.
            let north = browser.fresh()
            try await north.logIn(email: "nord@t.fr")
            #expect(!(try await north.get("/cases?q=dupont").text.contains(SiteURL.caseItem(caseID).path)))
            let searches = try await d.audit.events(matching: .init(actorID: world.southSecretary.id)).map(\.event).filter { $0.action == AuditAction.caseSearch.rawValue }
            #expect(searches.count == 2)
        }
    }
}

/// A path as the router registers it: each identifier in it replaced by `{name}`, named
/// after the collection before it (`/cases/{case}/imaging/{study}/viewer`).
func routePattern(_ path: String) -> String {
    let segments = path.split(separator: "/", omittingEmptySubsequences: false)
    return segments.enumerated().map { index, segment in
        let id = segment.prefix(36)
        guard index > 0, UUID(storageKey: String(id)) != nil, let parameter = SiteURL.Parameter(collection: segments[index - 1]) else { return String(segment) }
        return "{\(parameter.rawValue)}" + segment.dropFirst(36)
    }.joined(separator: "/")
}
