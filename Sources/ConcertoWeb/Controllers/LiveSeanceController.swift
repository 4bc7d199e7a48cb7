import CDA
import ConcertoCore
import ConcertoServices
import ConcertoStore
import Foundation
import HTTPTypes
import Hummingbird
import Mustache
import NIOCore
import ServiceLifecycle

/// The live séance: the chair (or a coordinator) presents a case, every member with the
/// page open follows it, on any server instance. The event stream carries ids only; each
/// follower's page fetches the case through the access policy, and a follower's view of a
/// case is audited once. Without JavaScript the page refreshes itself.
struct LiveSeanceController: Sendable {
    let meetingAccess: MeetingAccess
    let meetings: MeetingStore
    let events: MeetingEventStore
    let feed: MeetingEventFeed
    let cases: CaseStore
    let documents: DocumentStore
    let communities: CommunityStore
    let imagingStudies: ImagingStore
    let imaging: ImagingService
    let guardian: AccessGuard
    let renderer: Renderer

    func addRoutes(to group: some RouterMethods<AuthenticatedContext>) {
        group.get(SiteURL.route { id, _ in .meetingLive(id) }, use: show)
        group.get(SiteURL.route { id, _ in .meetingLiveStatus(id) }, use: statusFragment)
        group.get(SiteURL.route { id, _ in .meetingLiveCase(id) }, use: caseFragment)
        group.get(SiteURL.route { id, _ in .meetingLiveDraft(id) }, use: draftFragment)
        group.post(SiteURL.route { id, _ in .meetingLiveDraft(id) }, use: saveDraft)
        group.post(SiteURL.route { id, _ in .meetingLivePresent(id) }, use: present)
        group.post(SiteURL.route { id, _ in .meetingLiveRecorder(id) }, use: designateRecorder)
    }

    /// The event stream sits outside the session middleware chain (`SessionReader` says why)
    /// and authenticates the session itself.
    func addStreamRoute(to router: Router<AppRequestContext>, sessions: SessionReader) {
        router.get(SiteURL.route { id, _ in .meetingLiveEvents(id) }) { request, context in
            try await stream(request, meetingParameter: try context.parameters.uuid(.meeting), sessions: sessions)
        }
    }

    /// What every séance page starts from: the meeting (members only), the page builder,
    /// the séance's state and the user's roles in it.
    /// `forCasePanel`: the agenda only (and the attendance for whoever types the decision,
    /// for its quorum checkbox): every follower refetches the panel at each event.
    func open(_ request: Request, _ context: AuthenticatedContext, forCasePanel: Bool = false) async throws -> (pages: PageBuilder, state: SeanceState, roles: Roles) {
        let loaded = try await meetingAccess.load(context)
        let roles = Roles(loaded, user: context.user.id)
        let state = forCasePanel
            ? try await SeanceState.load(loaded.meeting, meetings: meetings, events: events, attendance: roles.types, clock: false)
            : try await SeanceState.load(loaded.meeting, meetings: meetings, events: events)
        return (PageBuilder(request: request, context: context), state, roles)
    }

    /// Who the user is in this séance.
    struct Roles {
        let presents: Bool
        let types: Bool

        init(_ loaded: MeetingAccess.Loaded, user: UUID) {
            let isChair = loaded.meeting.chairID == user
            let running = loaded.meeting.status == .scheduled
            presents = running && LiveRoles.presents(isCoordinator: loaded.isCoordinator, isChair: isChair)
            types = running && LiveRoles.types(isCoordinator: loaded.isCoordinator, isChair: isChair, isRecorder: loaded.meeting.recorderID == user)
        }
    }

    // MARK: Pages

    /// The live séance: the agenda and attendance, the case on screen, the recorder's draft; kept current by the event stream.
    struct LivePage: Sendable, PageModel {
        let meeting, status: ViewFields
        let `case`: ViewFields?
        let presents: Bool
        let members: [ViewFields]?
        let recorderURL: String
        let recorderName: String?
        let eventsURL, statusURL, caseFragmentURL, draftURL, presentURL, sessionURL, lastSeq: String
        let recorderMode: Bool
    }

