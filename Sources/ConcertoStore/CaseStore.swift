import ConcertoCore
import Foundation
import SQLKit

/// A fiche RCP with what its pages show around it.
public struct CaseRecord: Sendable, Equatable, Identifiable {
    public var id: UUID
    public var patientID: UUID
    public var communityID: UUID
    public var communityName: String
    public var status: CaseStatus
    public var revision: Int
    public var edition: Int
    public var content: CaseContent
    public var decision: CaseDecision?
    public var meetingID: UUID?
    public var previousCaseID: UUID?
    public var createdByID: UUID?
    public var createdByName: String?
    public var createdAt: Date
    public var decidedAt: Date?
    public var validatedAt: Date?
    public var validatedByID: UUID?
    public var validatedByName: String?
    public var updatedAt: Date?
    public var updatedByName: String?
}

/// A validated edition replaced by an amendment.
public struct CaseEdition: Sendable, Equatable {
    public var edition: Int
    public var content: CaseContent
    public var decision: CaseDecision?
    public var validatedAt: Date?
    public var validatedByName: String?
    public var supersededAt: Date
    public var supersededByName: String?
}

/// One line of a case list (dashboard, search): administrative and scheduling data only.
public struct CaseListItem: Sendable, Equatable {
    public var id: UUID
    public var patientID: UUID
    public var patientName: String
    public var birthDate: String
    public var communityID: UUID
    public var communityName: String
    public var status: CaseStatus
    public var tumourSiteCode: String?
    public var meetingID: UUID?
    public var meetingTitle: String?
    public var meetingStartsAt: Date?
    public var createdAt: Date
}

/// What the search page asks for. `communityIDs` are the user's active communities;
/// full-text terms only match in `fullTextCommunityIDs` (where the user may read clinical
/// content), so a search never reveals what a fiche says to someone who may not read it.
public struct CaseSearch: Sendable, Equatable {
    public var communityIDs: [UUID]
    public var fullTextCommunityIDs: [UUID]
    public var organisationID: UUID?
    public var text: String?
    public var status: CaseStatus?
    public var tumourSite: String?
    public var meetingID: UUID?
    public var from: Date?
    public var to: Date?
    public var limit: Int
    public var offset: Int

    public init(communityIDs: [UUID], fullTextCommunityIDs: [UUID] = [], organisationID: UUID? = nil, text: String? = nil, status: CaseStatus? = nil,
                tumourSite: String? = nil, meetingID: UUID? = nil, from: Date? = nil, to: Date? = nil, limit: Int = 20, offset: Int = 0) {
        self.communityIDs = communityIDs; self.fullTextCommunityIDs = fullTextCommunityIDs; self.organisationID = organisationID
        self.text = text; self.status = status; self.tumourSite = tumourSite; self.meetingID = meetingID; self.from = from; self.to = to
        self.limit = max(1, min(limit, 100)); self.offset = max(0, min(offset, 10_000))
    }
}

/// Text folded for search on both engines: lower case, no diacritics, words only.
public enum SearchText {
    public static func fold(_ text: String) -> String {
        text.folding(options: [.caseInsensitive, .diacriticInsensitive], locale: Locale(identifier: "fr_FR"))
    }

    public static func words(_ text: String) -> [String] {
        fold(text).split { !($0.isLetter || $0.isNumber) }.map(String.init).filter { !$0.isEmpty }.prefix(8).map { $0 }
    }

    static func document(_ content: CaseContent) -> String {
        words([content.summary, content.question].compactMap { $0 }.joined(separator: " ")).joined(separator: " ")
    }
}

