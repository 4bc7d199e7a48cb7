import ConcertoCore
import ConcertoServices
import ConcertoStore
import Foundation
import Hummingbird
import Mustache

/// The séance: attendance check-in, the live quorum, the case under discussion and the
/// decision form. Members of the meeting's community see it; the coordinators and the
/// chair run it. The case's clinical content shows only where the access policy allows it:
/// checking in as present puts a member in the care scope of the agenda.
struct MeetingSessionController: Sendable {
    let meetingAccess: MeetingAccess
    let completeness: CompletenessStore
    let meetings: MeetingStore
    let events: MeetingEventStore
    let cases: CaseStore
    let communities: CommunityStore
    let imagingStudies: ImagingStore
    let imaging: ImagingService
    let guardian: AccessGuard
    let renderer: Renderer

    func addRoutes(to group: some RouterMethods<AuthenticatedContext>) {
        group.get(SiteURL.route { id, _ in .meetingSession(id) }, use: show)
        group.post(SiteURL.route { id, _ in .meetingAttendance(id) }, use: recordAttendance)
        group.post(SiteURL.route { id, _ in .meetingCurrentCase(id) }, use: setCurrentCase)
    }

    /// The same rule as presenting in the live séance.
    static func runsSession(_ loaded: MeetingAccess.Loaded, user: UUID) -> Bool {
        LiveRoles.presents(isCoordinator: loaded.isCoordinator, isChair: loaded.meeting.chairID == user)
    }

    /// The séance: attendance and quorum, the agenda, the case under discussion.
    struct SessionPage: Sendable, PageModel {
        let meeting: ViewFields
        let runs, quorumMet: Bool
        let quorumCount, quorumMinimum, quorumMissing, quorumRule: String
        let members, guests: [ViewFields]
        let guestSpecialties: [SelectOption]?
        let attendanceURL, currentURL: String
        let agenda: [ViewFields]
        let currentCase: ViewFields?
    }

    @Sendable func show(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let loaded = try await meetingAccess.load(context)
        let pages = PageBuilder(request: request, context: context)
        let meeting = loaded.meeting
        let runs = Self.runsSession(loaded, user: context.user.id) && meeting.status == .scheduled
        async let attendanceRows = meetings.attendance(of: meeting.id)
        async let memberRows = communities.members(of: meeting.communityID)
        async let agendaRows = meetings.agenda(of: meeting.id)
        let attendance = try await attendanceRows
        let members = try await memberRows.filter { $0.membership.status == .active }
        let agenda = try await agendaRows
        try await guardian.audit.record(context.auditDraft(.patientList, resourceType: "meeting_session", resourceID: meeting.id.storageKey, outcome: .allowed,
                                                           reason: AccessReason.communityMember.rawValue))
        let quorum = meeting.quorum(given: attendance)
        let byUser = Dictionary(attendance.compactMap { row in row.userID.map { ($0, row) } }, uniquingKeysWith: { a, _ in a })
        func specialtyOptions(_ selected: String?) -> [SelectOption] {
            Specialty.all.map { SelectOption(value: $0.code, label: $0.label, selected: $0.code == selected) }
        }
        let memberFields = members.map { member -> ViewFields in
            let row = byUser[member.user.id]
            let specialty = row?.specialtyCode ?? member.user.specialtyCode
            return ViewFields([
                "userID": member.user.id.storageKey, "name": member.user.displayName,
                "specialty": specialty.flatMap(Specialty.find(code:))?.label, "status": row.map { pages.text("attendance_\($0.status.rawValue)") },
                "statusCode": row?.status.rawValue, "editable": runs ? true : nil, "specialties": runs ? specialtyOptions(specialty) : nil,
                "statuses": runs ? SelectOption.list(AttendanceStatus.allCases, labelledBy: "attendance", chosen: row?.status.rawValue, pages: pages) : nil,
            ])
        }
        let guests = attendance.filter(\.isGuest).map {
            ViewFields(["name": $0.name, "specialty": $0.specialtyCode.flatMap(Specialty.find(code:))?.label, "status": pages.text("attendance_\($0.status.rawValue)")])
        }
        let current = meeting.currentCaseID.flatMap { id in agenda.first { $0.caseID == id } } ?? agenda.first { $0.status == .registered }
        var currentFields: ViewFields?
        if let current, let record = try await cases.find(id: current.caseID) {
            currentFields = try await caseFields(record, item: current, meeting: meeting, quorum: quorum, runs: runs, context: context, pages: pages)
        }
        let content = SessionPage(
            meeting: MeetingPresentation.fields(meeting, pages: pages),
            runs: runs,
            quorumMet: quorum.isMet,
            quorumCount: String(quorum.distinctSpecialties), quorumMinimum: String(quorum.minimum),
            quorumMissing: quorum.missingDisciplines.map { pages.text("quorum_discipline_\($0.rawValue)") }.joined(separator: ", "),
            quorumRule: MeetingPresentation.quorumText(meeting.quorum, pages: pages),
            members: memberFields, guests: guests,
            guestSpecialties: runs ? specialtyOptions(nil) : nil,
            attendanceURL: SiteURL.meetingAttendance(meeting.id).path,
            currentURL: SiteURL.meetingCurrentCase(meeting.id).path,
            agenda: agenda.enumerated().map { index, item in
                ViewFields(["position": String(index + 1), "caseID": item.caseID.storageKey, "patient": item.patientName,
                            "status": pages.text("case_status_\(item.status.rawValue)"), "statusCode": item.status.rawValue,
                            "isCurrent": item.caseID == current?.caseID, "caseURL": SiteURL.caseItem(item.caseID).path])
            },
            currentCase: currentFields)
        return try renderer.html("meeting_session", pages.page(content))
    }

