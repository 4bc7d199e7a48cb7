import ConcertoCore
import ConcertoStore
import Foundation
import HTTPTypes
import Hummingbird
import Mustache

/// Meetings: the list, series and ad hoc meetings, a meeting's page (move, cancel, chair),
/// its agenda, its `.ics` and the personal calendar feed. Only members of the meeting's
/// community see it; a meeting of another community answers 404.
struct MeetingController: Sendable {
    let meetings: MeetingStore
    let access: MeetingAccess
    let imagingStudies: ImagingStore
    let completeness: CompletenessStore
    let communities: CommunityStore
    let audit: AuditLog
    /// Lists are reads: the agenda shows each row as the policy lets this viewer see it.
    let guardian: AccessGuard
    let renderer: Renderer
    let horizonMonths: Int
    /// The base of absolute links (`AppConfiguration.linkBase`), never the request's Host.
    let linkBase: String

    func addRoutes(to group: some RouterMethods<AuthenticatedContext>) {
        group.get(SiteURL.route(.meetings), use: list)
        group.post(SiteURL.route(.meetings), use: createMeeting)
        group.get(SiteURL.route(.meetingNew), use: newMeetingForm)
        group.get(SiteURL.route(.meetingSeriesNew), use: newSeriesForm)
        group.post(SiteURL.route(.meetingSeries), use: createSeries)
        group.get(SiteURL.route { id, _ in .meeting(id) }, use: show)
        group.get(SiteURL.route { id, _ in .meetingICS(id) }, use: meetingCalendar)
        group.post(SiteURL.route { id, _ in .meetingMove(id) }, use: move)
        group.post(SiteURL.route { id, _ in .meetingCancel(id) }, use: cancel)
        group.post(SiteURL.route { id, _ in .meetingChair(id) }, use: setChair)
        group.get(SiteURL.route { id, _ in .meetingAgenda(id) }, use: agenda)
        group.post(SiteURL.route { .meetingAgendaMove($0, case: $1) }, use: moveAgendaItem)
        group.post(SiteURL.route(.calendarFeed), use: createFeed)
        group.post(SiteURL.route(.calendarFeedRevoke), use: revokeFeed)
    }

    /// The subscription feed: calendar clients have no session, the secret URL is the key.
    func addPublicRoutes(to router: Router<AppRequestContext>) {
        router.get(SiteURL.route(.token) { .calendarFeedICS(token: $0) }, use: feed)
    }

    // MARK: List

    func row(_ meeting: MeetingRecord, pages: PageBuilder, now: Date) -> ViewFields {
        ViewFields([
            "url": SiteURL.meeting(meeting.id).path, "agendaURL": SiteURL.meetingAgenda(meeting.id).path,
            "sessionURL": SiteURL.meetingSession(meeting.id).path, "liveURL": SiteURL.meetingLive(meeting.id).path, "title": meeting.title, "community": meeting.communityName,
            "when": DisplayFormat.dateTime(meeting.startsAt), "place": meeting.place ?? meeting.videoLink,
            "registered": String(meeting.registeredCases), "maximum": meeting.maximumCases.map(String.init),
            "cancelled": meeting.status == .cancelled ? true : nil,
            "open": meeting.status == .scheduled && now < meeting.registrationWindow.deadline ? true : nil,
            "deadline": DisplayFormat.dateTime(meeting.registrationWindow.deadline),
        ])
    }

    @Sendable func list(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try await renderList(request: request, context: context, newFeedURL: nil)
    }

    /// The meetings list: upcoming and recent boards of the user's communities, their series, the calendar feed.
    struct MeetingsPage: Sendable, PageModel {
        let upcoming, past, series: [ViewFields]
        let mayPlan, hasFeed: Bool
        let newFeedURL: String?
    }

