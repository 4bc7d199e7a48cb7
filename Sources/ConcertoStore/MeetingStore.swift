import ConcertoCore
import Foundation
import Crypto
import SQLKit

/// A meeting as pages show it, with its community and chair.
public struct MeetingRecord: Sendable, Equatable, Identifiable {
    public var id: UUID
    public var communityID: UUID
    public var communityName: String
    public var seriesID: UUID?
    public var title: String
    public var startsAt: Date
    public var endsAt: Date
    public var status: MeetingStatus
    public var place: String?
    public var videoLink: String?
    public var deadlineHours: Int
    public var maximumCases: Int?
    public var quorum: QuorumRequirement
    /// Days after validation before a decision of this meeting awaits its follow-up.
    public var followUpDays: Int
    /// `CompletenessRules` as stored: decoded only by the pages that check a file.
    public var completenessStorage: String
    public var completeness: CompletenessRules { CompletenessRules(storageValue: completenessStorage) }

    /// A file against this meeting's list, on the meeting's day.
    public func completenessReport(_ evidence: CompletenessEvidence) -> CompletenessReport {
        completeness.evaluate(evidence, meetingDay: ParisCalendar.date(of: startsAt))
    }
    public var chairID: UUID?
    public var chairName: String?
    public var currentCaseID: UUID?
    /// Who types the decision during the séance, when the chair designated someone.
    public var recorderID: UUID?
    public var sequence: Int
    public var registeredCases: Int
    public var updatedAt: Date

    public var registrationWindow: RegistrationWindow {
        RegistrationWindow(startsAt: startsAt, deadlineHours: deadlineHours, maximumCases: maximumCases)
    }
}

/// One row of a meeting's agenda.
public struct AgendaItem: Sendable, Equatable {
    public var caseID: UUID
    public var patientID: UUID
    public var patientName: String
    public var birthDate: CalendarDate
    public var position: Int
    public var status: CaseStatus
    public var tumourSiteCode: String?
    public var presenterName: String?

    public init(caseID: UUID, patientID: UUID, patientName: String, birthDate: CalendarDate, position: Int, status: CaseStatus,
                tumourSiteCode: String?, presenterName: String?) {
        self.caseID = caseID; self.patientID = patientID; self.patientName = patientName; self.birthDate = birthDate
        self.position = position; self.status = status; self.tumourSiteCode = tumourSiteCode; self.presenterName = presenterName
    }
}

extension MeetingRecord {
    /// The quorum as the present attendees' specialties meet the meeting's requirement.
    public func quorum(given attendance: [AttendanceRow]) -> QuorumEvaluation {
        quorum.evaluate(presentSpecialtyCodes: attendance.filter { $0.status == .present }.compactMap(\.specialtyCode))
    }
}

public struct AttendanceRow: Sendable, Equatable {
    public var id: UUID
    public var userID: UUID?
    public var name: String
    public var isGuest: Bool
    public var specialtyCode: String?
    public var status: AttendanceStatus
}

