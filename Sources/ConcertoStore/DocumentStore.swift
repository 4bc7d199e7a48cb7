import ConcertoCore
import Crypto
import Foundation
import SQLKit

/// What the importer files: the original bytes and the header values lists need.
public struct DocumentImport: Sendable {
    public enum Source: String, Sendable { case upload, api, cli }

    public var patientID: UUID
    public var communityID: UUID
    public var caseID: UUID?
    public var documentRoot: String
    public var documentExtension: String
    public var setRoot: String
    public var setExtension: String
    public var version: Int
    public var typeCode: String
    public var typeLabel: String?
    public var title: String?
    /// ISO 8601 at the document's precision.
    public var effectiveTime: String
    public var mediaType: String?
    public var hasPDF: Bool
    public var studyUIDs: [String]
    /// Staged TNM as `{"cT":"T1b",...}`, for pre-filling a fiche.
    public var tnm: [String: String]
    public var content: Data
    public var source: Source
    public var importedBy: UUID?
    /// A personalised care plan's items, as JSON (`[]` for other documents).
    public var carePlanJSON = "[]"
    /// The fiche RCP a care plan carries out, when it is clear at import.
    public var carriesOutCaseID: UUID?
    /// The days the care plan's treatments recorded as done started: they fill in the
    /// follow-up of the fiche it carries out.
    public var carePlanTreatmentsStarted: [CalendarDate] = []

    public init(patientID: UUID, communityID: UUID, caseID: UUID?, documentRoot: String, documentExtension: String, setRoot: String,
                setExtension: String, version: Int, typeCode: String, typeLabel: String?, title: String?, effectiveTime: String,
                mediaType: String?, hasPDF: Bool, studyUIDs: [String], tnm: [String: String], content: Data, source: Source, importedBy: UUID?) {
        self.patientID = patientID
        self.communityID = communityID
        self.caseID = caseID
        self.documentRoot = documentRoot
        self.documentExtension = documentExtension
        self.setRoot = setRoot
        self.setExtension = setExtension
        self.version = version
        self.typeCode = typeCode
        self.typeLabel = typeLabel
        self.title = title
        self.effectiveTime = effectiveTime
        self.mediaType = mediaType
        self.hasPDF = hasPDF
        self.studyUIDs = studyUIDs
        self.tnm = tnm
        self.content = content
        self.source = source
        self.importedBy = importedBy
    }

    public var sha256: String { DocumentStore.sha256(content) }
}

public struct DocumentRecord: Sendable, Equatable, Identifiable {
    public var id: UUID
    public var patientID: UUID
    public var communityID: UUID
    public var caseID: UUID?
    public var documentRoot: String
    public var documentExtension: String
    public var setRoot: String
    public var setExtension: String
    public var version: Int
    public var typeCode: String
    public var typeLabel: String?
    public var title: String?
    public var effectiveTime: String
    public var mediaType: String?
    public var hasPDF: Bool
    public var studyUIDs: [String]
    public var tnm: [String: String]
    public var sha256: String
    public var byteCount: Int
    public var supersededBy: UUID?
    public var source: String
    public var importedByName: String?
    public var importedAt: String
    public var carePlanJSON: String = "[]"
    public var carriesOutCaseID: UUID?

    /// `root^extension` or the root: how the document names itself.
    public var documentKey: String { documentExtension.isEmpty ? documentRoot : "\(documentRoot)^\(documentExtension)" }
}

/// Imported documents: idempotent on the document id, versions of a set superseding
/// each other, the original bytes kept as received.
public struct DocumentStore: Sendable {
    let database: Database

    public init(database: Database) { self.database = database }

    public enum ImportOutcome: Sendable, Equatable {
        /// Filed; `superseded` lists the earlier versions it replaces in views.
        case imported(UUID, superseded: [UUID])
        /// The same bytes under the same document id were already filed.
        case alreadyImported(UUID)
        /// The document id is already filed with different bytes: refused, nothing changed.
        case conflict(existing: UUID)
    }

