import ConcertoCore
import Foundation
import SQLKit

/// A stored patient: identity, and the record it was merged into, if any.
public struct PatientRecord: Sendable, Equatable, Identifiable {
    public var id: UUID
    public var identity: PatientIdentity
    public var mergedInto: UUID?
    public var createdAt: String
}

/// A case a community holds for a patient (the workflow issue fills in its content).
public struct HeldCase: Sendable, Equatable {
    public var id: UUID
    public var communityID: UUID
    public var communityName: String
    public var status: String
    public var createdAt: String
}

/// How an identity status was established (RNIV): the high-trust document checked (VALI)
/// and the national INS verification (QUAL), by whom.
public struct IdentityProof: Sendable, Equatable {
    public enum Source: String, Sendable {
        /// Recorded with the identity on the new-patient form.
        case form
        /// The identity desk (platform administrators).
        case identityDesk = "identity_desk"
        /// Seeded with the demonstration data.
        case demo
        /// A document posted by the system of an organisation trusted for identities.
        case trustedOrganisation = "trusted_organisation"
    }

    /// `verifier` of a proof from a trusted organisation: this prefix and its FINESS.
    public static let trustedOrganisationPrefix = "finess:"

    public var status: IdentityStatus
    public var documentType: IdentityDocumentType?
    /// The INS verifier that confirmed the INS (`INSVerifier.name`), for QUAL.
    public var verifier: String?
    public var source: Source
    public var recordedBy: UUID?

    public init(status: IdentityStatus, documentType: IdentityDocumentType?, verifier: String?, source: Source, recordedBy: UUID?) {
        self.status = status
        self.documentType = documentType
        self.verifier = verifier
        self.source = source
        self.recordedBy = recordedBy
    }
}

public struct RecordedIdentityProof: Sendable, Equatable {
    public var proof: IdentityProof
    public var recordedByName: String?
    public var recordedAt: String
}