/// Series, meetings, agendas, attendance and calendar feeds.
public struct MeetingStore: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    // MARK: Series and generated meetings

    public func createSeries(_ series: MeetingSeries, by userID: UUID, through horizon: CalendarDate, audit: AuditDraft, at now: Date = Date()) async throws -> Int {
        return try await database.write { sql in
            try await sql.raw("""
                INSERT INTO meeting_series (id, community_id, title, kind, organs, recurrence, first_date, start_time, duration_minutes,
                                            place, video_link, deadline_hours, max_cases, quorum_minimum, quorum_disciplines, created_by, created_at,
                                            board_id, follow_up_days, completeness)
                VALUES (\(bind: series.id.storageKey), \(bind: series.communityID.storageKey), \(bind: series.title), \(bind: series.kind.rawValue),
                        \(bind: series.organs.joined(separator: ",")), \(bind: series.recurrence.storageValue), \(bind: series.firstDate.iso),
                        \(bind: series.startTime.description), \(bind: Int64(series.durationMinutes)), \(bind: series.place), \(bind: series.videoLink),
                        \(bind: Int64(series.deadlineHours)), \(bind: series.maximumCases.map(Int64.init)), \(bind: Int64(series.quorum.minimumSpecialties)),
                        \(bind: series.quorum.disciplinesStorageValue), \(bind: userID.storageKey), \(bind: Timestamp.iso8601(now)),
                        \(bind: series.boardID), \(bind: Int64(series.followUpDays)), \(bind: series.completeness.storageValue))
                """).run()
            let created = try await Self.generate(series, from: ParisCalendar.date(of: now), through: horizon, on: sql, at: now)
            try await AuditLog.append(audit, on: sql, database: database, at: now)
            return created
        }
    }

    /// Inserts the series' meetings up to `horizon` that do not exist yet (moved or cancelled
    /// ones included), so it is safe to run again and from several servers at once.
    static func generate(_ series: MeetingSeries, from start: CalendarDate, through horizon: CalendarDate, on sql: any SQLDatabase, at now: Date) async throws -> Int {
        var created = 0
        for occurrence in series.occurrences(from: start, through: horizon) {
            let rows = try await sql.raw("""
                INSERT INTO meetings (id, community_id, title, starts_at, ends_at, created_at, series_id, occurrence_date, status, place, video_link,
                                      deadline_hours, max_cases, quorum_minimum, quorum_disciplines, updated_at, follow_up_days, completeness)
                VALUES (\(bind: UUID().storageKey), \(bind: series.communityID.storageKey), \(bind: series.title),
                        \(bind: Timestamp.epochSeconds(occurrence.startsAt)), \(bind: Timestamp.epochSeconds(occurrence.endsAt)), \(bind: Timestamp.iso8601(now)),
                        \(bind: series.id.storageKey), \(bind: occurrence.date.iso), 'scheduled', \(bind: series.place), \(bind: series.videoLink),
                        \(bind: Int64(series.deadlineHours)), \(bind: series.maximumCases.map(Int64.init)), \(bind: Int64(series.quorum.minimumSpecialties)),
                        \(bind: series.quorum.disciplinesStorageValue), \(bind: Timestamp.iso8601(now)), \(bind: Int64(series.followUpDays)),
                        \(bind: series.completeness.storageValue))
                ON CONFLICT (series_id, occurrence_date) DO NOTHING
                RETURNING id
                """).all()
            created += rows.count
        }
        return created
    }

    /// Extends every series up to `horizon`; returns how many meetings were added.
    public func generateAll(through horizon: CalendarDate, at now: Date = Date()) async throws -> Int {
        try await database.write { sql in
            var created = 0
            for series in try await Self.allSeries(on: sql, communityIDs: nil) {
                created += try await Self.generate(series, from: ParisCalendar.date(of: now), through: horizon, on: sql, at: now)
            }
            return created
        }
    }

    public func series(inCommunities communityIDs: [UUID]) async throws -> [MeetingSeries] {
        guard !communityIDs.isEmpty else { return [] }
        return try await database.read { try await Self.allSeries(on: $0, communityIDs: communityIDs) }
    }

    static func allSeries(on sql: any SQLDatabase, communityIDs: [UUID]?) async throws -> [MeetingSeries] {
        var query = SQLQueryString("SELECT * FROM meeting_series")
        if let communityIDs {
            query = "SELECT * FROM meeting_series WHERE community_id IN (\(binds: communityIDs.map(\.storageKey)))"
        }
        return try await sql.raw(query + " ORDER BY title").all().compactMap { row in
            guard let id = UUID(storageKey: try row.decode(column: "id", as: String.self)),
                  let community = UUID(storageKey: try row.decode(column: "community_id", as: String.self)),
                  let kind = MeetingSeriesKind(rawValue: try row.decode(column: "kind", as: String.self)),
                  let recurrence = Recurrence(storageValue: try row.decode(column: "recurrence", as: String.self)),
                  let first = CalendarDate(iso: try row.decode(column: "first_date", as: String.self)),
                  let time = LocalTime(try row.decode(column: "start_time", as: String.self)) else { return nil }
            return MeetingSeries(
                id: id, communityID: community, title: try row.decode(column: "title", as: String.self), kind: kind,
                organs: try row.decode(column: "organs", as: String.self).split(separator: ",").map(String.init), recurrence: recurrence,
                firstDate: first, startTime: time, durationMinutes: Int(try row.decode(column: "duration_minutes", as: Int64.self)),
                place: try row.decode(column: "place", as: String?.self), videoLink: try row.decode(column: "video_link", as: String?.self),
                deadlineHours: Int(try row.decode(column: "deadline_hours", as: Int64.self)),
                maximumCases: try row.decode(column: "max_cases", as: Int64?.self).map(Int.init),
                quorum: QuorumRequirement(minimumSpecialties: Int(try row.decode(column: "quorum_minimum", as: Int64.self)),
                                          disciplinesStorageValue: try row.decode(column: "quorum_disciplines", as: String.self)),
                boardID: try row.decode(column: "board_id", as: String?.self),
                followUpDays: Int(try row.decode(column: "follow_up_days", as: Int64.self)),
                completeness: CompletenessRules(storageValue: try row.decode(column: "completeness", as: String.self))
            )
        }
    }

    // MARK: Meetings

    /// An ad hoc meeting, outside any series (or the legacy `create` of the access tests).
    public func create(
        id: UUID = UUID(), communityID: UUID, title: String, startsAt: Date, endsAt: Date, place: String? = nil, videoLink: String? = nil,
        deadlineHours: Int = 48, maximumCases: Int? = nil, quorum: QuorumRequirement = .standard, followUpDays: Int = FollowUpDelay.defaultDays,
        completeness: CompletenessRules = .none, audit: AuditDraft? = nil, at now: Date = Date()
    ) async throws {
        try await database.write { sql in
            try await sql.raw("""
                INSERT INTO meetings (id, community_id, title, starts_at, ends_at, created_at, status, place, video_link, deadline_hours, max_cases,
                                      quorum_minimum, quorum_disciplines, updated_at, follow_up_days, completeness)
                VALUES (\(bind: id.storageKey), \(bind: communityID.storageKey), \(bind: title), \(bind: Timestamp.epochSeconds(startsAt)),
                        \(bind: Timestamp.epochSeconds(endsAt)), \(bind: Timestamp.iso8601(now)), 'scheduled', \(bind: place), \(bind: videoLink),
                        \(bind: Int64(deadlineHours)), \(bind: maximumCases.map(Int64.init)), \(bind: Int64(quorum.minimumSpecialties)),
                        \(bind: quorum.disciplinesStorageValue), \(bind: Timestamp.iso8601(now)), \(bind: Int64(followUpDays)),
                        \(bind: completeness.storageValue))
                """).run()
            if let audit { try await AuditLog.append(audit, on: sql, database: database, at: now) }
        }
    }

    static let meetingColumns = """
        m.id, m.community_id, c.name AS community_name, m.series_id, m.title, m.starts_at, m.ends_at, m.status, m.place, m.video_link,
        m.deadline_hours, m.max_cases, m.quorum_minimum, m.quorum_disciplines, m.follow_up_days, m.completeness, m.chair_id, u.display_name AS chair_name,
        m.current_case_id, m.recorder_id, m.sequence, COALESCE(m.updated_at, m.created_at) AS updated_at,
        (SELECT COUNT(*) FROM cases r WHERE r.meeting_id = m.id AND r.status <> 'to_represent') AS registered
        """
    static let meetingJoins = "FROM meetings m JOIN communities c ON c.id = m.community_id LEFT JOIN users u ON u.id = m.chair_id"

    static func meeting(from row: any SQLRow) throws -> MeetingRecord? {
        guard let id = UUID(storageKey: try row.decode(column: "id", as: String.self)),
              let community = UUID(storageKey: try row.decode(column: "community_id", as: String.self)),
              let status = MeetingStatus(rawValue: try row.decode(column: "status", as: String.self)) else { return nil }
        return MeetingRecord(
            id: id, communityID: community, communityName: try row.decode(column: "community_name", as: String.self),
            seriesID: try row.decode(column: "series_id", as: String?.self).flatMap(UUID.init(storageKey:)),
            title: try row.decode(column: "title", as: String.self),
            startsAt: Timestamp.date(epochSeconds: try row.decode(column: "starts_at", as: Int64.self)),
            endsAt: Timestamp.date(epochSeconds: try row.decode(column: "ends_at", as: Int64.self)), status: status,
            place: try row.decode(column: "place", as: String?.self), videoLink: try row.decode(column: "video_link", as: String?.self),
            deadlineHours: Int(try row.decode(column: "deadline_hours", as: Int64.self)),
            maximumCases: try row.decode(column: "max_cases", as: Int64?.self).map(Int.init),
            quorum: QuorumRequirement(minimumSpecialties: Int(try row.decode(column: "quorum_minimum", as: Int64.self)),
                                      disciplinesStorageValue: try row.decode(column: "quorum_disciplines", as: String.self)),
            followUpDays: Int(try row.decode(column: "follow_up_days", as: Int64.self)),
            completenessStorage: try row.decode(column: "completeness", as: String.self),
            chairID: try row.decode(column: "chair_id", as: String?.self).flatMap(UUID.init(storageKey:)),
            chairName: try row.decode(column: "chair_name", as: String?.self),
            currentCaseID: try row.decode(column: "current_case_id", as: String?.self).flatMap(UUID.init(storageKey:)),
            recorderID: try row.decode(column: "recorder_id", as: String?.self).flatMap(UUID.init(storageKey:)),
            sequence: Int(try row.decode(column: "sequence", as: Int64.self)),
            registeredCases: Int(try row.decode(column: "registered", as: Int64.self)),
            updatedAt: Timestamp.date(iso8601: try row.decode(column: "updated_at", as: String.self)) ?? Date(timeIntervalSince1970: 0)
        )
    }

    public func find(id: UUID) async throws -> MeetingRecord? {
        try await database.read { sql in
            try await sql.raw("SELECT \(unsafeRaw: Self.meetingColumns) \(unsafeRaw: Self.meetingJoins) WHERE m.id = \(bind: id.storageKey)")
                .first().flatMap(Self.meeting(from:))
        }
    }

    /// The meeting with the user's role in its community, when an active member: the one
    /// statement every meeting page starts with.
    public func find(id: UUID, member userID: UUID) async throws -> (meeting: MeetingRecord, role: CommunityRole)? {
        try await database.read { sql in
            guard let row = try await sql.raw("""
                SELECT \(unsafeRaw: Self.meetingColumns), cmb.member_role AS my_role \(unsafeRaw: Self.meetingJoins)
                JOIN community_members cmb ON cmb.community_id = m.community_id AND cmb.user_id = \(bind: userID.storageKey) AND cmb.status = 'active'
                WHERE m.id = \(bind: id.storageKey)
                """).first(),
                let meeting = try Self.meeting(from: row),
                let role = CommunityRole(rawValue: try row.decode(column: "my_role", as: String.self)) else { return nil }
            return (meeting, role)
        }
    }

    /// Meetings of these communities starting in [from, to), by start.
    public func meetings(inCommunities communityIDs: [UUID], from: Date, to: Date, limit: Int = 200) async throws -> [MeetingRecord] {
        guard !communityIDs.isEmpty else { return [] }
        return try await database.read { sql in
            try await sql.raw("""
                SELECT \(unsafeRaw: Self.meetingColumns) \(unsafeRaw: Self.meetingJoins)
                WHERE m.community_id IN (\(binds: communityIDs.map(\.storageKey)))
                  AND m.starts_at >= \(bind: Timestamp.epochSeconds(from)) AND m.starts_at < \(bind: Timestamp.epochSeconds(to))
                ORDER BY m.starts_at LIMIT \(literal: Int64(limit))
                """).all().compactMap(Self.meeting(from:))
        }
    }

    /// Moves a meeting; calendar clients see the change through the raised sequence.
    public func move(id: UUID, startsAt: Date, endsAt: Date, place: String?, videoLink: String?, audit: AuditDraft, at now: Date = Date()) async throws -> Bool {
        return try await database.write { sql in
            let rows = try await sql.raw("""
                UPDATE meetings SET starts_at = \(bind: Timestamp.epochSeconds(startsAt)), ends_at = \(bind: Timestamp.epochSeconds(endsAt)),
                       place = \(bind: place), video_link = \(bind: videoLink), sequence = sequence + 1, updated_at = \(bind: Timestamp.iso8601(now))
                WHERE id = \(bind: id.storageKey) AND status = 'scheduled' RETURNING id
                """).all()
            guard !rows.isEmpty else { return false }
            try await AuditLog.append(audit, on: sql, database: database, at: now)
            return true
        }
    }

    /// Cancels a meeting and sends its registered cases back for re-registration, at once.
    /// Returns the number of cases flagged, or nil when the meeting was not scheduled.
    public func cancel(id: UUID, audit: AuditDraft, at now: Date = Date()) async throws -> Int? {
        return try await database.write { sql in
            let rows = try await sql.raw("""
                UPDATE meetings SET status = 'cancelled', sequence = sequence + 1, updated_at = \(bind: Timestamp.iso8601(now))
                WHERE id = \(bind: id.storageKey) AND status = 'scheduled' RETURNING id
                """).all()
            guard !rows.isEmpty else { return nil }
            let flagged = try await sql.raw("""
                UPDATE cases SET status = 'to_represent', revision = revision + 1, updated_at = \(bind: Timestamp.iso8601(now))
                WHERE meeting_id = \(bind: id.storageKey) AND status = 'registered' RETURNING id
                """).all()
            try await AuditLog.append(audit, on: sql, database: database, at: now)
            return flagged.count
        }
    }

    public func setChair(meetingID: UUID, userID: UUID?, audit: AuditDraft, at now: Date = Date()) async throws {
        try await database.write { sql in
            try await sql.raw("""
                UPDATE meetings SET chair_id = \(bind: userID?.storageKey), updated_at = \(bind: Timestamp.iso8601(now)) WHERE id = \(bind: meetingID.storageKey)
                """).run()
            try await AuditLog.append(audit, on: sql, database: database, at: now)
        }
    }

    public func addParticipant(userID: UUID, to meetingID: UUID) async throws {
        try await database.write { try await Self.addParticipant(userID: userID, meetingID: meetingID, on: $0) }
    }

    static func addParticipant(userID: UUID, meetingID: UUID, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            INSERT INTO meeting_participants (meeting_id, user_id) VALUES (\(bind: meetingID.storageKey), \(bind: userID.storageKey))
            ON CONFLICT (meeting_id, user_id) DO NOTHING
            """).run()
    }

    /// Puts the patient's case held by the meeting's community on its agenda (access tests).
    public func addToAgenda(patientID: UUID, meetingID: UUID, position: Int) async throws {
        try await database.write { sql in
            try await sql.raw("""
                INSERT INTO meeting_agenda (meeting_id, case_id, position)
                SELECT m.id, c.id, \(bind: Int64(position)) FROM meetings m JOIN cases c ON c.community_id = m.community_id
                WHERE m.id = \(bind: meetingID.storageKey) AND c.patient_id = \(bind: patientID.storageKey)
                """).run()
        }
    }

    // MARK: Agenda

    /// The cases registered on the meeting (and those discussed or decided there), in order.
    public func agenda(of meetingID: UUID) async throws -> [AgendaItem] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT c.id, c.patient_id, p.birth_name, p.used_name, p.first_name, p.used_first_name, p.birth_date, a.position, c.status,
                       c.tumour_site, u.display_name AS presenter
                FROM meeting_agenda a JOIN cases c ON c.id = a.case_id JOIN patients p ON p.id = c.patient_id
                LEFT JOIN users u ON u.id = c.created_by
                WHERE a.meeting_id = \(bind: meetingID.storageKey) AND c.meeting_id = a.meeting_id
                ORDER BY a.position, p.birth_name
                """).all().compactMap { row in
                guard let id = UUID(storageKey: try row.decode(column: "id", as: String.self)),
                      let patient = UUID(storageKey: try row.decode(column: "patient_id", as: String.self)),
                      let status = CaseStatus(rawValue: try row.decode(column: "status", as: String.self)),
                      let birthDate = CalendarDate(iso: try row.decode(column: "birth_date", as: String.self)) else { return nil }
                return AgendaItem(
                    caseID: id, patientID: patient,
                    patientName: PatientIdentity.displayName(
                        birthName: try row.decode(column: "birth_name", as: String.self), usedName: try row.decode(column: "used_name", as: String?.self),
                        firstName: try row.decode(column: "first_name", as: String.self), usedFirstName: try row.decode(column: "used_first_name", as: String?.self)),
                    birthDate: birthDate, position: Int(try row.decode(column: "position", as: Int64.self)), status: status,
                    tumourSiteCode: try row.decode(column: "tumour_site", as: String?.self), presenterName: try row.decode(column: "presenter", as: String?.self)
                )
            }
        }
    }

    /// Moves a case one place up (-1) or down (+1) by swapping positions with its neighbour.
    public func move(caseID: UUID, in meetingID: UUID, by offset: Int, audit: AuditDraft, at now: Date = Date()) async throws -> Bool {
        return try await database.write { sql in
            let rows = try await sql.raw("""
                SELECT a.case_id, a.position FROM meeting_agenda a JOIN cases c ON c.id = a.case_id AND c.meeting_id = a.meeting_id
                WHERE a.meeting_id = \(bind: meetingID.storageKey) ORDER BY a.position, a.case_id
                """).all()
            var order = try rows.map { try $0.decode(column: "case_id", as: String.self) }
            guard let index = order.firstIndex(of: caseID.storageKey), order.indices.contains(index + offset) else { return false }
            order.swapAt(index, index + offset)
            for (position, id) in order.enumerated() {
                try await sql.raw("""
                    UPDATE meeting_agenda SET position = \(bind: Int64(position + 1)) WHERE meeting_id = \(bind: meetingID.storageKey) AND case_id = \(bind: id)
                    """).run()
            }
            try await AuditLog.append(audit, on: sql, database: database, at: now)
            return true
        }
    }

    // MARK: Attendance

    public func attendance(of meetingID: UUID) async throws -> [AttendanceRow] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT a.id, a.user_id, a.guest_name, u.display_name, a.specialty_code, a.status
                FROM meeting_attendance a LEFT JOIN users u ON u.id = a.user_id
                WHERE a.meeting_id = \(bind: meetingID.storageKey) ORDER BY COALESCE(u.display_name, a.guest_name)
                """).all().compactMap { row in
                guard let id = UUID(storageKey: try row.decode(column: "id", as: String.self)),
                      let status = AttendanceStatus(rawValue: try row.decode(column: "status", as: String.self)) else { return nil }
                let user = try row.decode(column: "user_id", as: String?.self).flatMap(UUID.init(storageKey:))
                return AttendanceRow(
                    id: id, userID: user,
                    name: try row.decode(column: "display_name", as: String?.self) ?? row.decode(column: "guest_name", as: String?.self) ?? "",
                    isGuest: user == nil, specialtyCode: try row.decode(column: "specialty_code", as: String?.self), status: status
                )
            }
        }
    }

    /// Records a member's attendance (replacing an earlier mark) or a guest's. A member marked
    /// present joins the meeting's participants, and so the care scope of its agenda; marked
    /// absent or excused afterwards, they leave it again.
    public func recordAttendance(
        meetingID: UUID, member userID: UUID?, guestName: String?, specialtyCode: String?, status: AttendanceStatus,
        by recorder: UUID, audit: AuditDraft, at now: Date = Date()
    ) async throws {
        let database = database
        let event = try await database.write { sql in
            if let userID {
                try await sql.raw("""
                    INSERT INTO meeting_attendance (id, meeting_id, user_id, guest_name, specialty_code, status, recorded_by, recorded_at)
                    VALUES (\(bind: UUID().storageKey), \(bind: meetingID.storageKey), \(bind: userID.storageKey), NULL, \(bind: specialtyCode),
                            \(bind: status.rawValue), \(bind: recorder.storageKey), \(bind: Timestamp.iso8601(now)))
                    ON CONFLICT (meeting_id, user_id) DO UPDATE SET specialty_code = \(bind: specialtyCode), status = \(bind: status.rawValue),
                        recorded_by = \(bind: recorder.storageKey), recorded_at = \(bind: Timestamp.iso8601(now))
                    """).run()
                if status == .present {
                    try await Self.addParticipant(userID: userID, meetingID: meetingID, on: sql)
                } else {
                    try await sql.raw("""
                        DELETE FROM meeting_participants WHERE meeting_id = \(bind: meetingID.storageKey) AND user_id = \(bind: userID.storageKey)
                        """).run()
                }
            } else {
                try await sql.raw("""
                    INSERT INTO meeting_attendance (id, meeting_id, user_id, guest_name, specialty_code, status, recorded_by, recorded_at)
                    VALUES (\(bind: UUID().storageKey), \(bind: meetingID.storageKey), NULL, \(bind: guestName), \(bind: specialtyCode),
                            \(bind: status.rawValue), \(bind: recorder.storageKey), \(bind: Timestamp.iso8601(now)))
                    """).run()
            }
            try await AuditLog.append(audit, on: sql, database: database, at: now)
            // The séance's banner (attendance, quorum) follows on every follower's page.
            return try await MeetingEventStore.append(.attendance, meetingID: meetingID, caseID: nil, actor: recorder, on: sql, database: database, at: now)
        }
        MeetingEventStore.announce(event, on: database)
    }

    // MARK: Calendar feeds

    /// A new secret feed token for the user (shown once; only its hash is kept).
    public func createCalendarFeed(userID: UUID, at now: Date = Date()) async throws -> String {
        let token = SecretToken.generate()
        try await database.write { sql in
            try await sql.raw("""
                INSERT INTO calendar_feeds (token_hash, user_id, created_at) VALUES (\(bind: SecretToken.hash(token)), \(bind: userID.storageKey), \(bind: Timestamp.iso8601(now)))
                """).run()
        }
        return token
    }

    public func revokeCalendarFeeds(userID: UUID, at now: Date = Date()) async throws {
        try await database.write { sql in
            try await sql.raw("""
                UPDATE calendar_feeds SET revoked_at = \(bind: Timestamp.iso8601(now)) WHERE user_id = \(bind: userID.storageKey) AND revoked_at IS NULL
                """).run()
        }
    }

    public func hasCalendarFeed(userID: UUID) async throws -> Bool {
        try await database.read { sql in
            try await sql.raw("SELECT 1 AS one FROM calendar_feeds WHERE user_id = \(bind: userID.storageKey) AND revoked_at IS NULL").first() != nil
        }
    }

    /// The user a live feed token belongs to.
    public func calendarFeedOwner(token: String) async throws -> UUID? {
        try await database.read { sql in
            try await sql.raw("""
                SELECT user_id FROM calendar_feeds WHERE token_hash = \(bind: SecretToken.hash(token)) AND revoked_at IS NULL
                """).first().flatMap { UUID(storageKey: try $0.decode(column: "user_id", as: String.self)) }
        }
    }
}

/// Unguessable URL tokens (calendar feeds): 32 random bytes, base64url; stored as SHA-256.
enum SecretToken {
    static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func hash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).withUnsafeBytes { $0.hexString }
    }
}