    /// The case under discussion: identity always, clinical content and the decision form
    /// when the policy lets this user read it (audited like the case page).
    func caseFields(_ record: CaseRecord, item: AgendaItem, meeting: MeetingRecord, quorum: QuorumEvaluation, runs: Bool,
                    context: AuthenticatedContext, pages: PageBuilder) async throws -> ViewFields {
        let now = Date()
        let outcome = try await guardian.evaluate(.readClinical, patient: record.patientID, community: record.communityID, auditAction: .caseRead,
                                                  resourceType: "case", resourceID: record.id.storageKey, context: context, at: now)
        var values: [String: (any Sendable)?] = [
            "patient": item.patientName, "birthDate": item.birthDate.french, "caseURL": SiteURL.caseItem(record.id).path,
            "status": pages.text("case_status_\(record.status.rawValue)"), "statusCode": record.status.rawValue,
            "readable": outcome.decision.allowed ? true : nil,
            "accessMessage": pages.text("access_reason_\(outcome.decision.reason.rawValue)"),
        ]
        guard outcome.decision.allowed else { return ViewFields(values) }
        try await guardian.audit.record(guardian.allowedEvent(outcome.decision, auditAction: .caseRead, resourceType: "case", resourceID: record.id.storageKey,
                                                              patientID: record.patientID, context: context), at: now)
        values.merge(CasePresentation.panelValues(record, attached: try await imagingStudies.studies(ofCase: record.id),
                                                  checked: record.decision?.proposalTypes ?? [], imaging: imaging, pages: pages)) { _, new in new }
        if !meeting.completeness.items.isEmpty, let evidence = try await completeness.evidence(forCase: record.id) {
            values["completeness"] = CompletenessPresentation.fields(meeting.completenessReport(evidence), override: evidence.override,
                                                                     caseID: record.id, pages: pages)
        }
        let decides = runs && (record.status == .registered || record.status == .discussed)
        values["mayDecide"] = decides ? true : nil
        values["validateURL"] = runs && record.status == .discussed ? SiteURL.caseValidate(record.id).path : nil
        values["sendBackURL"] = decides ? SiteURL.caseSendBack(record.id).path : nil
        values["quorumNotMet"] = quorum.isMet ? nil : true
        values["returnTo"] = SiteURL.meetingSession(meeting.id).path
        return ViewFields(values)
    }

    @Sendable func recordAttendance(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let loaded = try await meetingAccess.load(context)
        guard Self.runsSession(loaded, user: context.user.id), loaded.meeting.status == .scheduled else { throw AppError.forbidden }
        let form = try context.requiredForm
        guard let status = form["status"].flatMap(AttendanceStatus.init(rawValue:)) else { throw AppError.badRequest }
        let specialty = form.trimmed("specialty").flatMap { Specialty.find(code: $0)?.code }
        let audit = context.auditDraft(.meetingAttendance, resourceType: "meeting", resourceID: loaded.meeting.id.storageKey, outcome: .success, reason: status.rawValue)
        // A member checked in present joins the care scope of the agenda's patients: so it
        // happens during the séance only, and nobody checks themselves in.
        let back = Response.redirect(to: SiteURL.meetingSession(loaded.meeting.id).path, type: .normal)
        if let refusal = AttendanceRules.refusal(recorder: context.user.id, member: form["user"].flatMap(UUID.init(storageKey:)),
                                                  startsAt: loaded.meeting.startsAt, endsAt: loaded.meeting.endsAt, at: Date()) {
            try await guardian.audit.record(context.auditDraft(.meetingAttendance, resourceType: "meeting", resourceID: loaded.meeting.id.storageKey,
                                                               outcome: .denied, reason: refusal.rawValue))
            context.sessions.flash(.error, "flash_attendance_\(refusal.rawValue)")
            return back
        }
        if let member = form["user"].flatMap(UUID.init(storageKey:)) {
            guard try await communities.membership(userID: member, in: loaded.meeting.communityID)?.status == .active else { throw AppError.badRequest }
            try await meetings.recordAttendance(meetingID: loaded.meeting.id, member: member, guestName: nil, specialtyCode: specialty, status: status,
                                                by: context.user.id, audit: audit)
        } else if let guest = form.trimmed("guest_name"), guest.count <= 120 {
            try await meetings.recordAttendance(meetingID: loaded.meeting.id, member: nil, guestName: guest, specialtyCode: specialty, status: status,
                                                by: context.user.id, audit: audit)
        } else {
            throw AppError.badRequest
        }
        return back
    }

    @Sendable func setCurrentCase(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let loaded = try await meetingAccess.load(context)
        guard Self.runsSession(loaded, user: context.user.id) else { throw AppError.forbidden }
        let form = try context.requiredForm
        guard let caseID = form["case"].flatMap(UUID.init(storageKey:)),
              try await meetings.agenda(of: loaded.meeting.id).contains(where: { $0.caseID == caseID }) else { throw AppError.badRequest }
        // The same as presenting it in the live séance: every follower's screen moves.
        if caseID != loaded.meeting.currentCaseID {
            try await events.present(meetingID: loaded.meeting.id, caseID: caseID, by: context.user.id)
        }
        return .redirect(to: SiteURL.meetingSession(loaded.meeting.id).path, type: .normal)
    }
}
