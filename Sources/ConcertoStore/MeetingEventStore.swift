import ConcertoCore
import Foundation
import SQLKit
import Synchronization

/// The séance's events and the state they announce: the presented case, the decision draft,
/// the designated recorder, and who has seen which case (audited once).
public struct MeetingEventStore: Sendable {
    let database: Database

    /// The PostgreSQL NOTIFY channel every instance LISTENs on.
    public static let channel = "concerto_meeting_events"

    public init(database: Database) {
        self.database = database
    }

    /// Appends an event in the caller's transaction. The meeting's row lock makes numbers
    /// commit in order (a follower resuming after 7 never misses an 8 committed later); on
    /// PostgreSQL the NOTIFY goes out with the commit, to every instance, and not at all on
    /// rollback.
    static func append(
        _ kind: MeetingEventKind, meetingID: UUID, caseID: UUID?, actor: UUID?, on sql: any SQLDatabase, database: Database, at now: Date
    ) async throws -> MeetingEvent {
        if database.engine == .postgres {
            try await sql.raw("SELECT id FROM meetings WHERE id = \(bind: meetingID.storageKey) FOR UPDATE").run()
        }
        let next = try await sql.raw("""
            SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM meeting_events WHERE meeting_id = \(bind: meetingID.storageKey)
            """).first()?.decode(column: "next", as: Int64.self) ?? 1
        // Milliseconds, as stored and as the wire carries them.
        let millis = now.epochMilliseconds
        let event = MeetingEvent(meetingID: meetingID, seq: next, kind: kind, caseID: caseID, at: Date(epochMilliseconds: millis))
        try await sql.raw("""
            INSERT INTO meeting_events (meeting_id, seq, kind, case_id, actor_id, at_ms)
            VALUES (\(bind: meetingID.storageKey), \(bind: next), \(bind: kind.rawValue), \(bind: caseID?.storageKey), \(bind: actor?.storageKey),
                    \(bind: millis))
            """).run()
        if database.engine == .postgres {
            try await sql.raw("SELECT pg_notify(\(bind: Self.channel), \(bind: event.wirePayload))").run()
        }
        return event
    }

    /// After the transaction that appended `event` committed: SQLite's followers are all in
    /// this process; PostgreSQL's NOTIFY already went to every instance.
    static func announce(_ event: MeetingEvent?, on database: Database) {
        guard let event, database.engine == .sqlite else { return }
        database.localEvents.publish(event)
    }

    // MARK: Reading