    func renderList(request: Request, context: AuthenticatedContext, newFeedURL: String?) async throws -> Response {
        let pages = PageBuilder(request: request, context: context)
        let mine = try await UserCommunities.load(communities, user: context.user.id)
        let now = Date()
        async let upcoming = meetings.meetings(inCommunities: mine.activeIDs, from: now.addingTimeInterval(-4 * 3600), to: now.addingTimeInterval(Double(horizonMonths + 1) * 31 * 86_400))
        async let past = meetings.meetings(inCommunities: mine.activeIDs, from: now.addingTimeInterval(-60 * 86_400), to: now.addingTimeInterval(-4 * 3600))
        async let series = meetings.series(inCommunities: mine.activeIDs)
        async let hasFeed = meetings.hasCalendarFeed(userID: context.user.id)
        let names = Dictionary(mine.active.map { ($0.community.id, $0.community.name) }, uniquingKeysWith: { a, _ in a })
        let content = MeetingsPage(
            upcoming: try await upcoming.map { row($0, pages: pages, now: now) },
            past: try await past.reversed().map { row($0, pages: pages, now: now) },
            series: try await series.map { s in
                ViewFields(["title": s.title, "community": names[s.communityID], "rule": Self.describe(s.recurrence, pages: pages),
                            "time": s.startTime.description, "kind": pages.text("series_kind_\(s.kind.rawValue)")])
            },
            mayPlan: !mine.coordinated.isEmpty,
            hasFeed: try await hasFeed,
            newFeedURL: newFeedURL)
        return try renderer.html("meetings", pages.page(content))
    }

    static func describe(_ recurrence: Recurrence, pages: PageBuilder) -> String {
        switch recurrence {
        case .weekly(let interval, let weekday):
            let day = pages.text("weekday_\(weekday)")
            return interval == 1 ? pages.text("recurrence_weekly", ["day": day]) : pages.text("recurrence_every_n_weeks", ["n": String(interval), "day": day])
        case .monthly(let ordinal, let weekday):
            return pages.text("recurrence_monthly", ["ordinal": pages.text("ordinal_\(ordinal)"), "day": pages.text("weekday_\(weekday)")])
        }
    }

    // MARK: Series and ad hoc meetings

    /// The form of a series or an ad hoc meeting, with the quorum and the board's list.
    struct MeetingFormPage: Sendable, PageModel {
        let isSeries: Bool
        let action: String
        let errors: [String]
        let values: ViewFields
        let communities: [ViewFields]
        let kinds: [SelectOption]
        let organs: [ViewFields]
        let weekdays, ordinals: [SelectOption]
        let monthly: Bool
        let disciplines, completenessChecks: [ViewFields]
    }

    func renderForm(request: Request, context: AuthenticatedContext, series: Bool, form: FormData, errors: [String], status: HTTPResponse.Status = .ok) async throws -> Response {
        let pages = PageBuilder(request: request, context: context)
        let mine = try await UserCommunities.load(communities, user: context.user.id)
        guard !mine.coordinated.isEmpty else { throw AppError.forbidden }
        var values = form.fields
        if form.fields.isEmpty {
            values = ["duration": "90", "deadline_hours": "48", "follow_up_days": String(FollowUpDelay.defaultDays), "start_time": "14:00", "quorum_minimum": "3", "interval": "1", "weekday": "4",
                      "ordinal": "1", "recurrence": "weekly", "first_date": DisplayFormat.dateInput(Date()), "date": DisplayFormat.dateInput(Date().addingTimeInterval(7 * 86_400)),
                      "discipline_medicalOncology": "1", "discipline_surgery": "1", "discipline_radiotherapy": "1", "kind": "organ"]
        }
        let content = MeetingFormPage(
            isSeries: series,
            action: series ? SiteURL.meetingSeries.path : SiteURL.meetings.path,
            errors: errors,
            values: ViewFields(values),
            communities: mine.coordinated.map { ViewFields(["id": $0.id.storageKey, "name": $0.name, "selected": values["community"] == $0.id.storageKey ? true : nil]) },
            kinds: SelectOption.list(MeetingSeriesKind.allCases, labelledBy: "series_kind", chosen: values["kind"], pages: pages),
            organs: Terminology.boardOrgans.concepts.map { ViewFields(["code": $0.code, "label": $0.label, "checked": values["organ_\($0.code)"] != nil ? true : nil]) },
            weekdays: (1...7).map { SelectOption(value: String($0), label: pages.text("weekday_\($0)"), selected: values["weekday"] == String($0)) },
            ordinals: [1, 2, 3, 4, -1].map { SelectOption(value: String($0), label: pages.text("ordinal_\($0)"), selected: values["ordinal"] == String($0)) },
            monthly: values["recurrence"] == "monthly",
            disciplines: Specialty.Discipline.allCases.filter { $0 != .coordination && $0 != .nursing }.map {
                ViewFields(["value": $0.rawValue, "label": pages.text("discipline_\($0.rawValue)"), "checked": values["discipline_\($0.rawValue)"] != nil ? true : nil])
            },
            completenessChecks: Self.completenessFields(values, pages: pages))
        return try renderer.html("meeting_form", pages.page(content), status: status)
    }

