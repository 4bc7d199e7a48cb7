import ConcertoCore
import Foundation
import SQLKit

/// A decision's follow-up as pages show it: what was recorded, by whom, and whether a
/// personalised care plan filled it in.
public struct FollowUpRecord: Sendable, Equatable {
    public var caseID: UUID
    public var followUp: DecisionFollowUp
    /// The care plan (PPS) the record was filled from, when one was.
    public var carePlanDocumentID: UUID?
    public var recordedByName: String?
    public var recordedAt: Date
    public var revision: Int
}

/// A validated decision still without its follow-up past its due day.
public struct OverdueFollowUp: Sendable, Equatable {
    public var item: CaseListItem
    public var validatedAt: Date
    public var dueAt: Date
}

/// The follow-up of validated decisions (issue 20): recorded by the referring physician or
/// filled from a care plan, and the lists of decisions that still await one.
public struct FollowUpStore: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func find(caseID: UUID) async throws -> FollowUpRecord? {
        try await database.read { sql in try await Self.find(caseID: caseID, on: sql) }
    }

    static func find(caseID: UUID, on sql: any SQLDatabase) async throws -> FollowUpRecord? {
        guard let row = try await sql.raw("""
            SELECT f.outcome, f.reason, f.first_treatment_on, f.care_plan_given_on, f.care_plan_document_id, u.display_name AS recorded_by_name,
                   f.recorded_at, f.revision
            FROM case_follow_ups f LEFT JOIN users u ON u.id = f.recorded_by
            WHERE f.case_id = \(bind: caseID.storageKey)
            """).first() else { return nil }
        return FollowUpRecord(
            caseID: caseID,
            followUp: DecisionFollowUp(
                outcome: try row.decode(column: "outcome", as: String?.self).flatMap(FollowUpOutcome.init(rawValue:)),
                reason: try row.decode(column: "reason", as: String?.self),
                firstTreatmentOn: try row.decode(column: "first_treatment_on", as: String?.self).flatMap(CalendarDate.init(iso:)),
                carePlanGivenOn: try row.decode(column: "care_plan_given_on", as: String?.self).flatMap(CalendarDate.init(iso:))),
            carePlanDocumentID: try row.decode(column: "care_plan_document_id", as: String?.self).flatMap(UUID.init(storageKey:)),
            recordedByName: try row.decode(column: "recorded_by_name", as: String?.self),
            recordedAt: Timestamp.date(iso8601: try row.decode(column: "recorded_at", as: String.self)) ?? Date(timeIntervalSince1970: 0),
            revision: Int(try row.decode(column: "revision", as: Int64.self)))
    }

    /// A physician's record, replacing the previous one. `revision` is the one the form was
    /// built on (0: none yet), so two physicians saving at once cannot overwrite each other
    /// unseen. Only a validated fiche has a follow-up; recording the outcome takes the
    /// decision off the overdue lists.
    public func record(_ followUp: DecisionFollowUp, caseID: UUID, revision: Int, by userID: UUID, audit: AuditDraft, at now: Date = Date()) async throws {
        try await database.write { sql in
            guard try await sql.raw("SELECT 1 AS one FROM cases WHERE id = \(bind: caseID.storageKey) AND status = 'validated'").first() != nil else {
                throw StoreError.statusChanged
            }
            let current = try await Self.find(caseID: caseID, on: sql)
            guard (current?.revision ?? 0) == revision else { throw StoreError.staleRevision }
            try await Self.write(followUp, caseID: caseID, carePlanDocumentID: current?.carePlanDocumentID, recordedBy: userID, revision: revision + 1,
                                 exists: current != nil, on: sql, at: now)
            try await AuditLog.append(audit, on: sql, database: database, at: now)
        }
    }

    /// `recordedBy` nil keeps who wrote the record last (a care plan adding a day to a
    /// physician's record), or leaves a new one nobody's.
    private static func write(_ followUp: DecisionFollowUp, caseID: UUID, carePlanDocumentID: UUID?, recordedBy: UUID?, revision: Int, exists: Bool,
                              on sql: any SQLDatabase, at now: Date) async throws {
        let values: (outcome: String?, reason: String?, first: String?, given: String?) = (
            followUp.outcome?.rawValue, followUp.reason, followUp.firstTreatmentOn?.iso, followUp.carePlanGivenOn?.iso)
        // Days from the board to the first treatment: the 3C's last delay.
        let discussedOn = try await sql.raw("SELECT discussed_on FROM cases WHERE id = \(bind: caseID.storageKey)").first()?
            .decode(column: "discussed_on", as: String?.self).flatMap(CalendarDate.init(iso:))
        let delay: Int64? = if let discussedOn, let first = followUp.firstTreatmentOn { Int64(ParisCalendar.days(from: discussedOn, to: first)) } else { nil }
        if exists {
            try await sql.raw("""
                UPDATE case_follow_ups SET outcome = \(bind: values.outcome), reason = \(bind: values.reason), first_treatment_on = \(bind: values.first),
                       care_plan_given_on = \(bind: values.given), care_plan_document_id = \(bind: carePlanDocumentID?.storageKey),
                       recorded_by = COALESCE(\(bind: recordedBy?.storageKey), recorded_by), recorded_at = \(bind: Timestamp.iso8601(now)), revision = \(bind: Int64(revision))
                WHERE case_id = \(bind: caseID.storageKey)
                """).run()
        } else {
            try await sql.raw("""
                INSERT INTO case_follow_ups (case_id, outcome, reason, first_treatment_on, care_plan_given_on, care_plan_document_id, recorded_by,
                                             recorded_at, revision)
                VALUES (\(bind: caseID.storageKey), \(bind: values.outcome), \(bind: values.reason), \(bind: values.first), \(bind: values.given),
                        \(bind: carePlanDocumentID?.storageKey), \(bind: recordedBy?.storageKey), \(bind: Timestamp.iso8601(now)), \(bind: Int64(revision)))
                """).run()
        }
        // The fiche carries the outcome and the delay (their one copy, which the indicators'
        // totals follow), and leaves the overdue lists once the outcome is known.
        try await sql.raw("""
            UPDATE cases SET follow_up_outcome = \(bind: values.outcome), treatment_delay_days = \(bind: delay),
                   follow_up_due_at = CASE WHEN \(bind: values.outcome) IS NULL THEN follow_up_due_at ELSE NULL END
            WHERE id = \(bind: caseID.storageKey)
            """).run()
    }

    /// Fills in the follow-up of the fiche a care plan carries out, inside the transaction
    /// that links them (`DocumentStore`): the plan's day, and its treatments recorded as done.
    /// A fiche that is not validated, or a plan older than the board, changes nothing.
    static func fillFromCarePlan(caseID: UUID, documentID: UUID, planDay: CalendarDate, treatmentsStarted: [CalendarDate],
                                 on sql: any SQLDatabase, at now: Date) async throws {
        guard let row = try await sql.raw("""
            SELECT validated_at FROM cases WHERE id = \(bind: caseID.storageKey) AND status = 'validated'
            """).first(),
              let validatedAt = Timestamp.date(iso8601: try row.decode(column: "validated_at", as: String.self)) else { return }
        let decidedOn = ParisCalendar.date(of: validatedAt)
        let current = try await find(caseID: caseID, on: sql)
        let filled = DecisionFollowUp.fillingIn(current?.followUp, carePlanDated: planDay, treatmentsStarted: treatmentsStarted, decidedOn: decidedOn)
        guard filled != current?.followUp else { return }
        try await write(filled, caseID: caseID, carePlanDocumentID: documentID, recordedBy: nil, revision: (current?.revision ?? 0) + 1,
                        exists: current != nil, on: sql, at: now)
    }

    /// Validated decisions of these communities whose follow-up is overdue at `now`, the
    /// longest overdue first; `createdBy` narrows them to one referring physician's fiches.
    public func overdue(inCommunities communityIDs: [UUID], createdBy userID: UUID? = nil, at now: Date = Date(), limit: Int = 20) async throws -> [OverdueFollowUp] {
        guard !communityIDs.isEmpty else { return [] }
        var filter: SQLQueryString = "c.follow_up_due_at IS NOT NULL AND c.follow_up_due_at <= \(bind: Timestamp.iso8601(now))"
        filter = filter + " AND c.community_id IN (\(binds: communityIDs.map(\.storageKey)))"
        if let userID { filter = filter + " AND c.created_by = \(bind: userID.storageKey)" }
        let query: SQLQueryString = """
            SELECT \(unsafeRaw: CaseStore.listColumns), c.validated_at, c.follow_up_due_at FROM cases c \(unsafeRaw: CaseStore.listJoins)
            WHERE \(filter) AND c.status = 'validated'
            ORDER BY c.follow_up_due_at, c.id LIMIT \(literal: Int64(limit))
            """
        return try await database.read { sql in
            try await sql.raw(query).all().compactMap { row -> OverdueFollowUp? in
                guard let item = try CaseStore.listItem(from: row),
                      let validated = Timestamp.date(iso8601: try row.decode(column: "validated_at", as: String.self)),
                      let due = Timestamp.date(iso8601: try row.decode(column: "follow_up_due_at", as: String.self)) else { return nil }
                return OverdueFollowUp(item: item, validatedAt: validated, dueAt: due)
            }
        }
    }
}