    /// The events after `seq` in order, at most `limit` (a follower catching up).
    public func events(of meetingID: UUID, after seq: Int64 = 0, limit: Int = 1000) async throws -> [MeetingEvent] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT seq, kind, case_id, at_ms FROM meeting_events
                WHERE meeting_id = \(bind: meetingID.storageKey) AND seq > \(bind: seq) ORDER BY seq LIMIT \(bind: Int64(limit))
                """).all().compactMap { try Self.event(from: $0, meetingID: meetingID) }
        }
    }

    /// The presentations only: what the séance's clock is made of.
    public func presentations(of meetingID: UUID) async throws -> [MeetingEvent] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT seq, kind, case_id, at_ms FROM meeting_events
                WHERE meeting_id = \(bind: meetingID.storageKey) AND kind = \(bind: MeetingEventKind.casePresented.rawValue) ORDER BY seq
                """).all().compactMap { try Self.event(from: $0, meetingID: meetingID) }
        }
    }

    /// The number of the meeting's last event (0 before the first): where a page's stream starts.
    public func lastSeq(of meetingID: UUID) async throws -> Int64 {
        try await database.read { sql in
            try await sql.raw("SELECT COALESCE(MAX(seq), 0) AS last FROM meeting_events WHERE meeting_id = \(bind: meetingID.storageKey)")
                .first()?.decode(column: "last", as: Int64.self) ?? 0
        }
    }

    static func event(from row: any SQLRow, meetingID: UUID) throws -> MeetingEvent? {
        guard let kind = MeetingEventKind(rawValue: try row.decode(column: "kind", as: String.self)) else { return nil }
        let at = Date(epochMilliseconds: try row.decode(column: "at_ms", as: Int64.self))
        return MeetingEvent(meetingID: meetingID, seq: try row.decode(column: "seq", as: Int64.self), kind: kind,
                            caseID: try row.decode(column: "case_id", as: String?.self).flatMap(UUID.init(storageKey:)), at: at)
    }

    // MARK: The séance's state

    /// Puts the case on everyone's screen (nil: none).
    @discardableResult
    public func present(meetingID: UUID, caseID: UUID?, by userID: UUID, at now: Date = Date()) async throws -> MeetingEvent {
        let database = database
        let event = try await database.write { sql in
            try await sql.raw("""
                UPDATE meetings SET current_case_id = \(bind: caseID?.storageKey) WHERE id = \(bind: meetingID.storageKey)
                """).run()
            return try await Self.append(.casePresented, meetingID: meetingID, caseID: caseID, actor: userID, on: sql, database: database, at: now)
        }
        Self.announce(event, on: database)
        return event
    }

    /// Stores the recorder's draft of the case's decision and tells the followers.
    @discardableResult
    public func saveDraft(_ draft: DecisionDraft, meetingID: UUID, caseID: UUID, by userID: UUID, at now: Date = Date()) async throws -> MeetingEvent {
        let database = database
        let text = String(decoding: try JSONEncoder().encode(draft), as: UTF8.self)
        let event = try await database.write { sql in
            try await sql.raw("""
                INSERT INTO meeting_decision_drafts (case_id, meeting_id, draft, revision, updated_by, updated_at)
                VALUES (\(bind: caseID.storageKey), \(bind: meetingID.storageKey), \(bind: text), 1, \(bind: userID.storageKey), \(bind: Timestamp.iso8601(now)))
                ON CONFLICT (case_id) DO UPDATE SET meeting_id = \(bind: meetingID.storageKey), draft = \(bind: text),
                    revision = meeting_decision_drafts.revision + 1, updated_by = \(bind: userID.storageKey), updated_at = \(bind: Timestamp.iso8601(now))
                """).run()
            return try await Self.append(.draft, meetingID: meetingID, caseID: caseID, actor: userID, on: sql, database: database, at: now)
        }
        Self.announce(event, on: database)
        return event
    }

    /// The draft of the case's decision, when the recorder has typed one.
    public func draft(caseID: UUID) async throws -> DecisionDraft? {
        try await database.read { sql in
            guard let text = try await sql.raw("SELECT draft FROM meeting_decision_drafts WHERE case_id = \(bind: caseID.storageKey)")
                .first()?.decode(column: "draft", as: String.self) else { return nil }
            return try? JSONDecoder().decode(DecisionDraft.self, from: Data(text.utf8))
        }
    }

    /// Designates who types the decision (nil: those who present), audited.
    public func setRecorder(meetingID: UUID, userID: UUID?, by actor: UUID, audit: AuditDraft, at now: Date = Date()) async throws {
        let database = database
        let event = try await database.write { sql in
            try await sql.raw("""
                UPDATE meetings SET recorder_id = \(bind: userID?.storageKey) WHERE id = \(bind: meetingID.storageKey)
                """).run()
            try await AuditLog.append(audit, on: sql, database: database, at: now)
            return try await Self.append(.recorder, meetingID: meetingID, caseID: nil, actor: actor, on: sql, database: database, at: now)
        }
        Self.announce(event, on: database)
    }

    /// Records that the user saw (or was refused) the case during the séance, with its audit
    /// event, the first time only: true when this was the first time.
    public func recordFirstView(meetingID: UUID, userID: UUID, caseID: UUID, allowed: Bool, audit: AuditDraft, at now: Date = Date()) async throws -> Bool {
        let database = database
        // Followers refetch at every event: most calls find the view recorded, and only read.
        let seen = try await database.read { sql in
            try await sql.raw("""
                SELECT 1 AS seen FROM meeting_case_views WHERE meeting_id = \(bind: meetingID.storageKey) AND user_id = \(bind: userID.storageKey)
                  AND case_id = \(bind: caseID.storageKey) AND allowed = \(bind: Int64(allowed ? 1 : 0))
                """).first() != nil
        }
        if seen { return false }
        return try await database.write { sql in
            let inserted = try await sql.raw("""
                INSERT INTO meeting_case_views (meeting_id, user_id, case_id, allowed, first_seen_at)
                VALUES (\(bind: meetingID.storageKey), \(bind: userID.storageKey), \(bind: caseID.storageKey), \(bind: Int64(allowed ? 1 : 0)),
                        \(bind: Timestamp.iso8601(now)))
                ON CONFLICT (meeting_id, user_id, case_id, allowed) DO NOTHING RETURNING case_id
                """).all()
            guard !inserted.isEmpty else { return false }
            try await AuditLog.append(audit, on: sql, database: database, at: now)
            return true
        }
    }
}

/// In-process fan-out of committed séance events (SQLite: one process serves everyone).
public final class LocalEventBus: Sendable {
    private let handlers = Mutex<[@Sendable (MeetingEvent) -> Void]>([])

    public func subscribe(_ handler: @escaping @Sendable (MeetingEvent) -> Void) {
        handlers.withLock { $0.append(handler) }
    }

    func publish(_ event: MeetingEvent) {
        for handler in handlers.withLock({ $0 }) { handler(event) }
    }
}