    @Sendable func newSeriesForm(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try await renderForm(request: request, context: context, series: true, form: FormData(fields: [:]), errors: [])
    }

    @Sendable func newMeetingForm(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try await renderForm(request: request, context: context, series: false, form: FormData(fields: [:]), errors: [])
    }

    /// The completeness items a board may ask for, as form fields: each with a level
    /// (not asked, recommended, required) and, for some, a setting (days, sites, a label).
    static let completenessFormItems: [(name: String, extra: String?)] = [
        ("cp_pathology_report", nil), ("cp_recent_imaging", "cp_recent_imaging_days"), ("cp_tnm_staged", nil), ("cp_performance_status", nil),
        ("cp_molecular_results", "cp_molecular_sites"), ("cp_question", nil), ("cp_attested_0", "cp_attested_0_label"),
        ("cp_attested_1", "cp_attested_1_label"), ("cp_attested_2", "cp_attested_2_label"),
    ]

    static func completenessFields(_ values: [String: String], pages: PageBuilder) -> [ViewFields] {
        completenessFormItems.map { item in
            let key = String(item.name.dropFirst(3))
            let label: String = switch key {
            case "recent_imaging": pages.text("completeness_recent_imaging", ["days": values["cp_recent_imaging_days"] ?? "60"])
            case "molecular_results": pages.text("completeness_molecular_results", ["sites": "…"])
            case let attested where attested.hasPrefix("attested"): pages.text("completeness_attested_item")
            default: pages.text("completeness_\(key)")
            }
            let extraLabel: String? = switch item.extra {
            case "cp_recent_imaging_days": pages.text("completeness_imaging_days")
            case "cp_molecular_sites": pages.text("completeness_molecular_sites")
            case .some: pages.text("completeness_attested_item")
            case nil: nil
            }
            let chosen = values[item.name] ?? ""
            let choices: [(String, String)] = [("", pages.text("completeness_not_asked"))]
                + CompletenessLevel.allCases.map { ($0.rawValue, pages.text("completeness_level_\($0.rawValue)")) }
            let levels: [SelectOption] = choices.map { SelectOption(value: $0.0, label: $0.1, selected: chosen == $0.0) }
            return ViewFields([
                "name": item.name, "label": label,
                "levels": levels,
                "extraName": item.extra, "extraLabel": extraLabel,
                "extraValue": item.extra.flatMap { values[$0] } ?? (item.extra == "cp_recent_imaging_days" ? "60" : ""),
            ])
        }
    }

    /// Reads the board's completeness list; nil when a setting cannot be read.
    static func completenessRules(from form: FormData) -> CompletenessRules? {
        var items: [CompletenessItem] = []
        for field in completenessFormItems {
            guard let raw = form.trimmed(field.name) else { continue }
            guard let level = CompletenessLevel(rawValue: raw) else { return nil }
            let check: CompletenessCheck
            switch field.name {
            case "cp_pathology_report": check = .pathologyReport
            case "cp_recent_imaging":
                guard let days = Int(form.trimmed("cp_recent_imaging_days") ?? "60") else { return nil }
                check = .recentImaging(days: days)
            case "cp_tnm_staged": check = .tnmStaged
            case "cp_performance_status": check = .performanceStatus
            case "cp_molecular_results":
                let sites = (form["cp_molecular_sites"] ?? "").uppercased().split(whereSeparator: { $0 == "," || $0 == " " || $0 == ";" }).map(String.init)
                check = .molecularResults(sites: sites)
            case "cp_question": check = .question
            default: check = .attested(label: form.trimmed(field.extra ?? "") ?? "")
            }
            items.append(CompletenessItem(check, level))
        }
        return CompletenessRules(items)
    }