/// Patients, their local ids, the cases communities hold, merges.
public struct PatientStore: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    static let columns = """
        p.id, p.birth_name, p.first_names, p.first_name, p.used_name, p.used_first_name, p.birth_date, p.sex,
        p.birth_place_code, p.ins_matricule, p.ins_oid, p.identity_status, p.merged_into, p.created_at
        """

    /// Creates the patient and opens a draft case for them in `communityID`, with the
    /// creator in the care team when `careReason` is given, and the proofs of a validated
    /// or qualified identity when given; all in one transaction. An INS already carried by
    /// another live record is refused (`StoreError.duplicateINS`): never two records with one INS.
    public func create(
        _ identity: PatientIdentity, id: UUID = UUID(), in communityID: UUID, by userID: UUID,
        careReason: String?, localID: (organisationID: UUID, ipp: String)?, proofs: [IdentityProof] = [],
        audit: AuditDraft, at now: Date = Date()
    ) async throws -> UUID {
        return try await database.write { sql in
            let stamp = Timestamp.iso8601(now)
            if let ins = identity.ins, let holder = try await Self.holder(of: ins, on: sql) { throw StoreError.duplicateINS(holder) }
            try await sql.raw("""
                INSERT INTO patients (id, birth_name, first_names, first_name, used_name, used_first_name, birth_date, sex,
                                      birth_place_code, ins_matricule, ins_oid, identity_status, created_by, created_at, updated_at)
                VALUES (\(bind: id.storageKey), \(bind: identity.birthName), \(bind: identity.firstNames), \(bind: identity.firstName),
                        \(bind: identity.usedName), \(bind: identity.usedFirstName), \(bind: identity.birthDate.iso),
                        \(bind: identity.sex.rawValue), \(bind: identity.birthPlaceCode), \(bind: identity.ins?.matricule),
                        \(bind: identity.ins?.oid), \(bind: identity.status.rawValue), \(bind: userID.storageKey), \(bind: stamp), \(bind: stamp))
                """).run()
            try await Self.openCase(patientID: id, communityID: communityID, by: userID, on: sql, at: now)
            if let careReason {
                try await CareStore.insertCareLink(patientID: id, party: .professional(userID), reason: careReason, start: now, end: nil, declaredBy: userID, on: sql, at: now)
            }
            if let localID { try await Self.insertLocalID(patientID: id, organisationID: localID.organisationID, ipp: localID.ipp, on: sql) }
            for proof in proofs { try await Self.insertProof(proof, patientID: id, on: sql, at: now) }
            var audit = audit
            audit.patientID = id
            audit.resourceID = id.storageKey
            try await AuditLog.append(audit, on: sql, database: database, at: now)
            return id
        }
    }

    /// The live record (not merged away) carrying this INS, if any.
    public func holder(of ins: INS) async throws -> UUID? {
        try await database.read { sql in try await Self.holder(of: ins, on: sql) }
    }

    static func holder(of ins: INS, on sql: any SQLDatabase) async throws -> UUID? {
        try await sql.raw("""
            SELECT id FROM patients WHERE ins_matricule = \(bind: ins.matricule) AND merged_into IS NULL
            """).first().flatMap { UUID(storageKey: try $0.decode(column: "id", as: String.self)) }
    }

    // MARK: Identity proofs

    static func insertProof(_ proof: IdentityProof, patientID: UUID, on sql: any SQLDatabase, at now: Date) async throws {
        try await sql.raw("""
            INSERT INTO identity_proofs (id, patient_id, status, document_type, verifier, source, recorded_by, recorded_at)
            VALUES (\(bind: UUID().storageKey), \(bind: patientID.storageKey), \(bind: proof.status.rawValue), \(bind: proof.documentType?.rawValue),
                    \(bind: proof.verifier), \(bind: proof.source.rawValue), \(bind: proof.recordedBy?.storageKey), \(bind: Timestamp.iso8601(now)))
            """).run()
    }

    /// Raises (or confirms) the identity's status with its proof, in one transaction with
    /// its audit event. Refused when the record changed status meanwhile (`statusChanged`).
    public func recordIdentityProof(_ proof: IdentityProof, patientID: UUID, expectedStatus: IdentityStatus, audit: AuditDraft, at now: Date = Date()) async throws {
        try await database.write { sql in
            let updated = try await sql.raw("""
                UPDATE patients SET identity_status = \(bind: proof.status.rawValue), updated_at = \(bind: Timestamp.iso8601(now))
                WHERE id = \(bind: patientID.storageKey) AND identity_status = \(bind: expectedStatus.rawValue) AND merged_into IS NULL
                RETURNING id
                """).first()
            guard updated != nil else { throw StoreError.statusChanged }
            try await Self.insertProof(proof, patientID: patientID, on: sql, at: now)
            try await AuditLog.append(audit, on: sql, database: database, at: now)
        }
    }

    /// How the identity's status was established, newest first, with who recorded it.
    public func identityProofs(of patientID: UUID) async throws -> [RecordedIdentityProof] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT p.status, p.document_type, p.verifier, p.source, p.recorded_at, u.display_name
                FROM identity_proofs p LEFT JOIN users u ON u.id = p.recorded_by
                WHERE p.patient_id = \(bind: patientID.storageKey) ORDER BY p.recorded_at DESC
                """).all().compactMap { row -> RecordedIdentityProof? in
                    guard let status = IdentityStatus(rawValue: try row.decode(column: "status", as: String.self)),
                          let source = IdentityProof.Source(rawValue: try row.decode(column: "source", as: String.self)) else { return nil }
                    return RecordedIdentityProof(
                        proof: IdentityProof(status: status,
                                             documentType: try row.decode(column: "document_type", as: String?.self).flatMap(IdentityDocumentType.init(rawValue:)),
                                             verifier: try row.decode(column: "verifier", as: String?.self), source: source, recordedBy: nil),
                        recordedByName: try row.decode(column: "display_name", as: String?.self),
                        recordedAt: try row.decode(column: "recorded_at", as: String.self))
                }
        }
    }

    /// Opens a draft case for an existing patient in another community (re-using the record).
    public func openCase(patientID: UUID, in communityID: UUID, by userID: UUID, audit: AuditDraft, at now: Date = Date()) async throws {
        try await database.write { sql in
            try await Self.openCase(patientID: patientID, communityID: communityID, by: userID, on: sql, at: now)
            try await AuditLog.append(audit, on: sql, database: database, at: now)
        }
    }

    static func openCase(patientID: UUID, communityID: UUID, by userID: UUID, on sql: any SQLDatabase, at now: Date) async throws {
        try await sql.raw("""
            INSERT INTO cases (id, community_id, patient_id, status, created_by, created_at)
            VALUES (\(bind: UUID().storageKey), \(bind: communityID.storageKey), \(bind: patientID.storageKey), 'draft',
                    \(bind: userID.storageKey), \(bind: Timestamp.iso8601(now)))
            """).run()
    }

    static func insertLocalID(patientID: UUID, organisationID: UUID, ipp: String, on sql: any SQLDatabase) async throws {
        guard LocalPatientID.isValid(ipp) else { throw StoreError.invalidLocalID }
        let taken = try await sql.raw("""
            SELECT patient_id FROM patient_local_ids WHERE organisation_id = \(bind: organisationID.storageKey) AND ipp = \(bind: ipp)
            """).first()
        guard taken == nil else { throw StoreError.duplicateLocalID }
        try await sql.raw("""
            INSERT INTO patient_local_ids (organisation_id, ipp, patient_id)
            VALUES (\(bind: organisationID.storageKey), \(bind: ipp), \(bind: patientID.storageKey))
            """).run()
    }

    public func addLocalID(patientID: UUID, organisationID: UUID, ipp: String, audit: AuditDraft, at now: Date = Date()) async throws {
        try await database.write { sql in
            try await Self.insertLocalID(patientID: patientID, organisationID: organisationID, ipp: ipp, on: sql)
            try await AuditLog.append(audit, on: sql, database: database, at: now)
        }
    }

    public func find(id: UUID) async throws -> PatientRecord? {
        try await database.read { sql in
            try await sql.raw("SELECT \(unsafeRaw: Self.columns) FROM patients p WHERE p.id = \(bind: id.storageKey)").first().flatMap(Self.record(from:))
        }
    }

    /// Existing records that may be the same person, strongest match first.
    public func matches(for identity: PatientIdentity) async throws -> [(record: PatientRecord, strength: PatientMatching.Strength)] {
        let rows = try await database.read { sql in
            try await sql.raw("""
                SELECT \(unsafeRaw: Self.columns) FROM patients p
                WHERE p.merged_into IS NULL
                  AND (p.ins_matricule = \(bind: identity.ins?.matricule ?? "")
                       OR (p.birth_date = \(bind: identity.birthDate.iso) AND p.sex = \(bind: identity.sex.rawValue)))
                """).all().compactMap(Self.record(from:))
        }
        return rows.compactMap { record in PatientMatching.match(identity, record.identity).map { (record, $0) } }
            .sorted { $0.strength > $1.strength }
    }

    public func localIDs(of patientID: UUID) async throws -> [(organisation: String, ipp: String)] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT o.name, l.ipp FROM patient_local_ids l JOIN organisations o ON o.id = l.organisation_id
                WHERE l.patient_id = \(bind: patientID.storageKey) ORDER BY o.name, l.ipp
                """).all().map { (try $0.decode(column: "name", as: String.self), try $0.decode(column: "ipp", as: String.self)) }
        }
    }

    /// The patient's IPPs with the FINESS of the organisation that issued each.
    public func localIdentifiers(of patientID: UUID) async throws -> [(finess: String, ipp: String)] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT o.finess, l.ipp FROM patient_local_ids l JOIN organisations o ON o.id = l.organisation_id
                WHERE l.patient_id = \(bind: patientID.storageKey) ORDER BY o.finess, l.ipp
                """).all().map { (try $0.decode(column: "finess", as: String.self), try $0.decode(column: "ipp", as: String.self)) }
        }
    }

    public func cases(of patientID: UUID) async throws -> [HeldCase] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT c.id, c.community_id, m.name, c.status, c.created_at FROM cases c JOIN communities m ON m.id = c.community_id
                WHERE c.patient_id = \(bind: patientID.storageKey) ORDER BY c.created_at DESC
                """).all().compactMap { row -> HeldCase? in
                guard let id = UUID(storageKey: try row.decode(column: "id", as: String.self)),
                      let community = UUID(storageKey: try row.decode(column: "community_id", as: String.self)) else { return nil }
                return HeldCase(id: id, communityID: community, communityName: try row.decode(column: "name", as: String.self),
                                status: try row.decode(column: "status", as: String.self), createdAt: try row.decode(column: "created_at", as: String.self))
            }
        }
    }

    /// The patients with a case in the community (administrative list), by name.
    public func patients(inCommunity communityID: UUID) async throws -> [PatientRecord] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT \(unsafeRaw: Self.columns) FROM patients p
                WHERE p.id IN (SELECT patient_id FROM cases WHERE community_id = \(bind: communityID.storageKey))
                ORDER BY p.birth_name, p.first_name
                """).all().compactMap(Self.record(from:))
        }
    }

    /// Pairs of live records that look like the same person, for the identity admins.
    public func suspectedDuplicates(limit: Int = 100) async throws -> [(PatientRecord, PatientRecord)] {
        let candidates = try await database.read { sql in
            try await sql.raw("""
                SELECT \(unsafeRaw: Self.columns) FROM patients p
                WHERE p.merged_into IS NULL AND EXISTS (
                    SELECT 1 FROM patients q WHERE q.id <> p.id AND q.merged_into IS NULL
                      AND ((q.birth_date = p.birth_date AND q.sex = p.sex) OR q.ins_matricule = p.ins_matricule))
                ORDER BY p.birth_date, p.created_at
                """).all().compactMap(Self.record(from:))
        }
        var pairs: [(PatientRecord, PatientRecord)] = []
        for (index, first) in candidates.enumerated() {
            for second in candidates[(index + 1)...] where PatientMatching.match(first.identity, second.identity) != nil {
                pairs.append((first, second))
                if pairs.count == limit { return pairs }
            }
        }
        return pairs
    }

    public enum MergeError: Error, Equatable {
        case samePatient
        case alreadyMerged
    }

    /// Merges `mergedID` into `survivorID`: its cases, care team, oppositions, grants and
    /// local ids move to the survivor; the merged record stays, pointing at the survivor,
    /// and its audit history stays under its own id (the access report reads both).
    public func merge(survivorID: UUID, mergedID: UUID, by userID: UUID, reason: String, audit: AuditDraft, at now: Date = Date()) async throws {
        guard survivorID != mergedID else { throw MergeError.samePatient }
        try await database.write { sql in
            struct State: Decodable { var id: String; var merged_into: String? }
            let states = try await sql.raw("""
                SELECT id, merged_into FROM patients WHERE id IN (\(bind: survivorID.storageKey), \(bind: mergedID.storageKey))
                """).all(decoding: State.self)
            guard states.count == 2 else { throw StoreError.notFound }
            guard states.allSatisfy({ $0.merged_into == nil }) else { throw MergeError.alreadyMerged }
            let survivor = survivorID.storageKey, merged = mergedID.storageKey
            for table in ["cases", "care_relationships", "oppositions", "emergency_access", "patient_local_ids"] {
                try await sql.raw("UPDATE \(unsafeRaw: table) SET patient_id = \(bind: survivor) WHERE patient_id = \(bind: merged)").run()
            }
            // Each record had its own first discussion in a community; one person has one. The
            // triggers have just recomputed each fiche's previous discussion for the survivor
            // (migration 0029): the first is the fiche without one, the others re-presentations.
            try await sql.raw("""
                UPDATE cases SET first_presentation = CASE WHEN previous_discussed_on IS NULL THEN 1 ELSE 0 END
                WHERE patient_id = \(bind: survivor) AND discussed_on IS NOT NULL AND status IN ('discussed', 'validated')
                """).run()
            try await sql.raw("""
                UPDATE patients SET merged_into = \(bind: survivor), updated_at = \(bind: Timestamp.iso8601(now)) WHERE id = \(bind: merged)
                """).run()
            try await sql.raw("""
                INSERT INTO patient_merges (id, survivor_id, merged_id, merged_by, reason, merged_at)
                VALUES (\(bind: UUID().storageKey), \(bind: survivor), \(bind: merged), \(bind: userID.storageKey), \(bind: reason), \(bind: Timestamp.iso8601(now)))
                """).run()
            try await AuditLog.append(audit, on: sql, database: database, at: now)
        }
    }

    /// The records merged into `patientID` (directly or through earlier merges).
    public func mergedRecords(into patientID: UUID) async throws -> [UUID] {
        var found: [UUID] = []
        var frontier = [patientID]
        while let next = frontier.popLast() {
            let children = try await database.read { sql in
                try await sql.raw("SELECT merged_id FROM patient_merges WHERE survivor_id = \(bind: next.storageKey)").all()
                    .compactMap { UUID(storageKey: try $0.decode(column: "merged_id", as: String.self)) }
            }
            found.append(contentsOf: children)
            frontier.append(contentsOf: children)
        }
        return found
    }

    static func record(from row: any SQLRow) throws -> PatientRecord? {
        guard let id = UUID(storageKey: try row.decode(column: "id", as: String.self)),
              let birthDate = CalendarDate(iso: try row.decode(column: "birth_date", as: String.self)),
              let sex = AdministrativeSex(rawValue: try row.decode(column: "sex", as: String.self)),
              let status = IdentityStatus(rawValue: try row.decode(column: "identity_status", as: String.self)) else { return nil }
        var ins: INS?
        if let matricule = try row.decode(column: "ins_matricule", as: String?.self),
           let kind = try row.decode(column: "ins_oid", as: String?.self).flatMap(INSKind.init(oid:)) {
            ins = try? INS(matricule: matricule, kind: kind)
        }
        let identity = PatientIdentity(
            birthName: try row.decode(column: "birth_name", as: String.self),
            firstNames: try row.decode(column: "first_names", as: String.self),
            firstName: try row.decode(column: "first_name", as: String.self),
            usedName: try row.decode(column: "used_name", as: String?.self),
            usedFirstName: try row.decode(column: "used_first_name", as: String?.self),
            birthDate: birthDate, sex: sex,
            birthPlaceCode: try row.decode(column: "birth_place_code", as: String?.self),
            ins: ins, status: status
        )
        return PatientRecord(
            id: id, identity: identity,
            mergedInto: try row.decode(column: "merged_into", as: String?.self).flatMap(UUID.init(storageKey:)),
            createdAt: try row.decode(column: "created_at", as: String.self)
        )
    }
}
