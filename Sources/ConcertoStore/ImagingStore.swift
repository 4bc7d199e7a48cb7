import ConcertoCore
import Foundation
import SQLKit

/// A study as the exchange described it when it was attached.
public struct StudyReference: Sendable, Equatable {
    public var exchangeID: String
    public var studyUID: String
    public var accessionNumber: String?
    public var studyDate: CalendarDate?
    public var modalities: [String]
    public var description: String?
    public var seriesCount: Int?
    public var instanceCount: Int?
    public var keySeriesUID: String?

    public init(exchangeID: String, studyUID: String, accessionNumber: String?, studyDate: CalendarDate?, modalities: [String], description: String?,
                seriesCount: Int?, instanceCount: Int?, keySeriesUID: String?) {
        self.exchangeID = exchangeID
        self.studyUID = studyUID
        self.accessionNumber = accessionNumber
        self.studyDate = studyDate
        self.modalities = modalities
        self.description = description
        self.seriesCount = seriesCount
        self.instanceCount = instanceCount
        self.keySeriesUID = keySeriesUID
    }
}

public struct AttachedStudy: Sendable, Equatable, Identifiable {
    public var id: UUID
    public var caseID: UUID
    public var reference: StudyReference
    public var note: String?
    public var documentID: UUID?
    public var attachedByName: String?
    public var attachedAt: Date
}

/// Studies attached to fiches RCP, by reference. Each change is audited in its transaction.
public struct ImagingStore: Sendable {
    let database: Database

    public init(database: Database) { self.database = database }

    public enum AttachOutcome: Sendable, Equatable {
        case attached(UUID)
        case alreadyAttached(UUID)
    }

    public func attach(_ reference: StudyReference, toCase caseID: UUID, note: String?, documentID: UUID? = nil, by userID: UUID?,
                       audit: AuditDraft, id: UUID = UUID(), at now: Date = Date()) async throws -> AttachOutcome {
        do {
            return try await database.write { sql in
                if let existing = try await Self.existing(caseID: caseID, exchangeID: reference.exchangeID, studyUID: reference.studyUID, on: sql) {
                    return .alreadyAttached(existing)
                }
                try await sql.raw("""
                    INSERT INTO case_studies (id, case_id, exchange_id, study_uid, accession_number, study_date, modalities, description,
                        series_count, instance_count, key_series_uid, note, document_id, attached_by, attached_at)
                    VALUES (\(bind: id.storageKey), \(bind: caseID.storageKey), \(bind: reference.exchangeID), \(bind: reference.studyUID),
                        \(bind: reference.accessionNumber), \(bind: reference.studyDate?.iso), \(bind: reference.modalities.joined(separator: " ")),
                        \(bind: reference.description), \(bind: reference.seriesCount.map(Int64.init)), \(bind: reference.instanceCount.map(Int64.init)),
                        \(bind: reference.keySeriesUID), \(bind: note), \(bind: documentID?.storageKey), \(bind: userID?.storageKey), \(bind: Timestamp.iso8601(now)))
                    """).run()
                var audit = audit
                audit.resourceType = "imaging_study"
                audit.resourceID = reference.studyUID
                try await AuditLog.append(audit, on: sql, database: database, at: now)
                return .attached(id)
            }
        } catch let error where !(error is CancellationError) {
            // The same study attached twice at once: the unique index stops the second.
            if let existing = try await database.read({ sql in
                try await Self.existing(caseID: caseID, exchangeID: reference.exchangeID, studyUID: reference.studyUID, on: sql)
            }) {
                return .alreadyAttached(existing)
            }
            throw error
        }
    }

    private static func existing(caseID: UUID, exchangeID: String, studyUID: String, on sql: any SQLDatabase) async throws -> UUID? {
        try await sql.raw("""
            SELECT id FROM case_studies WHERE case_id = \(bind: caseID.storageKey) AND exchange_id = \(bind: exchangeID) AND study_uid = \(bind: studyUID)
            """).first().flatMap { UUID(storageKey: try $0.decode(column: "id", as: String.self)) }
    }