    /// The settings both forms share; problems are message keys.
    struct Settings {
        var communityID: UUID?
        var title: String
        var startTime: LocalTime?
        var duration: Int
        var place: String?
        var videoLink: String?
        var deadlineHours: Int
        var maximumCases: Int?
        var quorum: QuorumRequirement
        var followUpDays: Int
        var completeness: CompletenessRules
        var problems: [String]
    }

    func settings(from form: FormData, mine: UserCommunities) -> Settings {
        var problems: [String] = []
        let community = form["community"].flatMap(UUID.init(storageKey:)).flatMap { mine.isCoordinator(of: $0) ? $0 : nil }
        if community == nil { problems.append("meeting_error_community") }
        let time = form.trimmed("start_time").flatMap(LocalTime.init)
        if time == nil { problems.append("meeting_error_time") }
        let maximum = form.trimmed("max_cases").map { Int($0) ?? -1 }
        let disciplines = Specialty.Discipline.allCases.filter { form["discipline_\($0.rawValue)"] != nil }
        let completeness = Self.completenessRules(from: form)
        if completeness == nil { problems.append("meeting_error_invalid_completeness") }
        return Settings(
            communityID: community, title: form.trimmed("title") ?? "", startTime: time, duration: Int(form["duration"] ?? "") ?? 0,
            place: form.trimmed("place"), videoLink: form.trimmed("video_link"), deadlineHours: Int(form["deadline_hours"] ?? "") ?? -1,
            maximumCases: maximum, quorum: QuorumRequirement(minimumSpecialties: Int(form["quorum_minimum"] ?? "") ?? 0, requiredDisciplines: disciplines),
            followUpDays: form.trimmed("follow_up_days").map { Int($0) ?? -1 } ?? FollowUpDelay.defaultDays, completeness: completeness ?? .none,
            problems: problems
        )
    }

    @Sendable func createSeries(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let form = try context.requiredForm
        let pages = PageBuilder(request: request, context: context)
        let mine = try await UserCommunities.load(communities, user: context.user.id)
        let base = settings(from: form, mine: mine)
        var problems = base.problems
        let weekday = Int(form["weekday"] ?? "") ?? 0
        let recurrence: Recurrence = form["recurrence"] == "monthly"
            ? .monthly(ordinal: Int(form["ordinal"] ?? "") ?? 0, weekday: weekday)
            : .weekly(interval: Int(form["interval"] ?? "") ?? 0, weekday: weekday)
        let firstDate = form.trimmed("first_date").flatMap(CalendarDate.init(iso:))
        if firstDate == nil { problems.append("meeting_error_date") }
        let kind = form["kind"].flatMap(MeetingSeriesKind.init(rawValue:)) ?? .transversal
        if let communityID = base.communityID, let startTime = base.startTime, let firstDate {
            let series = MeetingSeries(
                communityID: communityID, title: base.title, kind: kind,
                organs: kind == .organ ? Terminology.boardOrgans.concepts.map(\.code).filter { form["organ_\($0)"] != nil } : [],
                recurrence: recurrence, firstDate: firstDate, startTime: startTime, durationMinutes: base.duration, place: base.place,
                videoLink: base.videoLink, deadlineHours: base.deadlineHours, maximumCases: base.maximumCases, quorum: base.quorum,
                boardID: form.trimmed("board_id"), followUpDays: base.followUpDays, completeness: base.completeness
            )
            problems += series.problems().map { "meeting_error_\($0.rawValue)" }
            if problems.isEmpty {
                let now = Date()
                _ = try await meetings.createSeries(series, by: context.user.id, through: ParisCalendar.date(months: horizonMonths, after: now), audit: context.auditDraft(
                    .seriesCreate, resourceType: "meeting_series", resourceID: series.id.storageKey, outcome: .success, reason: communityID.storageKey), at: now)
                return context.sessions.redirect(to: SiteURL.meetings, flash: .success, "flash_series_created")
            }
        }
        return try await renderForm(request: request, context: context, series: true, form: form, errors: problems.map { pages.text($0) }, status: .badRequest)
    }