    public static func sha256(_ data: Data) -> String {
        SHA256.hash(data: data).withUnsafeBytes { $0.hexString }
    }

    public func importDocument(_ new: DocumentImport, id: UUID = UUID(), audit: AuditDraft, at now: Date = Date()) async throws -> ImportOutcome {
        do {
            return try await insert(new, id: id, audit: audit, at: now)
        } catch let error where !(error is CancellationError) {
            // Two imports of the same document at once: the unique index stops the second,
            // which then finds the first.
            if let existing = try await existing(new) {
                return existing.sha256 == new.sha256 ? .alreadyImported(existing.id) : .conflict(existing: existing.id)
            }
            throw error
        }
    }

    private func existing(_ new: DocumentImport) async throws -> (id: UUID, sha256: String)? {
        try await database.read { sql in try await Self.existing(new, on: sql) }
    }

    /// Document ids and sets are the patient's within one community: another patient's or
    /// another community's document with the same id or set is none of this one's business
    /// (and must not be revealed, replaced or superseded from here).
    private static func existing(_ new: DocumentImport, on sql: any SQLDatabase) async throws -> (id: UUID, sha256: String)? {
        let row = try await sql.raw("""
            SELECT id, sha256 FROM documents
            WHERE patient_id = \(bind: new.patientID.storageKey) AND community_id = \(bind: new.communityID.storageKey)
              AND document_root = \(bind: new.documentRoot) AND document_extension = \(bind: new.documentExtension)
            """).first()
        guard let row, let id = UUID(storageKey: try row.decode(column: "id", as: String.self)) else { return nil }
        return (id, try row.decode(column: "sha256", as: String.self))
    }

    private func insert(_ new: DocumentImport, id: UUID, audit: AuditDraft, at now: Date) async throws -> ImportOutcome {
        let sha = new.sha256
        let tnm = String(decoding: try JSONEncoder.sorted.encode(new.tnm), as: UTF8.self)
        return try await database.write { sql in
            if let found = try await Self.existing(new, on: sql) {
                return found.sha256 == sha ? .alreadyImported(found.id) : .conflict(existing: found.id)
            }
            // A later version supersedes the set's current ones; an older one arriving late is
            // filed as already superseded by the newest.
            let newest = try await sql.raw("""
                SELECT id, version FROM documents
                WHERE patient_id = \(bind: new.patientID.storageKey) AND community_id = \(bind: new.communityID.storageKey)
                  AND set_root = \(bind: new.setRoot) AND set_extension = \(bind: new.setExtension)
                ORDER BY version DESC, imported_at DESC LIMIT 1
                """).first()
            let newestVersion = try newest.map { Int(try $0.decode(column: "version", as: Int64.self)) }
            let supersededBy: String? = if let newestVersion, newestVersion >= new.version { try newest?.decode(column: "id", as: String.self) } else { nil }
            try await sql.raw("""
                INSERT INTO documents (id, patient_id, community_id, case_id, document_root, document_extension, set_root, set_extension, version,
                    type_code, type_label, title, effective_time, media_type, has_pdf, study_uids, tnm, sha256, content, byte_count, superseded_by,
                    source, imported_by, imported_at, care_plan, carries_out_case_id)
                VALUES (\(bind: id.storageKey), \(bind: new.patientID.storageKey), \(bind: new.communityID.storageKey), \(bind: new.caseID?.storageKey),
                    \(bind: new.documentRoot), \(bind: new.documentExtension), \(bind: new.setRoot), \(bind: new.setExtension), \(bind: Int64(new.version)),
                    \(bind: new.typeCode), \(bind: new.typeLabel), \(bind: new.title), \(bind: new.effectiveTime), \(bind: new.mediaType),
                    \(bind: new.hasPDF ? Int64(1) : Int64(0)), \(bind: new.studyUIDs.joined(separator: " ")), \(bind: tnm), \(bind: sha), \(bind: new.content),
                    \(bind: Int64(new.content.count)), \(bind: supersededBy), \(bind: new.source.rawValue), \(bind: new.importedBy?.storageKey),
                    \(bind: Timestamp.iso8601(now)), \(bind: new.carePlanJSON), \(bind: new.carriesOutCaseID?.storageKey))
                """).run()
            var superseded: [UUID] = []
            if supersededBy == nil {
                let rows = try await sql.raw("""
                    SELECT id FROM documents
                    WHERE patient_id = \(bind: new.patientID.storageKey) AND community_id = \(bind: new.communityID.storageKey)
                      AND set_root = \(bind: new.setRoot) AND set_extension = \(bind: new.setExtension)
                      AND id <> \(bind: id.storageKey) AND superseded_by IS NULL
                    """).all()
                superseded = try rows.compactMap { UUID(storageKey: try $0.decode(column: "id", as: String.self)) }
                try await sql.raw("""
                    UPDATE documents SET superseded_by = \(bind: id.storageKey)
                    WHERE patient_id = \(bind: new.patientID.storageKey) AND community_id = \(bind: new.communityID.storageKey)
                      AND set_root = \(bind: new.setRoot) AND set_extension = \(bind: new.setExtension) AND id <> \(bind: id.storageKey)
                    """).run()
            }
            if let caseID = new.carriesOutCaseID, let planDay = CalendarDate(iso: String(new.effectiveTime.prefix(10))) {
                try await FollowUpStore.fillFromCarePlan(caseID: caseID, documentID: id, planDay: planDay, treatmentsStarted: new.carePlanTreatmentsStarted,
                                                         on: sql, at: now)
            }
            var audit = audit
            audit.resourceID = id.storageKey
            try await AuditLog.append(audit, on: sql, database: database, at: now)
            return .imported(id, superseded: superseded)
        }
    }