    /// Removes the reference (the study itself stays on the exchange). False when the
    /// attachment is not on that case.
    public func detach(_ id: UUID, fromCase caseID: UUID, audit: AuditDraft, at now: Date = Date()) async throws -> Bool {
        return try await database.write { sql in
            guard let row = try await sql.raw("""
                SELECT study_uid FROM case_studies WHERE id = \(bind: id.storageKey) AND case_id = \(bind: caseID.storageKey)
                """).first() else { return false }
            try await sql.raw("DELETE FROM case_studies WHERE id = \(bind: id.storageKey)").run()
            var audit = audit
            audit.resourceType = "imaging_study"
            audit.resourceID = try row.decode(column: "study_uid", as: String.self)
            try await AuditLog.append(audit, on: sql, database: database, at: now)
            return true
        }
    }

    /// Remembers the series thumbnails show, once found.
    public func setKeySeries(_ seriesUID: String, for id: UUID) async throws {
        try await database.writeStatement { sql in
            try await sql.raw("UPDATE case_studies SET key_series_uid = \(bind: seriesUID) WHERE id = \(bind: id.storageKey)").run()
        }
    }

    static let columns = """
        s.id, s.case_id, s.exchange_id, s.study_uid, s.accession_number, s.study_date, s.modalities, s.description, s.series_count,
        s.instance_count, s.key_series_uid, s.note, s.document_id, u.display_name AS attached_by_name, s.attached_at
        """

    public func find(id: UUID) async throws -> AttachedStudy? {
        try await database.read { sql in
            try await sql.raw("SELECT \(unsafeRaw: Self.columns) FROM case_studies s LEFT JOIN users u ON u.id = s.attached_by WHERE s.id = \(bind: id.storageKey)")
                .first().flatMap(Self.record)
        }
    }

    /// The case's studies, newest first.
    public func studies(ofCase caseID: UUID) async throws -> [AttachedStudy] {
        try await studies(ofCases: [caseID])[caseID] ?? []
    }

    /// Studies of several cases at once (agenda, séance), newest first within each case.
    public func studies(ofCases caseIDs: [UUID]) async throws -> [UUID: [AttachedStudy]] {
        guard !caseIDs.isEmpty else { return [:] }
        let rows = try await database.read { sql in
            let query: SQLQueryString = """
                SELECT \(unsafeRaw: Self.columns) FROM case_studies s LEFT JOIN users u ON u.id = s.attached_by
                WHERE s.case_id IN (\(binds: caseIDs.map(\.storageKey))) ORDER BY s.study_date DESC, s.attached_at DESC
                """
            return try await sql.raw(query).all()
        }
        var result: [UUID: [AttachedStudy]] = [:]
        for row in rows {
            if let study = try Self.record(row) { result[study.caseID, default: []].append(study) }
        }
        return result
    }

    static func record(_ row: any SQLRow) throws -> AttachedStudy? {
        guard let id = UUID(storageKey: try row.decode(column: "id", as: String.self)),
              let caseID = UUID(storageKey: try row.decode(column: "case_id", as: String.self)) else { return nil }
        let modalities = try row.decode(column: "modalities", as: String.self)
        let attachedAt = try row.decode(column: "attached_at", as: String.self)
        return AttachedStudy(
            id: id, caseID: caseID,
            reference: StudyReference(
                exchangeID: try row.decode(column: "exchange_id", as: String.self), studyUID: try row.decode(column: "study_uid", as: String.self),
                accessionNumber: try row.decode(column: "accession_number", as: String?.self),
                studyDate: try row.decode(column: "study_date", as: String?.self).flatMap(CalendarDate.init(iso:)),
                modalities: modalities.split(separator: " ").map(String.init), description: try row.decode(column: "description", as: String?.self),
                seriesCount: try row.decode(column: "series_count", as: Int64?.self).map(Int.init),
                instanceCount: try row.decode(column: "instance_count", as: Int64?.self).map(Int.init),
                keySeriesUID: try row.decode(column: "key_series_uid", as: String?.self)),
            note: try row.decode(column: "note", as: String?.self),
            documentID: try row.decode(column: "document_id", as: String?.self).flatMap(UUID.init(storageKey:)),
            attachedByName: try row.decode(column: "attached_by_name", as: String?.self),
            // Any other form through Foundation's parser, which throws the error.
            attachedAt: try Timestamp.date(storedForm: attachedAt) ?? Date(attachedAt, strategy: .iso8601)
        )
    }
}