    @Sendable func createMeeting(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let form = try context.requiredForm
        let pages = PageBuilder(request: request, context: context)
        let mine = try await UserCommunities.load(communities, user: context.user.id)
        let base = settings(from: form, mine: mine)
        var problems = base.problems
        let date = form.trimmed("date").flatMap(CalendarDate.init(iso:))
        if date == nil { problems.append("meeting_error_date") }
        if let communityID = base.communityID, let startTime = base.startTime, let date {
            // The same checks as a series, on a one-off rule.
            let check = MeetingSeries(communityID: communityID, title: base.title, kind: .transversal, recurrence: .weekly(interval: 1, weekday: 1),
                                      firstDate: date, startTime: startTime, durationMinutes: base.duration, place: base.place, videoLink: base.videoLink,
                                      deadlineHours: base.deadlineHours, maximumCases: base.maximumCases, quorum: base.quorum,
                                      followUpDays: base.followUpDays, completeness: base.completeness)
            problems += check.problems().map { "meeting_error_\($0.rawValue)" }
            let startsAt = ParisCalendar.instant(date, startTime)
            if startsAt < Date() { problems.append("meeting_error_past") }
            if problems.isEmpty {
                let id = UUID()
                try await meetings.create(id: id, communityID: communityID, title: base.title, startsAt: startsAt,
                                          endsAt: startsAt.addingTimeInterval(Double(base.duration) * 60), place: base.place, videoLink: base.videoLink,
                                          deadlineHours: base.deadlineHours, maximumCases: base.maximumCases, quorum: base.quorum,
                                          followUpDays: base.followUpDays, completeness: base.completeness, audit: context.auditDraft(.meetingCreate, resourceType: "meeting", resourceID: id.storageKey, outcome: .success))
                return context.sessions.redirect(to: SiteURL.meeting(id), flash: .success, "flash_meeting_created")
            }
        }
        return try await renderForm(request: request, context: context, series: false, form: form, errors: problems.map { pages.text($0) }, status: .badRequest)
    }

    // MARK: One meeting

    /// One meeting: its details, and for its coordinators the forms to move, cancel it and
    /// choose its chair.
    struct MeetingPage: Sendable, PageModel {
        struct Member: Sendable, PageModel {
            let id, name: String
            let selected: Bool
        }

        let meeting: ViewFields
        let isCoordinator: Bool
        let moveURL: String
        let cancelURL: String
        let chairURL: String
        let date: String
        let time: String
        let duration: String
        let members: [Member]
    }

    @Sendable func show(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let loaded = try await access.load(context)
        let pages = PageBuilder(request: request, context: context)
        let meeting = loaded.meeting
        let members = loaded.isCoordinator ? try await communities.members(of: meeting.communityID).filter { $0.membership.status == .active } : []
        let page = MeetingPage(
            meeting: MeetingPresentation.fields(meeting, pages: pages), isCoordinator: loaded.isCoordinator && meeting.status == .scheduled,
            moveURL: SiteURL.meetingMove(meeting.id).path, cancelURL: SiteURL.meetingCancel(meeting.id).path, chairURL: SiteURL.meetingChair(meeting.id).path,
            date: DisplayFormat.dateInput(meeting.startsAt), time: ParisCalendar.time(of: meeting.startsAt).description,
            duration: String(Int(meeting.endsAt.timeIntervalSince(meeting.startsAt) / 60)),
            members: members.map { .init(id: $0.user.id.storageKey, name: $0.user.displayName, selected: $0.user.id == meeting.chairID) })
        return try renderer.html("meeting", pages.page(page))
    }