    static let columns = """
        d.id, d.patient_id, d.community_id, d.case_id, d.document_root, d.document_extension, d.set_root, d.set_extension, d.version,
        d.type_code, d.type_label, d.title, d.effective_time, d.media_type, d.has_pdf, d.study_uids, d.tnm, d.sha256, d.byte_count,
        d.superseded_by, d.source, u.display_name AS imported_by_name, d.imported_at, d.care_plan, d.carries_out_case_id
        """

    public func find(id: UUID) async throws -> DocumentRecord? {
        try await database.read { sql in
            try await sql.raw("SELECT \(unsafeRaw: Self.columns) FROM documents d LEFT JOIN users u ON u.id = d.imported_by WHERE d.id = \(bind: id.storageKey)")
                .first().flatMap(Self.record)
        }
    }

    /// The original bytes, as received.
    public func content(of id: UUID) async throws -> Data? {
        try await database.read { sql in
            try await sql.raw("SELECT content FROM documents WHERE id = \(bind: id.storageKey)").first()?.decode(column: "content", as: Data.self)
        }
    }

    /// The patient's documents, newest first; superseded versions only when asked.
    public func documents(ofPatient patientID: UUID, includeSuperseded: Bool = false) async throws -> [DocumentRecord] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT \(unsafeRaw: Self.columns) FROM documents d LEFT JOIN users u ON u.id = d.imported_by
                WHERE d.patient_id = \(bind: patientID.storageKey) \(unsafeRaw: includeSuperseded ? "" : "AND d.superseded_by IS NULL")
                ORDER BY d.effective_time DESC, d.version DESC
                """).all().compactMap(Self.record)
        }
    }

    /// Every version of a document's set, newest first.
    public func versions(of record: DocumentRecord) async throws -> [DocumentRecord] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT \(unsafeRaw: Self.columns) FROM documents d LEFT JOIN users u ON u.id = d.imported_by
                WHERE d.patient_id = \(bind: record.patientID.storageKey) AND d.community_id = \(bind: record.communityID.storageKey)
                  AND d.set_root = \(bind: record.setRoot) AND d.set_extension = \(bind: record.setExtension)
                ORDER BY d.version DESC, d.imported_at DESC
                """).all().compactMap(Self.record)
        }
    }

    static func record(from row: any SQLRow) throws -> DocumentRecord? {
        guard let id = UUID(storageKey: try row.decode(column: "id", as: String.self)),
              let patient = UUID(storageKey: try row.decode(column: "patient_id", as: String.self)),
              let community = UUID(storageKey: try row.decode(column: "community_id", as: String.self)) else { return nil }
        let tnmText = try row.decode(column: "tnm", as: String.self)
        return DocumentRecord(
            id: id, patientID: patient, communityID: community,
            caseID: try row.decode(column: "case_id", as: String?.self).flatMap(UUID.init(storageKey:)),
            documentRoot: try row.decode(column: "document_root", as: String.self),
            documentExtension: try row.decode(column: "document_extension", as: String.self),
            setRoot: try row.decode(column: "set_root", as: String.self), setExtension: try row.decode(column: "set_extension", as: String.self),
            version: Int(try row.decode(column: "version", as: Int64.self)), typeCode: try row.decode(column: "type_code", as: String.self),
            typeLabel: try row.decode(column: "type_label", as: String?.self), title: try row.decode(column: "title", as: String?.self),
            effectiveTime: try row.decode(column: "effective_time", as: String.self), mediaType: try row.decode(column: "media_type", as: String?.self),
            hasPDF: try row.decode(column: "has_pdf", as: Int64.self) != 0,
            studyUIDs: try row.decode(column: "study_uids", as: String.self).split(separator: " ").map(String.init),
            tnm: (try? JSONDecoder().decode([String: String].self, from: Data(tnmText.utf8))) ?? [:],
            sha256: try row.decode(column: "sha256", as: String.self), byteCount: Int(try row.decode(column: "byte_count", as: Int64.self)),
            supersededBy: try row.decode(column: "superseded_by", as: String?.self).flatMap(UUID.init(storageKey:)),
            source: try row.decode(column: "source", as: String.self), importedByName: try row.decode(column: "imported_by_name", as: String?.self),
            importedAt: try row.decode(column: "imported_at", as: String.self),
            carePlanJSON: try row.decode(column: "care_plan", as: String.self),
            carriesOutCaseID: try row.decode(column: "carries_out_case_id", as: String?.self).flatMap(UUID.init(storageKey:)))
    }

    /// The validated fiches RCP of the patient in the community that a care plan of this
    /// day may carry out (validated that day or before), oldest first, with the day.
    public func carePlanCandidates(patientID: UUID, communityID: UUID, notAfter day: String) async throws -> [(caseID: UUID, validatedOn: String)] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT id, validated_at FROM cases
                WHERE patient_id = \(bind: patientID.storageKey) AND community_id = \(bind: communityID.storageKey)
                  AND status = 'validated' AND validated_at IS NOT NULL
                ORDER BY validated_at
                """).all().compactMap { row -> (UUID, String)? in
                guard let id = UUID(storageKey: try row.decode(column: "id", as: String.self)) else { return nil }
                let validatedOn = String(try row.decode(column: "validated_at", as: String.self).prefix(10))
                return validatedOn <= String(day.prefix(10)) ? (id, validatedOn) : nil
            }
        }
    }

    /// Records which fiche RCP a care plan carries out (a physician's confirmation), and
    /// fills in that fiche's follow-up from the plan (`treatmentsStarted`: the days its
    /// treatments recorded as done started).
    public func linkCarePlan(documentID: UUID, caseID: UUID, treatmentsStarted: [CalendarDate] = [], by userID: UUID, audit: AuditDraft,
                             at now: Date = Date()) async throws {
        try await database.write { sql in
            guard let row = try await sql.raw("""
                UPDATE documents SET carries_out_case_id = \(bind: caseID.storageKey), carries_out_confirmed_by = \(bind: userID.storageKey)
                WHERE id = \(bind: documentID.storageKey) RETURNING effective_time
                """).first() else { throw StoreError.notFound }
            if let planDay = CalendarDate(iso: String(try row.decode(column: "effective_time", as: String.self).prefix(10))) {
                try await FollowUpStore.fillFromCarePlan(caseID: caseID, documentID: documentID, planDay: planDay, treatmentsStarted: treatmentsStarted,
                                                         on: sql, at: now)
            }
            try await AuditLog.append(audit, on: sql, database: database, at: now)
        }
    }

    // MARK: API tokens

    /// A new token for a hospital system of the community: the secret is returned once,
    /// only its SHA-256 is stored.
    public func createToken(community communityID: UUID, organisation organisationID: UUID? = nil, label: String, by userID: UUID?, audit: AuditDraft,
                            at now: Date = Date()) async throws -> (id: UUID, secret: String) {
        var bytes = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for index in bytes.indices { bytes[index] = UInt8.random(in: .min ... .max, using: &generator) }
        let secret = "cct_" + Self.sha256(Data(bytes)).prefix(8) + Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        let id = UUID()
        try await database.write { sql in
            try await sql.raw("""
                INSERT INTO api_tokens (id, community_id, organisation_id, label, token_hash, created_by, created_at)
                VALUES (\(bind: id.storageKey), \(bind: communityID.storageKey), \(bind: organisationID?.storageKey), \(bind: label),
                        \(bind: Self.sha256(Data(secret.utf8))), \(bind: userID?.storageKey), \(bind: Timestamp.iso8601(now)))
                """).run()
            var audit = audit
            audit.resourceID = id.storageKey
            try await AuditLog.append(audit, on: sql, database: database, at: now)
        }
        return (id, secret)
    }

    /// The token a secret names, when it is not revoked.
    public func token(secret: String) async throws -> APIToken? {
        let hash = Self.sha256(Data(secret.utf8))
        return try await database.read { sql in
            guard let row = try await sql.raw("""
                SELECT t.id, t.community_id, o.id AS organisation_id, o.finess, o.trusted_for_identities
                FROM api_tokens t LEFT JOIN organisations o ON o.id = t.organisation_id
                WHERE t.token_hash = \(bind: hash) AND t.revoked_at IS NULL
                """).first(),
                  let id = UUID(storageKey: try row.decode(column: "id", as: String.self)),
                  let community = UUID(storageKey: try row.decode(column: "community_id", as: String.self)) else { return nil }
            return APIToken(id: id, communityID: community,
                            organisationID: try row.decode(column: "organisation_id", as: String?.self).flatMap(UUID.init(storageKey:)),
                            organisationFINESS: try row.decode(column: "finess", as: String?.self),
                            trustedForIdentities: try row.decode(column: "trusted_for_identities", as: Bool?.self) ?? false)
        }
    }

    /// Patients the community holds a case of, with this INS matricule.
    public func patients(withINS matricule: String, inCommunity communityID: UUID) async throws -> [UUID] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT DISTINCT p.id FROM patients p JOIN cases c ON c.patient_id = p.id
                WHERE p.ins_matricule = \(bind: matricule) AND p.merged_into IS NULL AND c.community_id = \(bind: communityID.storageKey)
                """).all().compactMap { UUID(storageKey: try $0.decode(column: "id", as: String.self)) }
        }
    }
}

extension JSONEncoder {
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}

/// A hospital system's access to one community's documents API.
public struct APIToken: Sendable, Equatable {
    public let id: UUID
    public let communityID: UUID
    /// The organisation whose system holds it (tokens made before organisations were named have none).
    public let organisationID: UUID?
    public let organisationFINESS: String?
    /// That organisation is trusted for identities: its documents may qualify the identity they name.
    public let trustedForIdentities: Bool
}