    @Sendable func show(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let loaded = try await meetingAccess.load(context)
        let pages = PageBuilder(request: request, context: context)
        let meeting = loaded.meeting
        let roles = Roles(loaded, user: context.user.id)
        // The stream resumes after the last event this page already shows.
        let lastSeq = try await events.lastSeq(of: meeting.id)
        let state = try await SeanceState.load(meeting, meetings: meetings, events: events)
        var members: [ViewFields] = []
        if roles.presents {
            members = try await communities.members(of: meeting.communityID).filter { $0.membership.status == .active }.map { member in
                ViewFields(["id": member.user.id.storageKey, "name": member.user.displayName,
                            "selected": member.user.id == meeting.recorderID ? true : nil])
            }
        }
        let content = LivePage(
            meeting: MeetingPresentation.fields(meeting, pages: pages),
            status: statusFields(state, roles: roles, pages: pages),
            case: try await caseFields(state, roles: roles, context: context, pages: pages),
            presents: roles.presents,
            members: roles.presents ? members : nil,
            recorderURL: SiteURL.meetingLiveRecorder(meeting.id).path,
            recorderName: meeting.recorderID.flatMap { id in state.attendance.first { $0.userID == id }?.name },
            eventsURL: SiteURL.meetingLiveEvents(meeting.id).path, statusURL: SiteURL.meetingLiveStatus(meeting.id).path,
            caseFragmentURL: SiteURL.meetingLiveCase(meeting.id).path, draftURL: SiteURL.meetingLiveDraft(meeting.id).path,
            presentURL: SiteURL.meetingLivePresent(meeting.id).path, sessionURL: SiteURL.meetingSession(meeting.id).path,
            lastSeq: String(lastSeq), recorderMode: roles.types)
        return try renderer.html("meeting_live", pages.page(content))
    }

    /// The attendance banner and the agenda with its clock.
    struct StatusFragment: Sendable, PageModel {
        let status: ViewFields
        let presentURL: String
    }

    /// The case on screen.
    struct CaseFragment: Sendable, PageModel {
        let `case`: ViewFields?
        let draftURL: String
    }

    /// The decision as the recorder types it.
    struct DraftFragment: Sendable, PageModel {
        let draft: ViewFields?
    }

    /// The attendance banner and the agenda with its clock: refetched on attendance,
    /// presentation and decision events.
    @Sendable func statusFragment(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let seance = try await open(request, context)
        return try renderer.html("meeting_live_status", seance.pages.page(StatusFragment(
            status: statusFields(seance.state, roles: seance.roles, pages: seance.pages),
            presentURL: SiteURL.meetingLivePresent(seance.state.meeting.id).path)))
    }

    /// The case on screen, as this follower may see it.
    @Sendable func caseFragment(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let seance = try await open(request, context, forCasePanel: true)
        return try renderer.html("meeting_live_case", seance.pages.page(CaseFragment(
            case: try await caseFields(seance.state, roles: seance.roles, context: context, pages: seance.pages),
            draftURL: SiteURL.meetingLiveDraft(seance.state.meeting.id).path)))
    }

    /// The decision as the recorder is typing it, for followers who may read the case.
    @Sendable func draftFragment(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let loaded = try await meetingAccess.load(context)
        let pages = PageBuilder(request: request, context: context)
        var draft: ViewFields?
        // Refetched at every keystroke pause of the recorder: the case on screen and the
        // policy's answer, nothing else (the case must still be on this meeting's agenda).
        if let current = loaded.meeting.currentCaseID, let record = try await cases.find(id: current), record.meetingID == loaded.meeting.id,
           try await mayRead(record, meeting: loaded.meeting, context: context) {
            draft = try await events.draft(caseID: record.id).map { Self.draftFields($0, pages: pages) }
        }
        return try renderer.html("meeting_live_draft", pages.page(DraftFragment(draft: draft)))
    }