    @Sendable func move(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let loaded = try await access.loadCoordinated(context)
        let form = try context.requiredForm
        guard let date = form.trimmed("date").flatMap(CalendarDate.init(iso:)), let time = form.trimmed("start_time").flatMap(LocalTime.init),
              let duration = Int(form["duration"] ?? ""), (15...600).contains(duration) else {
            return context.sessions.redirect(to: SiteURL.meeting(loaded.meeting.id), flash: .error, "meeting_error_move")
        }
        let startsAt = ParisCalendar.instant(date, time)
        let moved = try await meetings.move(id: loaded.meeting.id, startsAt: startsAt, endsAt: startsAt.addingTimeInterval(Double(duration) * 60),
                                            place: form.trimmed("place"), videoLink: form.trimmed("video_link"),
                                            audit: context.auditDraft(.meetingMove, resourceType: "meeting", resourceID: loaded.meeting.id.storageKey, outcome: .success))
        return context.sessions.redirect(to: SiteURL.meeting(loaded.meeting.id), flash: moved ? .success : .error, moved ? "flash_meeting_moved" : "meeting_error_move")
    }

    @Sendable func cancel(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let loaded = try await access.loadCoordinated(context)
        let flagged = try await meetings.cancel(id: loaded.meeting.id, audit: context.auditDraft(
            .meetingCancel, resourceType: "meeting", resourceID: loaded.meeting.id.storageKey, outcome: .success))
        return context.sessions.redirect(to: SiteURL.meeting(loaded.meeting.id), flash: flagged == nil ? .error : .success, flagged == nil ? "meeting_error_cancel" : "flash_meeting_cancelled")
    }

    @Sendable func setChair(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let loaded = try await access.loadCoordinated(context)
        let form = try context.requiredForm
        let chosen = form["chair"].flatMap(UUID.init(storageKey:))
        if let chosen {
            guard try await communities.membership(userID: chosen, in: loaded.meeting.communityID)?.status == .active else { throw AppError.badRequest }
        }
        try await meetings.setChair(meetingID: loaded.meeting.id, userID: chosen, audit: context.auditDraft(
            .meetingChair, resourceType: "meeting", resourceID: loaded.meeting.id.storageKey, outcome: .success, reason: chosen?.storageKey))
        return context.sessions.redirect(to: SiteURL.meeting(loaded.meeting.id), flash: .success, "flash_meeting_chair")
    }

    // MARK: Agenda

    /// The agenda of a 40-case board is a benchmarked page (docs/benchmarks.md): Mustache
    /// pays dynamic casts for every value it looks up, which made the rows most of the
    /// page's cost, so the rows are written here as one escaped fragment
    /// (`AgendaRows.html`, tested like a template) and the template places it.
    struct AgendaContent: Sendable, PageModel {
        let meeting: ViewFields
        let rowsHTML: String
        let hasItems: Bool
        let slotMinutes: String
        let mayReorder: Bool
    }

    @Sendable func agenda(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let loaded = try await access.load(context)
        let pages = PageBuilder(request: request, context: context)
        let meeting = loaded.meeting
        let items = try await meetings.agenda(of: meeting.id)
        let studies = try await imagingStudies.studies(ofCases: items.map(\.caseID))
        // Each file against its board's list; a board without one pays no query.
        let rules = meeting.completeness
        let evidence = rules.items.isEmpty ? [:] : try await completeness.evidence(forCases: items.map(\.caseID))
        let badges = evidence.mapValues { CompletenessPresentation.badgeHTML(meeting.completenessReport($0), overridden: $0.override != nil, pages: pages) }
        // The list names patients: one audited read for the page.
        try await audit.record(context.auditDraft(.patientList, resourceType: "meeting_agenda", resourceID: meeting.id.storageKey, outcome: .allowed,
                                                  reason: AccessReason.communityMember.rawValue))
        let slot = MeetingPresentation.slotMinutes(meeting, count: items.count)
        let mayReorder = loaded.isCoordinator && meeting.status == .scheduled && Date() < meeting.endsAt
        let visibility = try await guardian.listVisibility(of: items.map { ($0.patientID, meeting.communityID) },
                                                           roles: [meeting.communityID: loaded.role], user: context.user.id)
        let rows = AgendaRows(
            startsAt: ParisCalendar.time(of: meeting.startsAt), slotMinutes: slot,
            statusLabels: pages.caseStatusLabels,
            studies: studies,
            completenessHTML: badges,
            visibility: { visibility[AccessGuard.ListRowKey(patient: $0.patientID, community: meeting.communityID)] ?? .hidden },
            reorder: mayReorder ? .init(meetingID: meeting.id, csrfToken: pages.sessions.csrfToken(language: pages.language),
                                        up: pages.text("agenda_up"), down: pages.text("agenda_down")) : nil
        )
        let content = AgendaContent(meeting: MeetingPresentation.fields(meeting, pages: pages), rowsHTML: rows.html(items), hasItems: !items.isEmpty,
                                    slotMinutes: String(slot), mayReorder: mayReorder)
        return try renderer.html("meeting_agenda", pages.page(content))
    }