/// Fiches RCP: content, workflow transitions, editions, lists and search.
public struct CaseStore: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    static func json<T: Encodable>(_ value: T) throws -> String { String(decoding: try encoder.encode(value), as: UTF8.self) }
    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T { try JSONDecoder().decode(type, from: Data(text.utf8)) }

    /// A new draft, optionally pre-filled from an earlier case of the patient (re-presentation).
    public func create(patientID: UUID, communityID: UUID, by userID: UUID, content: CaseContent = CaseContent(), previousCaseID: UUID? = nil,
                       id: UUID = UUID(), audit: AuditDraft, at now: Date = Date()) async throws -> UUID {
        return try await database.write { sql in
            try await sql.raw("""
                INSERT INTO cases (id, community_id, patient_id, status, created_by, created_at, content, tumour_site, search_text, previous_case_id, updated_at, updated_by,
                                   content_facts)
                VALUES (\(bind: id.storageKey), \(bind: communityID.storageKey), \(bind: patientID.storageKey), 'draft', \(bind: userID.storageKey),
                        \(bind: Timestamp.iso8601(now)), \(bind: try Self.json(content)), \(bind: content.tumourSiteCode), \(bind: SearchText.document(content)),
                        \(bind: previousCaseID?.storageKey), \(bind: Timestamp.iso8601(now)), \(bind: userID.storageKey),
                        \(bind: ContentFact.storageValue(ContentFact.of(content))))
                """).run()
            var audit = audit
            audit.resourceID = id.storageKey
            try await AuditLog.append(audit, on: sql, database: database, at: now)
            return id
        }
    }

    static let columns = """
        c.id, c.patient_id, c.community_id, cm.name AS community_name, c.status, c.revision, c.edition, c.content, c.decision, c.meeting_id,
        c.previous_case_id, c.created_by, cu.display_name AS created_by_name, c.created_at, c.decided_at, c.validated_at,
        c.validated_by, vu.display_name AS validated_by_name, c.updated_at, uu.display_name AS updated_by_name
        """
    static let joins = """
        FROM cases c JOIN communities cm ON cm.id = c.community_id LEFT JOIN users cu ON cu.id = c.created_by
        LEFT JOIN users vu ON vu.id = c.validated_by LEFT JOIN users uu ON uu.id = c.updated_by
        """

    static func date(_ text: String?) -> Date? { text.flatMap { Timestamp.date(iso8601: $0) } }

    static func record(from row: any SQLRow) throws -> CaseRecord? {
        guard let id = UUID(storageKey: try row.decode(column: "id", as: String.self)),
              let patient = UUID(storageKey: try row.decode(column: "patient_id", as: String.self)),
              let community = UUID(storageKey: try row.decode(column: "community_id", as: String.self)),
              let status = CaseStatus(rawValue: try row.decode(column: "status", as: String.self)) else { return nil }
        return CaseRecord(
            id: id, patientID: patient, communityID: community, communityName: try row.decode(column: "community_name", as: String.self),
            status: status, revision: Int(try row.decode(column: "revision", as: Int64.self)), edition: Int(try row.decode(column: "edition", as: Int64.self)),
            content: try decode(CaseContent.self, try row.decode(column: "content", as: String.self)),
            decision: try row.decode(column: "decision", as: String?.self).map { try decode(CaseDecision.self, $0) },
            meetingID: try row.decode(column: "meeting_id", as: String?.self).flatMap(UUID.init(storageKey:)),
            previousCaseID: try row.decode(column: "previous_case_id", as: String?.self).flatMap(UUID.init(storageKey:)),
            createdByID: try row.decode(column: "created_by", as: String?.self).flatMap(UUID.init(storageKey:)),
            createdByName: try row.decode(column: "created_by_name", as: String?.self),
            createdAt: date(try row.decode(column: "created_at", as: String.self)) ?? Date(timeIntervalSince1970: 0),
            decidedAt: date(try row.decode(column: "decided_at", as: String?.self)),
            validatedAt: date(try row.decode(column: "validated_at", as: String?.self)),
            validatedByID: try row.decode(column: "validated_by", as: String?.self).flatMap(UUID.init(storageKey:)),
            validatedByName: try row.decode(column: "validated_by_name", as: String?.self),
            updatedAt: date(try row.decode(column: "updated_at", as: String?.self)),
            updatedByName: try row.decode(column: "updated_by_name", as: String?.self)
        )
    }

    public func find(id: UUID) async throws -> CaseRecord? {
        try await database.read { sql in
            try await sql.raw("SELECT \(unsafeRaw: Self.columns) \(unsafeRaw: Self.joins) WHERE c.id = \(bind: id.storageKey)").first().flatMap(Self.record(from:))
        }
    }

    /// The patient's earlier validated fiches in the community, newest first: what the board
    /// decided before (the séance shows them beside the case under discussion).
    public func previousDecisions(patientID: UUID, communityID: UUID, excluding caseID: UUID, limit: Int = 10) async throws -> [CaseRecord] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT \(unsafeRaw: Self.columns) \(unsafeRaw: Self.joins)
                WHERE c.patient_id = \(bind: patientID.storageKey) AND c.community_id = \(bind: communityID.storageKey)
                  AND c.id <> \(bind: caseID.storageKey) AND c.status = 'validated'
                ORDER BY c.validated_at DESC LIMIT \(bind: Int64(limit))
                """).all().compactMap(Self.record(from:))
        }
    }

    /// Saves the content if nobody saved since `revision` was read; a validated fiche keeps
    /// its current edition in `case_editions` and becomes the next edition.
    public func save(id: UUID, revision: Int, content: CaseContent, newEdition: Bool, by userID: UUID, audit: AuditDraft, at now: Date = Date()) async throws {
        try await database.write { sql in
            if newEdition {
                let copied = try await sql.raw("""
                    INSERT INTO case_editions (case_id, edition, content, decision, validated_at, validated_by, superseded_at, superseded_by)
                    SELECT id, edition, content, decision, validated_at, validated_by, \(bind: Timestamp.iso8601(now)), \(bind: userID.storageKey)
                    FROM cases WHERE id = \(bind: id.storageKey) AND revision = \(bind: Int64(revision)) AND status = 'validated'
                    RETURNING case_id
                    """).all()
                guard !copied.isEmpty else { throw StoreError.staleRevision }
            }
            let updated = try await sql.raw("""
                UPDATE cases SET content = \(bind: try Self.json(content)), tumour_site = \(bind: content.tumourSiteCode),
                       search_text = \(bind: SearchText.document(content)), content_facts = \(bind: ContentFact.storageValue(ContentFact.of(content))),
                       revision = revision + 1,
                       edition = edition + \(bind: Int64(newEdition ? 1 : 0)), updated_at = \(bind: Timestamp.iso8601(now)), updated_by = \(bind: userID.storageKey)
                WHERE id = \(bind: id.storageKey) AND revision = \(bind: Int64(revision))
                  AND \(unsafeRaw: newEdition ? "status = 'validated'" : "status <> 'validated'")
                RETURNING id
                """).all()
            guard !updated.isEmpty else { throw StoreError.staleRevision }
            try await AuditLog.append(audit, on: sql, database: database, at: now)
        }
    }

    /// Puts the case on the meeting's agenda, last. `attested`: the board's own completeness
    /// items the presenter attested; `override`: a coordinator's reason for registering a
    /// file that lacks a required item (both replace those of an earlier registration).
    public func register(id: UUID, meetingID: UUID, from statuses: [CaseStatus], by userID: UUID, attested: [String] = [], override: String? = nil,
                         audit: AuditDraft, at now: Date = Date()) async throws {
        // Days from registration to the meeting: the 3C's first delay.
        let lead = try await meetingDay(meetingID).map { ParisCalendar.days(from: ParisCalendar.date(of: now), to: $0) }
        let set: SQLQueryString = """
            meeting_id = \(bind: meetingID.storageKey), completeness_attested = \(bind: try Self.json(attested)),
            completeness_override = \(bind: override), completeness_override_by = \(bind: override == nil ? nil : userID.storageKey),
            registration_lead_days = \(bind: lead.map(Int64.init))
            """
        try await transition(id: id, from: statuses, to: .registered, by: userID, set: set, audit: audit, at: now) { sql in
            try await sql.raw("""
                INSERT INTO meeting_agenda (meeting_id, case_id, position)
                VALUES (\(bind: meetingID.storageKey), \(bind: id.storageKey),
                        (SELECT COALESCE(MAX(position), 0) + 1 FROM meeting_agenda WHERE meeting_id = \(bind: meetingID.storageKey)))
                ON CONFLICT (meeting_id, case_id) DO UPDATE SET position = excluded.position
                """).run()
        }
    }

    /// Takes a registered case off its meeting.
    public func withdraw(id: UUID, meetingID: UUID, by userID: UUID, audit: AuditDraft, at now: Date = Date()) async throws {
        try await transition(id: id, from: [.registered], to: .draft, by: userID, set: "meeting_id = NULL", audit: audit, at: now) { sql in
            try await sql.raw("DELETE FROM meeting_agenda WHERE meeting_id = \(bind: meetingID.storageKey) AND case_id = \(bind: id.storageKey)").run()
        }
    }

    /// The Paris day of a meeting.
    func meetingDay(_ meetingID: UUID) async throws -> CalendarDate? {
        try await meetingDay("SELECT starts_at FROM meetings WHERE id = \(bind: meetingID.storageKey)")
    }

    /// The Paris day of the meeting a case is on.
    func meetingDay(ofCase caseID: UUID) async throws -> CalendarDate? {
        try await meetingDay("SELECT m.starts_at FROM cases c JOIN meetings m ON m.id = c.meeting_id WHERE c.id = \(bind: caseID.storageKey)")
    }

    private func meetingDay(_ query: SQLQueryString) async throws -> CalendarDate? {
        try await database.read { sql in
            try await sql.raw(query).first()
                .map { ParisCalendar.date(of: Timestamp.date(epochSeconds: try $0.decode(column: "starts_at", as: Int64.self))) }
        }
    }

    /// `completeAtDiscussion`: whether the file held all its board asks for at this moment.
    /// The columns the 3C's indicators read are written with the decision: the meeting's day,
    /// the author's organisation, quorum and trial, whether the patient is new to the board.
    public func recordDecision(id: UUID, decision: CaseDecision, completeAtDiscussion: Bool? = nil, by userID: UUID, audit: AuditDraft,
                               at now: Date = Date()) async throws {
        let day = try await meetingDay(ofCase: id)
        try await transition(id: id, from: [.registered, .discussed], to: .discussed, by: userID, set: """
            decision = \(bind: try Self.json(decision)), decided_at = \(bind: Timestamp.iso8601(now)), decided_by = \(bind: userID.storageKey),
            complete_at_discussion = \(bind: completeAtDiscussion.map { Int64($0 ? 1 : 0) }),
            discussed_on = \(bind: (day ?? ParisCalendar.date(of: now)).iso),
            organisation_id = (SELECT u.organisation_id FROM users u WHERE u.id = cases.created_by),
            quorum_met = \(bind: Int64(decision.quorumMet ? 1 : 0)), trial_proposed = \(bind: Int64(decision.trialProposed ? 1 : 0)),
            first_presentation = CASE WHEN EXISTS (SELECT 1 FROM cases e WHERE e.patient_id = cases.patient_id AND e.community_id = cases.community_id
                                                   AND e.discussed_on IS NOT NULL AND e.id <> cases.id) THEN 0 ELSE 1 END
            """, audit: audit, at: now, announcesDecision: true)
    }

    /// `followUpDays`: the meeting's delay before the decision, still without follow-up, is
    /// listed as overdue (`DecisionFollowUpStore.overdue`).
    public func validate(id: UUID, by userID: UUID, followUpDays: Int = FollowUpDelay.defaultDays, audit: AuditDraft, at now: Date = Date()) async throws {
        let due = FollowUpDelay.due(validatedAt: now, days: followUpDays)
        let discussedOn = try await database.read { sql in
            try await sql.raw("SELECT discussed_on FROM cases WHERE id = \(bind: id.storageKey)").first()?.decode(column: "discussed_on", as: String?.self)
        }
        let delay = discussedOn.flatMap(CalendarDate.init(iso:)).map { ParisCalendar.days(from: $0, to: ParisCalendar.date(of: now)) }
        try await transition(id: id, from: [.discussed], to: .validated, by: userID, set: """
            validated_at = \(bind: Timestamp.iso8601(now)), validated_by = \(bind: userID.storageKey),
            validation_delay_days = \(bind: delay.map(Int64.init)),
            follow_up_due_at = CASE WHEN follow_up_outcome IS NOT NULL THEN NULL ELSE \(bind: Timestamp.iso8601(due)) END
            """, audit: audit, at: now, announcesDecision: true)
    }

    public func sendBack(id: UUID, by userID: UUID, audit: AuditDraft, at now: Date = Date()) async throws {
        try await transition(id: id, from: [.registered, .discussed], to: .toRepresent, by: userID, set: "decision = decision", audit: audit, at: now, announcesDecision: true)
    }

    /// One status change, only from the statuses the workflow allowed when the page was
    /// built; a concurrent change makes it fail with nothing written.
    private func transition(
        id: UUID, from statuses: [CaseStatus], to status: CaseStatus, by userID: UUID, set extra: SQLQueryString, audit: AuditDraft, at now: Date,
        announcesDecision: Bool = false, then: (@Sendable (any SQLDatabase) async throws -> Void)? = nil
    ) async throws {
        let database = database
        let event = try await database.write { sql -> MeetingEvent? in
            let rows = try await sql.raw("""
                UPDATE cases SET status = \(bind: status.rawValue), \(extra), revision = revision + 1,
                       updated_at = \(bind: Timestamp.iso8601(now)), updated_by = \(bind: userID.storageKey)
                WHERE id = \(bind: id.storageKey) AND status IN (\(binds: statuses.map(\.rawValue))) RETURNING id, meeting_id
                """).all()
            guard let row = rows.first else { throw StoreError.statusChanged }
            try await then?(sql)
            try await AuditLog.append(audit, on: sql, database: database, at: now)
            // The séance's followers see the decision's new state (recorded, validated, sent back).
            guard announcesDecision, let meetingID = try row.decode(column: "meeting_id", as: String?.self).flatMap(UUID.init(storageKey:)) else { return nil }
            return try await MeetingEventStore.append(.decision, meetingID: meetingID, caseID: id, actor: userID, on: sql, database: database, at: now)
        }
        MeetingEventStore.announce(event, on: database)
    }

    public func editions(of caseID: UUID) async throws -> [CaseEdition] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT e.edition, e.content, e.decision, e.validated_at, v.display_name AS validated_by_name, e.superseded_at,
                       s.display_name AS superseded_by_name
                FROM case_editions e LEFT JOIN users v ON v.id = e.validated_by LEFT JOIN users s ON s.id = e.superseded_by
                WHERE e.case_id = \(bind: caseID.storageKey) ORDER BY e.edition DESC
                """).all().map { row in
                CaseEdition(
                    edition: Int(try row.decode(column: "edition", as: Int64.self)),
                    content: try Self.decode(CaseContent.self, try row.decode(column: "content", as: String.self)),
                    decision: try row.decode(column: "decision", as: String?.self).map { try Self.decode(CaseDecision.self, $0) },
                    validatedAt: Self.date(try row.decode(column: "validated_at", as: String?.self)),
                    validatedByName: try row.decode(column: "validated_by_name", as: String?.self),
                    supersededAt: Self.date(try row.decode(column: "superseded_at", as: String.self)) ?? Date(timeIntervalSince1970: 0),
                    supersededByName: try row.decode(column: "superseded_by_name", as: String?.self)
                )
            }
        }
    }

    // MARK: Lists and search

    static let listColumns = """
        c.id, c.patient_id, p.birth_name, p.used_name, p.first_name, p.used_first_name, p.birth_date, c.community_id, cm.name AS community_name,
        c.status, c.tumour_site, c.meeting_id, m.title AS meeting_title, m.starts_at AS meeting_starts_at, c.created_at
        """
    static let listJoins = """
        JOIN patients p ON p.id = c.patient_id JOIN communities cm ON cm.id = c.community_id LEFT JOIN meetings m ON m.id = c.meeting_id
        """

    static func listItem(from row: any SQLRow) throws -> CaseListItem? {
        guard let id = UUID(storageKey: try row.decode(column: "id", as: String.self)),
              let patient = UUID(storageKey: try row.decode(column: "patient_id", as: String.self)),
              let community = UUID(storageKey: try row.decode(column: "community_id", as: String.self)),
              let status = CaseStatus(rawValue: try row.decode(column: "status", as: String.self)) else { return nil }
        return CaseListItem(
            id: id, patientID: patient,
            patientName: PatientIdentity.displayName(
                birthName: try row.decode(column: "birth_name", as: String.self), usedName: try row.decode(column: "used_name", as: String?.self),
                firstName: try row.decode(column: "first_name", as: String.self), usedFirstName: try row.decode(column: "used_first_name", as: String?.self)),
            birthDate: try row.decode(column: "birth_date", as: String.self), communityID: community,
            communityName: try row.decode(column: "community_name", as: String.self),
            status: status, tumourSiteCode: try row.decode(column: "tumour_site", as: String?.self),
            meetingID: try row.decode(column: "meeting_id", as: String?.self).flatMap(UUID.init(storageKey:)),
            meetingTitle: try row.decode(column: "meeting_title", as: String?.self),
            meetingStartsAt: try row.decode(column: "meeting_starts_at", as: Int64?.self).map(Timestamp.date(epochSeconds:)),
            createdAt: date(try row.decode(column: "created_at", as: String.self)) ?? Date(timeIntervalSince1970: 0)
        )
    }

    /// The cases a physician created, most recent first.
    public func cases(createdBy userID: UUID, inCommunities communityIDs: [UUID], limit: Int = 50) async throws -> [CaseListItem] {
        guard !communityIDs.isEmpty else { return [] }
        return try await database.read { sql in
            try await sql.raw("""
                SELECT \(unsafeRaw: Self.listColumns) FROM cases c \(unsafeRaw: Self.listJoins)
                WHERE c.created_by = \(bind: userID.storageKey) AND c.community_id IN (\(binds: communityIDs.map(\.storageKey)))
                ORDER BY c.created_at DESC LIMIT \(literal: Int64(limit))
                """).all().compactMap(Self.listItem(from:))
        }
    }

    /// Cases in these statuses in the communities (coordinator's queue), oldest meeting first.
    public func cases(withStatus statuses: [CaseStatus], inCommunities communityIDs: [UUID], limit: Int = 50) async throws -> [CaseListItem] {
        guard !communityIDs.isEmpty else { return [] }
        return try await database.read { sql in
            try await sql.raw("""
                SELECT \(unsafeRaw: Self.listColumns) FROM cases c \(unsafeRaw: Self.listJoins)
                WHERE c.status IN (\(binds: statuses.map(\.rawValue))) AND c.community_id IN (\(binds: communityIDs.map(\.storageKey)))
                ORDER BY m.starts_at, c.created_at LIMIT \(literal: Int64(limit))
                """).all().compactMap(Self.listItem(from:))
        }
    }

    /// One page of matching cases and whether there is a next page. The text matches a
    /// patient's INS or IPP, a name prefix, or every word of the fiche's summary and question
    /// (full-text index); the other fields filter. Without text, newest first.
    public func search(_ search: CaseSearch) async throws -> (items: [CaseListItem], hasMore: Bool) {
        guard !search.communityIDs.isEmpty else { return ([], false) }
        let engine = database.engine
        let window = search.offset + search.limit + 1
        var filters: SQLQueryString = "c.community_id IN (\(binds: search.communityIDs.map(\.storageKey)))"
        if let status = search.status { filters = filters + " AND c.status = \(bind: status.rawValue)" }
        if let site = search.tumourSite {
            // A category (C34) stands for its subdivisions (C34.0 ... C34.9): an IN list the site index serves.
            let codes = Terminology.tumourSites.concepts.map(\.code).filter { $0 == site || $0.hasPrefix(site + ".") }
            filters = filters + " AND c.tumour_site IN (\(binds: codes.isEmpty ? [site] : codes))"
        }
        if let meeting = search.meetingID { filters = filters + " AND c.meeting_id = \(bind: meeting.storageKey)" }
        if let from = search.from { filters = filters + " AND c.created_at >= \(bind: Timestamp.iso8601(from))" }
        if let to = search.to { filters = filters + " AND c.created_at < \(bind: Timestamp.iso8601(to))" }
        // Patients opposed to this community or to the user's organisation stay out of lists.
        let exclusions: SQLQueryString = """
             AND NOT EXISTS (SELECT 1 FROM oppositions o WHERE o.patient_id = c.patient_id AND o.withdrawn_at IS NULL
                             AND (o.community_id = c.community_id OR o.organisation_id = \(bind: search.organisationID?.storageKey ?? "")))
            """
        let probed = filters
        filters = filters + exclusions

        // Identifier matches first, then patients by name (alphabetical, each one's newest
        // fiche first), then full-text matches (newest first): each list comes from an index
        // walk that stops after one page, whatever the number of matches.
        var ordered: [String] = []
        if let text = search.text?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty {
            let compact = text.replacingOccurrences(of: " ", with: "").uppercased()
            if compact.count == 15, INS.validate(compact).isSuccess {
                ordered += try await cases(ofPatients: "SELECT id FROM patients WHERE ins_matricule = \(bind: compact)", probed, filters, window: window)
            } else {
                ordered += try await cases(ofPatients: "SELECT patient_id AS id FROM patient_local_ids WHERE ipp = \(bind: text)", probed, filters, window: window)
                ordered += try await byName(SearchText.fold(text).uppercased(), filters, window: window)
                let words = SearchText.words(text)
                if !words.isEmpty, !search.fullTextCommunityIDs.isEmpty {
                    let clinical: SQLQueryString = "c.community_id IN (\(binds: search.fullTextCommunityIDs.map(\.storageKey)))"
                    switch engine {
                    case .sqlite:
                        // The index hands matches by rowid, the order fiches were created in; CROSS
                        // JOIN keeps it as the outer loop whatever the other filters.
                        let query: SQLQueryString = """
                            SELECT c.id FROM cases_fts f CROSS JOIN cases c ON c.search_rowid = f.rowid
                            WHERE cases_fts MATCH \(bind: words.map { "\"\($0)\"" }.joined(separator: " ")) AND \(clinical) AND \(filters)
                            ORDER BY f.rowid DESC LIMIT \(literal: Int64(window))
                            """
                        ordered += try await database.read { sql in try await sql.raw(query).all().map { try $0.decode(column: "id", as: String.self) } }
                    case .postgres:
                        // A common word is found among the newest cases; a rare one through the GIN
                        // index, sorted (the planner alone walks the dates for both, slow for the rare).
                        let match: SQLQueryString = "c.search_vector @@ plainto_tsquery('simple', \(bind: words.joined(separator: " "))) AND \(clinical)"
                        ordered += try await newest(where: match, probed, filters, window: window, recentFirst: true)
                    }
                }
            }
        } else {
            ordered += try await newest(where: "1 = 1", probed, filters, window: window)
        }
        var seen = Set<String>()
        let page = ordered.filter { seen.insert($0).inserted }.dropFirst(search.offset).prefix(search.limit + 1)
        guard !page.isEmpty else { return ([], false) }
        let query: SQLQueryString = """
            SELECT \(unsafeRaw: Self.listColumns) FROM cases c \(unsafeRaw: Self.listJoins) WHERE c.id IN (\(binds: Array(page)))
            """
        let rows = try await database.read { sql in try await sql.raw(query).all().compactMap(Self.listItem(from:)) }
        let position = Dictionary(uniqueKeysWithValues: page.enumerated().map { ($0.element, $0.offset) })
        let sorted = rows.sorted { (position[$0.id.storageKey] ?? 0) < (position[$1.id.storageKey] ?? 0) }
        return (Array(sorted.prefix(search.limit)), sorted.count > search.limit)
    }

    /// Cases of the (few) patients an identifier names. The ids are read first so the planner
    /// reaches the cases by patient rather than by a status or site index.
    private func cases(ofPatients patients: SQLQueryString, _ probe: SQLQueryString, _ filters: SQLQueryString, window: Int) async throws -> [String] {
        let ids = try await database.read { sql in try await sql.raw(patients).all().map { try $0.decode(column: "id", as: String.self) } }
        guard !ids.isEmpty else { return [] }
        return try await newest(where: "c.patient_id IN (\(binds: ids))", probe, filters, window: window)
    }

    /// Cases of the patients whose birth or used name starts with `prefix`, by name then
    /// newest fiche: both name indexes walked in order, merged here.
    private func byName(_ prefix: String, _ filters: SQLQueryString, window: Int) async throws -> [String] {
        let upper = prefix + "\u{10FFFF}"
        var rows: [(name: String, patient: String, created: String, id: String)] = []
        // SQLite: CROSS JOIN keeps the name index as the outer loop, never a status or site index.
        let join = database.engine == .sqlite ? "CROSS JOIN" : "JOIN"
        for column in ["birth_name", "used_name"] {
            let query: SQLQueryString = """
                SELECT c.id, c.created_at, p.id AS patient, p.\(unsafeRaw: column) AS name FROM patients p \(unsafeRaw: join) cases c ON c.patient_id = p.id
                WHERE p.\(unsafeRaw: column) >= \(bind: prefix) AND p.\(unsafeRaw: column) < \(bind: upper) AND \(filters)
                ORDER BY p.\(unsafeRaw: column), p.id, c.created_at DESC LIMIT \(literal: Int64(window))
                """
            rows += try await database.read { sql in
                try await sql.raw(query).all().map {
                    (try $0.decode(column: "name", as: String.self), try $0.decode(column: "patient", as: String.self),
                     try $0.decode(column: "created_at", as: String.self), try $0.decode(column: "id", as: String.self))
                }
            }
        }
        return rows.sorted { ($0.name, $0.patient, $1.created) < ($1.name, $1.patient, $0.created) }.map(\.id)
    }

    /// Bound on the matches sorted in memory; beyond it, walking cases by date finds a page
    /// fast. Near sqrt(21 × 1,000,000): sorting that many rows costs about what walking
    /// 21 × N / limit rows does.
    static let probeLimit = 5_000

    /// The ids of the `window` newest cases matching. One plan does not fit every query:
    /// a bounded count (no ORDER BY, so the planner takes its most selective index) tells
    /// whether the matches are few, then sorted whole, or many, and then dense enough that
    /// walking the date index meets a page within a few thousand rows.
    /// `recentFirst`: first the newest cases alone, which hold a page when matches are common
    /// (PostgreSQL's full text, whose count through GIN costs as much as a sort). The count
    /// leaves out the opposition check (`probe` vs `filters`): it only chooses the plan.
    private func newest(where condition: SQLQueryString, _ probe: SQLQueryString, _ filters: SQLQueryString, window: Int,
                        recentFirst: Bool = false) async throws -> [String] {
        if recentFirst {
            // Common matches: a page is among the newest cases, found by walking them alone.
            let columns = database.engine == .sqlite
                ? "id, created_at, community_id, patient_id, status, tumour_site, meeting_id, search_rowid"
                : "id, created_at, community_id, patient_id, status, tumour_site, meeting_id, search_vector"
            let recent: SQLQueryString = """
                SELECT c.id FROM (SELECT \(unsafeRaw: columns) FROM cases ORDER BY created_at DESC LIMIT \(literal: Int64(Self.probeLimit))) c
                WHERE \(condition) AND \(filters) ORDER BY c.created_at DESC LIMIT \(literal: Int64(window))
                """
            let found = try await database.read { sql in try await sql.raw(recent).all().map { try $0.decode(column: "id", as: String.self) } }
            if found.count == window { return found }
        }
        let count: SQLQueryString = """
            SELECT COUNT(*) AS n FROM (SELECT 1 FROM cases c WHERE \(condition) AND \(probe) LIMIT \(literal: Int64(Self.probeLimit + 1))) probe
            """
        let matches = try await database.read { sql in try await sql.raw(count).first()?.decode(column: "n", as: Int64.self) ?? 0 }
        if matches > Self.probeLimit { return try await newestByDate(where: condition, filters, window: window) }
        // An expression, not the column: the date index stays out, so the selective index serves
        // and the few rows are sorted (SQLite's `+`, PostgreSQL's concatenation).
        let order = database.engine == .sqlite ? "+c.created_at" : "(c.created_at || '')"
        let query: SQLQueryString = """
            SELECT c.id FROM cases c WHERE \(condition) AND \(filters) ORDER BY \(unsafeRaw: order) DESC LIMIT \(literal: Int64(window))
            """
        return try await database.read { sql in try await sql.raw(query).all().map { try $0.decode(column: "id", as: String.self) } }
    }

    private func newestByDate(where condition: SQLQueryString, _ filters: SQLQueryString, window: Int) async throws -> [String] {
        let byDate = database.engine == .sqlite ? "INDEXED BY cases_created" : ""
        let scan: SQLQueryString = """
            SELECT c.id FROM cases c \(unsafeRaw: byDate) WHERE \(condition) AND \(filters) ORDER BY c.created_at DESC LIMIT \(literal: Int64(window))
            """
        return try await database.read { sql in try await sql.raw(scan).all().map { try $0.decode(column: "id", as: String.self) } }
    }
}