    // MARK: The event stream

    /// `text/event-stream`: the events after the page's (or the reconnecting browser's
    /// `Last-Event-ID`), then each new one as it is committed on any instance, and a
    /// heartbeat comment every 15 s.
    func stream(_ request: Request, meetingParameter: UUID, sessions: SessionReader) async throws -> Response {
        // A stream's task lives as long as the follower, and a task keeps the memory its
        // deepest call took: the session, the membership and the store are read in
        // short-lived tasks of their own, which give theirs back.
        let meetings = meetings
        let meetingID = try await Task {
            guard let user = try await sessions.authenticatedUser(request) else { throw AppError.notAuthenticated }
            // Active members of the meeting's community only; anyone else: no such page.
            guard try await meetings.find(id: meetingParameter, member: user.id) != nil else { throw AppError.notFound }
            return meetingParameter
        }.value
        let resumeAfter = ServerSentEvents.lastEventID(request.headers[Self.lastEventIDHeader])
            ?? ServerSentEvents.lastEventID(request.uri.queryParameters.get("after"))
        // Followed before reading the store: an event committed in between is in one or the other.
        let signals = feed.follow(meetingID: meetingID)
        let store = events, feed = feed
        let start: Int64
        if let resumeAfter { start = resumeAfter } else { start = try await Task { try await store.lastSeq(of: meetingID) }.value }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-store"
        // Proxies (nginx) must pass each event on as it comes.
        headers[Self.accelBufferingHeader] = "no"
        let body = ResponseBody { writer in
            var last = start
            func send(_ text: String) async throws { try await writer.write(ByteBuffer(string: text)) }
            func catchUp() async throws {
                while true {
                    let after = last
                    let missed = try await Task { try await store.events(of: meetingID, after: after, limit: Self.catchUpPage) }.value
                    for event in missed where event.seq > last {
                        try await send(ServerSentEvents.frame(event))
                        last = event.seq
                    }
                    if missed.count < Self.catchUpPage { break }
                }
                feed.noteDelivered(meetingID: meetingID, seq: last)
            }
            try await send(ServerSentEvents.opening(retryMilliseconds: 1500))
            try await catchUp()
            // The server waits for open responses before it stops: at shutdown the feed
            // ends every stream (browsers reconnect to another instance).
            try await withGracefulShutdownHandler {
                for await signal in signals {
                    switch signal {
                    case .heartbeat:
                        try await send(ServerSentEvents.heartbeat)
                    case .event(let event):
                        if event.seq <= last { continue }
                        // A number skipped (a notification lost with a connection): read it back.
                        if event.seq > last + 1 {
                            try await catchUp()
                        } else {
                            try await send(ServerSentEvents.frame(event))
                            last = event.seq
                        }
                    }
                }
            } onGracefulShutdown: {
                feed.close()
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }

    static let catchUpPage = 500
    static let lastEventIDHeader = HTTPField.Name("Last-Event-ID")!
    static let accelBufferingHeader = HTTPField.Name("X-Accel-Buffering")!

    // MARK: Presenting

    /// Puts a case on every follower's screen: the one chosen, or the next one not yet
    /// discussed after the current (*Dossier suivant*).
    @Sendable func present(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let loaded = try await meetingAccess.load(context)
        guard Roles(loaded, user: context.user.id).presents else { throw AppError.forbidden }
        let form = try context.requiredForm
        let agenda = try await meetings.agenda(of: loaded.meeting.id)
        let chosen: UUID?
        if form["next"] != nil {
            chosen = SeanceState.next(after: loaded.meeting.currentCaseID, in: agenda)?.caseID
            if chosen == nil { context.sessions.flash(.info, "live_agenda_done") }
        } else {
            guard let caseID = form["case"].flatMap(UUID.init(storageKey:)), agenda.contains(where: { $0.caseID == caseID }) else { throw AppError.badRequest }
            chosen = caseID
        }
        if let chosen, chosen != loaded.meeting.currentCaseID {
            try await events.present(meetingID: loaded.meeting.id, caseID: chosen, by: context.user.id)
        }
        return .redirect(to: SiteURL.meetingLive(loaded.meeting.id).path, type: .normal)
    }

    /// The recorder's draft, sent by the page as they type (debounced); 204, nothing to show.
    @Sendable func saveDraft(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let loaded = try await meetingAccess.load(context)
        guard Roles(loaded, user: context.user.id).types else { throw AppError.forbidden }
        let form = try context.requiredForm
        guard let caseID = form["case"].flatMap(UUID.init(storageKey:)), caseID == loaded.meeting.currentCaseID,
              let record = try await cases.find(id: caseID), record.meetingID == loaded.meeting.id,
              record.status == .registered || record.status == .discussed else {
            // The case moved on (another case presented, the decision recorded): the page reloads.
            return Response(status: .conflict)
        }
        // The recorder types clinical content: they must be allowed to read the case.
        guard try await mayRead(record, meeting: loaded.meeting, context: context) else { throw AppError.forbidden }
        let draft = DecisionDraft(
            proposalTypes: ProposalType.allCases.filter { form["type_\($0.rawValue)"] != nil }, proposal: form["proposal"] ?? "",
            trialProposed: form["trial"] == "yes", trialReference: form.trimmed("trial_reference"))
        try await events.saveDraft(draft, meetingID: loaded.meeting.id, caseID: caseID, by: context.user.id)
        return Response(status: .noContent)
    }

    /// The chair designates who types the decision: an active member of the community (the
    /// board's secretary, say). They type once the policy lets them read the case: checked
    /// in as present, or in its care team.
    @Sendable func designateRecorder(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let loaded = try await meetingAccess.load(context)
        guard Roles(loaded, user: context.user.id).presents else { throw AppError.forbidden }
        let form = try context.requiredForm
        var recorder: UUID?
        if let raw = form.trimmed("user") {
            guard let id = UUID(storageKey: raw), try await communities.membership(userID: id, in: loaded.meeting.communityID)?.status == .active else {
                throw AppError.badRequest
            }
            recorder = id
        }
        try await events.setRecorder(meetingID: loaded.meeting.id, userID: recorder, by: context.user.id,
                                     audit: context.auditDraft(.meetingRecorder, resourceType: "meeting", resourceID: loaded.meeting.id.storageKey,
                                                               outcome: .success, reason: recorder?.storageKey))
        return context.sessions.redirect(to: SiteURL.meetingLive(loaded.meeting.id), flash: .success, "live_recorder_set")
    }

    // MARK: View models

    func statusFields(_ state: SeanceState, roles: Roles, pages: PageBuilder) -> ViewFields {
        let now = Date()
        let quorum = state.meeting.quorum(given: state.attendance)
        // The agenda's estimated slot: the clock turns red past it.
        let slot = TimeInterval(60 * MeetingPresentation.slotMinutes(state.meeting, count: state.agenda.count))
        let currentID = state.current?.caseID
        return ViewFields([
            "quorumMet": quorum.isMet ? true : nil,
            "quorumCount": String(quorum.distinctSpecialties), "quorumMinimum": String(quorum.minimum),
            "quorumMissing": quorum.missingDisciplines.map { pages.text("quorum_discipline_\($0.rawValue)") }.joined(separator: ", "),
            "present": String(state.attendance.filter { $0.status == .present }.count),
            "slot": LiveTimeline.clock(slot),
            "presents": roles.presents ? true : nil,
            "hasNext": roles.presents && SeanceState.next(after: currentID, in: state.agenda) != nil ? true : nil,
            "agenda": state.agenda.enumerated().map { index, item in
                let isCurrent = item.caseID == currentID
                let spent = state.timeline.secondsSpent(on: item.caseID, at: now)
                let done = item.status == .discussed || item.status == .validated
                return ViewFields([
                    "position": String(index + 1), "caseID": item.caseID.storageKey, "patient": item.patientName,
                    "status": pages.text("case_status_\(item.status.rawValue)"), "statusCode": item.status.rawValue,
                    "done": done ? true : nil, "isCurrent": isCurrent ? true : nil,
                    "spent": LiveTimeline.clock(spent),
                    "spentBefore": String(Int(state.timeline.secondsSpentBefore(item.caseID))),
                    "sinceMs": isCurrent ? state.timeline.currentSince.map { String($0.epochMilliseconds) } : nil,
                    "slotSeconds": String(Int(slot)), "over": spent > slot ? true : nil,
                    "mayPresent": roles.presents && !isCurrent ? true : nil,
                ])
            },
            "nowMs": String(now.epochMilliseconds),
        ])
    }

    /// The case on screen: its number on the agenda always; its content, studies,
    /// documents, earlier decisions and the decision in progress when the policy allows.
    func caseFields(_ state: SeanceState, roles: Roles, context: AuthenticatedContext, pages: PageBuilder) async throws -> ViewFields? {
        guard let current = state.current, let record = try await cases.find(id: current.caseID), record.meetingID == state.meeting.id else { return nil }
        let position = (state.agenda.firstIndex { $0.caseID == record.id } ?? 0) + 1
        var values: [String: (any Sendable)?] = [
            "caseID": record.id.storageKey, "position": String(position),
            "status": pages.text("case_status_\(record.status.rawValue)"), "statusCode": record.status.rawValue,
        ]
        guard let outcome = try await checkedView(record, meeting: state.meeting, context: context) else { return ViewFields(values) }
        guard outcome.decision.allowed else {
            values["accessMessage"] = pages.text("access_reason_\(outcome.decision.reason.rawValue)")
            return ViewFields(values)
        }
        async let attachedRows = imagingStudies.studies(ofCase: record.id)
        async let documentRows = documents.documents(ofPatient: record.patientID)
        async let previousRows = cases.previousDecisions(patientID: record.patientID, communityID: record.communityID, excluding: record.id)
        values["readable"] = true
        values["patient"] = current.patientName
        values["birthDate"] = current.birthDate.french
        values["caseURL"] = SiteURL.caseItem(record.id).path
        // Documents filed through this community: the access check above covers them.
        let filed = try await documentRows.filter { $0.communityID == record.communityID }
        values["documents"] = filed.map { document in
            ViewFields(["title": document.title ?? document.typeLabel ?? document.typeCode, "date": HL7Time.french(iso: document.effectiveTime),
                        "url": SiteURL.document(document.id).path])
        }
        values["hasDocuments"] = filed.isEmpty ? nil : true
        let previous = try await previousRows
        values["previous"] = previous.compactMap { earlier in
            earlier.decision.map { decision in
                ViewFields(["date": earlier.validatedAt.map(DisplayFormat.dateTime), "types": decision.proposalTypes.map { pages.text("proposal_\($0.rawValue)") }.joined(separator: ", "),
                            "proposal": decision.proposal, "url": SiteURL.caseItem(earlier.id).path])
            }
        }
        values["hasPrevious"] = previous.isEmpty ? nil : true
        let typed = record.decision == nil ? try await events.draft(caseID: record.id) : nil
        values.merge(CasePresentation.panelValues(record, attached: try await attachedRows,
                                                  checked: record.decision?.proposalTypes ?? typed?.proposalTypes ?? [], imaging: imaging, pages: pages)) { _, new in new }
        if record.decision != nil {
            values["validated"] = record.status == .validated ? true : nil
        } else {
            values["draft"] = typed.map { Self.draftFields($0, pages: pages) }
        }
        let open = record.status == .registered || record.status == .discussed
        values["mayType"] = roles.types && open ? true : nil
        values["mayValidate"] = roles.presents && record.status == .discussed ? true : nil
        values["maySendBack"] = roles.presents && open ? true : nil
        values["validateURL"] = SiteURL.caseValidate(record.id).path
        values["sendBackURL"] = SiteURL.caseSendBack(record.id).path
        values["returnTo"] = SiteURL.meetingLive(state.meeting.id).path
        values["draftPostURL"] = SiteURL.meetingLiveDraft(state.meeting.id).path
        values["quorumNotMet"] = state.meeting.quorum(given: state.attendance).isMet ? nil : true
        values["formProposal"] = record.decision?.proposal ?? typed?.proposal
        values["formTrialYes"] = (record.decision?.trialProposed ?? typed?.trialProposed) == true ? true : nil
        values["formTrialReference"] = record.decision?.trialReference ?? typed?.trialReference
        return ViewFields(values)
    }

    static func draftFields(_ draft: DecisionDraft, pages: PageBuilder) -> ViewFields {
        ViewFields([
            "types": draft.proposalTypes.isEmpty ? nil : draft.proposalTypes.map { pages.text("proposal_\($0.rawValue)") }.joined(separator: ", "),
            "proposal": draft.proposal, "trial": draft.trialProposed ? pages.text("yes") : nil, "trialReference": draft.trialReference,
        ])
    }

    /// The policy's answer for this follower and case, audited the first time in the séance
    /// only (allowed or refused). Nil for an unknown patient.
    func checkedView(_ record: CaseRecord, meeting: MeetingRecord, context: AuthenticatedContext) async throws -> AccessGuard.Outcome? {
        let now = Date()
        guard let outcome = try await guardian.decideUnaudited(.readClinical, patient: record.patientID, community: record.communityID, context: context, at: now) else {
            return nil
        }
        let allowed = outcome.decision.allowed
        let audit = allowed
            ? guardian.allowedEvent(outcome.decision, auditAction: .caseRead, resourceType: "case", resourceID: record.id.storageKey, patientID: record.patientID, context: context)
            : context.auditDraft(.caseRead, resourceType: "case", resourceID: record.id.storageKey, patientID: record.patientID, outcome: .denied,
                                 reason: outcome.decision.reason.rawValue)
        _ = try await events.recordFirstView(meetingID: meeting.id, userID: context.user.id, caseID: record.id, allowed: allowed, audit: audit, at: now)
        return outcome
    }

    func mayRead(_ record: CaseRecord, meeting: MeetingRecord, context: AuthenticatedContext) async throws -> Bool {
        try await checkedView(record, meeting: meeting, context: context)?.decision.allowed ?? false
    }
}

/// What a séance page is built from: the meeting, its agenda and attendance, its clock.
struct SeanceState: Sendable {
    let meeting: MeetingRecord
    let agenda: [AgendaItem]
    let attendance: [AttendanceRow]
    let timeline: LiveTimeline

    /// The case on screen: the one presented (still on the agenda).
    var current: AgendaItem? {
        meeting.currentCaseID.flatMap { id in agenda.first { $0.caseID == id } }
    }

    static func load(_ meeting: MeetingRecord, meetings: MeetingStore, events: MeetingEventStore, attendance withAttendance: Bool = true,
                     clock: Bool = true) async throws -> SeanceState {
        async let agenda = meetings.agenda(of: meeting.id)
        async let attendance = withAttendance ? meetings.attendance(of: meeting.id) : []
        async let presentations = clock ? events.presentations(of: meeting.id) : []
        return SeanceState(meeting: meeting, agenda: try await agenda, attendance: try await attendance, timeline: LiveTimeline(events: try await presentations))
    }

    /// *Dossier suivant*: the first case after the current one still to be discussed, else
    /// the first such case from the top.
    static func next(after current: UUID?, in agenda: [AgendaItem]) -> AgendaItem? {
        let waiting = { (item: AgendaItem) in item.status == .registered && item.caseID != current }
        if let current, let index = agenda.firstIndex(where: { $0.caseID == current }),
           let after = agenda[(index + 1)...].first(where: waiting) {
            return after
        }
        return agenda.first(where: waiting)
    }
}