    @Sendable func moveAgendaItem(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let loaded = try await access.loadCoordinated(context)
        let caseID = try context.parameters.uuid(.case)
        let form = try context.requiredForm
        let offset = form["direction"] == "up" ? -1 : 1
        _ = try await meetings.move(caseID: caseID, in: loaded.meeting.id, by: offset, audit: context.auditDraft(
            .meetingAgendaReorder, resourceType: "meeting", resourceID: loaded.meeting.id.storageKey, outcome: .success, reason: caseID.storageKey))
        return .redirect(to: SiteURL.meetingAgenda(loaded.meeting.id).path, type: .normal)
    }

    // MARK: Calendars

    func event(_ meeting: MeetingRecord, base: String, language: AppLanguage) -> ICalendar.Event {
        ICalendar.Event(
            uid: "\(meeting.id.storageKey)@concerto", startsAt: meeting.startsAt, endsAt: meeting.endsAt,
            summary: "\(meeting.title) — \(meeting.communityName)", location: meeting.place ?? meeting.videoLink,
            url: base + SiteURL.meeting(meeting.id).path, description: meeting.videoLink.map { Localization.text("calendar_video", in: language, ["link": $0]) },
            cancelled: meeting.status == .cancelled, sequence: meeting.sequence, lastModified: meeting.updatedAt
        )
    }

    static func calendarResponse(_ calendar: ICalendar, filename: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/calendar; charset=utf-8"
        headers[.contentDisposition] = "attachment; filename=\"\(filename)\""
        headers[.cacheControl] = "no-store"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: calendar.render(stampedAt: Date()))))
    }

    @Sendable func meetingCalendar(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let loaded = try await access.load(context)
        return Self.calendarResponse(ICalendar(name: loaded.meeting.title, events: [event(loaded.meeting, base: linkBase, language: context.language)]),
                                     filename: "rcp-\(DisplayFormat.dateInput(loaded.meeting.startsAt)).ics")
    }

    @Sendable func createFeed(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        // One live feed per user: a new link replaces the old one.
        try await meetings.revokeCalendarFeeds(userID: context.user.id)
        let token = try await meetings.createCalendarFeed(userID: context.user.id)
        return try await renderList(request: request, context: context, newFeedURL: linkBase + SiteURL.calendarFeedICS(token: token).path)
    }

    @Sendable func revokeFeed(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try await meetings.revokeCalendarFeeds(userID: context.user.id)
        return context.sessions.redirect(to: SiteURL.meetings, flash: .success, "flash_calendar_revoked")
    }

    /// Meetings of the owner's active communities from 30 days back to the horizon; an
    /// unknown or revoked token is a 404 like any unknown URL.
    @Sendable func feed(_ request: Request, context: AppRequestContext) async throws -> Response {
        guard let token = context.parameters.get(SiteURL.Parameter.token.rawValue), token.count <= 64,
              let owner = try await meetings.calendarFeedOwner(token: token) else { throw AppError.notFound }
        let mine = try await UserCommunities.load(communities, user: owner)
        let now = Date()
        let list = try await meetings.meetings(inCommunities: mine.activeIDs, from: now.addingTimeInterval(-30 * 86_400),
                                               to: now.addingTimeInterval(Double(horizonMonths + 1) * 31 * 86_400), limit: 1000)
        // A calendar application fetches the feed without a session: its owner's language is
        // not known, the platform's default is used.
        let base = linkBase
        return Self.calendarResponse(ICalendar(name: "Concerto — RCP", events: list.map { event($0, base: base, language: .default) }), filename: "concerto.ics")
    }
}

/// The agenda's table rows as HTML; every value escaped.
struct AgendaRows: Sendable {
    struct Reorder: Sendable {
        let meetingID: UUID
        let csrfToken: String
        let up: String
        let down: String
    }
    let startsAt: LocalTime
    let slotMinutes: Int
    let statusLabels: [CaseStatus: String]
    /// Studies attached to each case: modality and date, so the board sees what imaging comes.
    var studies: [UUID: [AttachedStudy]] = [:]
    /// Each file's completeness badge (`CompletenessPresentation.badgeHTML`), for clinical readers.
    var completenessHTML: [UUID: String] = [:]
    /// How much of a row this viewer may see: hidden rows keep their slot but are not shown.
    var visibility: @Sendable (AgendaItem) -> AccessGuard.ListVisibility = { _ in .clinical }
    let reorder: Reorder?

    func html(_ items: [AgendaItem]) -> String {
        var out = ""
        out.reserveCapacity(items.count * 700)
        for (index, item) in items.enumerated() {
            let shown = visibility(item)
            if shown == .hidden { continue }
            let clinical = shown == .clinical
            let minutes = startsAt.hour * 60 + startsAt.minute + index * slotMinutes
            let site = clinical ? item.tumourSiteCode.map { "\($0) · \(Terminology.tumourSites.concept($0)?.label ?? "")" } ?? "" : ""
            out += "<tr data-test=\"agenda-row\"><td>\(index + 1)</td><td>\(Digits.padded(minutes / 60 % 24, 2)):\(Digits.padded(minutes % 60, 2))</td>"
            out += "<td><a href=\"\(SiteURL.caseItem(item.caseID).path)\"><strong>\(HTMLEscaping.escape(item.patientName))</strong></a>"
            out += " <span class=\"muted\">\(item.birthDate.french)</span></td><td>\(HTMLEscaping.escape(site))</td>"
            out += "<td>\(HTMLEscaping.escape(item.presenterName ?? ""))</td><td class=\"study-summary\" data-test=\"agenda-imaging\">"
            for (number, study) in (clinical ? studies[item.caseID] ?? [] : []).enumerated() {
                let reference = study.reference
                out += number == 0 ? "" : "<br>"
                out += HTMLEscaping.escape(reference.modalities.joined(separator: ", ")) + " " + (reference.studyDate?.french ?? "")
            }
            out += "</td>"
            out += "<td><span class=\"badge status--\(item.status.rawValue)\">\(HTMLEscaping.escape(statusLabels[item.status] ?? item.status.rawValue))</span>"
            if clinical, let badge = completenessHTML[item.caseID], !badge.isEmpty { out += "<br>" + badge }
            out += "</td>"
            if let reorder {
                let action = SiteURL.meetingAgendaMove(reorder.meetingID, case: item.caseID).path
                out += "<td class=\"no-print\">"
                for (direction, label, arrow, shown) in [("up", reorder.up, "↑", index > 0), ("down", reorder.down, "↓", index < items.count - 1)] where shown {
                    out += "<form method=\"post\" action=\"\(action)\" class=\"inline-form\"><input type=\"hidden\" name=\"_csrf\" value=\"\(HTMLEscaping.escape(reorder.csrfToken))\">"
                    out += "<input type=\"hidden\" name=\"direction\" value=\"\(direction)\"><button type=\"submit\" class=\"button button--small\" "
                    out += "aria-label=\"\(HTMLEscaping.escape(label))\" data-test=\"move-\(direction)\">\(arrow)</button></form>"
                }
                out += "</td>"
            }
            out += "</tr>\n"
        }
        return out
    }
}
