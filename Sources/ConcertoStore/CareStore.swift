import ConcertoCore
import Foundation
import SQLKit

/// Care relationships, oppositions and break-the-glass grants: the facts behind the
/// access policy, and the facts loader itself.
public struct CareStore: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    // MARK: Care team

    public struct CareLinkRow: Sendable, Equatable {
        public var id: UUID
        public var link: CareLink
        public var partyName: String
        public var reason: String
        public var declaredByName: String
    }

    static func insertCareLink(
        patientID: UUID, party: CareLink.Party, reason: String, start: Date, end: Date?, declaredBy: UUID,
        on sql: any SQLDatabase, at now: Date
    ) async throws {
        var userID: String?, organisationID: String?
        switch party {
        case .professional(let id): userID = id.storageKey
        case .organisation(let id): organisationID = id.storageKey
        }
        try await sql.raw("""
            INSERT INTO care_relationships (id, patient_id, user_id, organisation_id, reason, starts_at, ends_at, declared_by, declared_at)
            VALUES (\(bind: UUID().storageKey), \(bind: patientID.storageKey), \(bind: userID), \(bind: organisationID), \(bind: reason),
                    \(bind: Timestamp.epochSeconds(start)), \(bind: end.map(Timestamp.epochSeconds)), \(bind: declaredBy.storageKey),
                    \(bind: Timestamp.iso8601(now)))
            """).run()
    }

    public func addCareLink(patientID: UUID, party: CareLink.Party, reason: String, start: Date, end: Date?, declaredBy: UUID, audit: AuditDraft, at now: Date = Date()) async throws {
        try await database.write { sql in
            try await Self.insertCareLink(patientID: patientID, party: party, reason: reason, start: start, end: end, declaredBy: declaredBy, on: sql, at: now)
            try await AuditLog.append(audit, on: sql, database: database, at: now)
        }
    }

    /// Ends an open relationship of this patient now; false when there is none by that id.
    public func endCareLink(id: UUID, patientID: UUID, audit: AuditDraft, at now: Date = Date()) async throws -> Bool {
        return try await database.write { sql in
            let ended = try await sql.raw("""
                UPDATE care_relationships SET ends_at = \(bind: Timestamp.epochSeconds(now))
                WHERE id = \(bind: id.storageKey) AND patient_id = \(bind: patientID.storageKey)
                  AND (ends_at IS NULL OR ends_at > \(bind: Timestamp.epochSeconds(now)))
                RETURNING id
                """).first()
            guard ended != nil else { return false }
            try await AuditLog.append(audit, on: sql, database: database, at: now)
            return true
        }
    }

    public func careLinks(of patientID: UUID) async throws -> [CareLinkRow] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT r.id, r.user_id, r.organisation_id, r.reason, r.starts_at, r.ends_at,
                       COALESCE(u.display_name, o.name) AS party_name, d.display_name AS declared_by_name
                FROM care_relationships r
                LEFT JOIN users u ON u.id = r.user_id
                LEFT JOIN organisations o ON o.id = r.organisation_id
                JOIN users d ON d.id = r.declared_by
                WHERE r.patient_id = \(bind: patientID.storageKey)
                ORDER BY r.starts_at DESC
                """).all().compactMap { row -> CareLinkRow? in
                guard let id = UUID(storageKey: try row.decode(column: "id", as: String.self)) else { return nil }
                let party: CareLink.Party
                if let user = try row.decode(column: "user_id", as: String?.self).flatMap(UUID.init(storageKey:)) {
                    party = .professional(user)
                } else if let organisation = try row.decode(column: "organisation_id", as: String?.self).flatMap(UUID.init(storageKey:)) {
                    party = .organisation(organisation)
                } else { return nil }
                return CareLinkRow(
                    id: id,
                    link: CareLink(party: party, start: Timestamp.date(epochSeconds: try row.decode(column: "starts_at", as: Int64.self)),
                                   end: try row.decode(column: "ends_at", as: Int64?.self).map(Timestamp.date(epochSeconds:))),
                    partyName: try row.decode(column: "party_name", as: String?.self) ?? "?",
                    reason: try row.decode(column: "reason", as: String.self),
                    declaredByName: try row.decode(column: "declared_by_name", as: String.self)
                )
            }
        }
    }

    // MARK: Oppositions

    public struct OppositionRow: Sendable, Equatable {
        public var id: UUID
        public var scope: OppositionScope
        public var targetName: String
        public var recordedByName: String
    }

    public func recordOpposition(patientID: UUID, target: OppositionScope.Target, by userID: UUID, audit: AuditDraft, at now: Date = Date()) async throws {
        let (communityID, organisationID): (String?, String?) = switch target {
        case .community(let id): (id.storageKey, nil)
        case .organisation(let id): (nil, id.storageKey)
        }
        try await database.write { sql in
            try await sql.raw("""
                INSERT INTO oppositions (id, patient_id, community_id, organisation_id, recorded_by, recorded_at)
                VALUES (\(bind: UUID().storageKey), \(bind: patientID.storageKey), \(bind: communityID), \(bind: organisationID),
                        \(bind: userID.storageKey), \(bind: Timestamp.epochSeconds(now)))
                """).run()
            try await AuditLog.append(audit, on: sql, database: database, at: now)
        }
    }

    public func withdrawOpposition(id: UUID, patientID: UUID, by userID: UUID, reason: String, audit: AuditDraft, at now: Date = Date()) async throws -> Bool {
        return try await database.write { sql in
            let withdrawn = try await sql.raw("""
                UPDATE oppositions SET withdrawn_at = \(bind: Timestamp.epochSeconds(now)), withdrawn_by = \(bind: userID.storageKey),
                       withdrawal_reason = \(bind: reason)
                WHERE id = \(bind: id.storageKey) AND patient_id = \(bind: patientID.storageKey) AND withdrawn_at IS NULL
                RETURNING id
                """).first()
            guard withdrawn != nil else { return false }
            try await AuditLog.append(audit, on: sql, database: database, at: now)
            return true
        }
    }

    public func oppositions(of patientID: UUID) async throws -> [OppositionRow] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT p.id, p.community_id, p.organisation_id, p.recorded_at, p.withdrawn_at,
                       COALESCE(c.name, o.name) AS target_name, u.display_name AS recorded_by_name
                FROM oppositions p
                LEFT JOIN communities c ON c.id = p.community_id
                LEFT JOIN organisations o ON o.id = p.organisation_id
                JOIN users u ON u.id = p.recorded_by
                WHERE p.patient_id = \(bind: patientID.storageKey)
                ORDER BY p.recorded_at DESC
                """).all().compactMap { row -> OppositionRow? in
                guard let id = UUID(storageKey: try row.decode(column: "id", as: String.self)) else { return nil }
                let target: OppositionScope.Target
                if let community = try row.decode(column: "community_id", as: String?.self).flatMap(UUID.init(storageKey:)) {
                    target = .community(community)
                } else if let organisation = try row.decode(column: "organisation_id", as: String?.self).flatMap(UUID.init(storageKey:)) {
                    target = .organisation(organisation)
                } else { return nil }
                return OppositionRow(
                    id: id,
                    scope: OppositionScope(target: target, recordedAt: Timestamp.date(epochSeconds: try row.decode(column: "recorded_at", as: Int64.self)),
                                           withdrawnAt: try row.decode(column: "withdrawn_at", as: Int64?.self).map(Timestamp.date(epochSeconds:))),
                    targetName: try row.decode(column: "target_name", as: String?.self) ?? "?",
                    recordedByName: try row.decode(column: "recorded_by_name", as: String.self)
                )
            }
        }
    }

    // MARK: Break-the-glass

    public func recordEmergencyGrant(
        _ grant: EmergencyGrant, patientID: UUID, userID: UUID, communityID: UUID?, reasonCode: String, justification: String, audit: AuditDraft
    ) async throws {
        try await database.write { sql in
            try await sql.raw("""
                INSERT INTO emergency_access (id, patient_id, user_id, community_id, reason_code, justification, overrides_opposition, granted_at, expires_at)
                VALUES (\(bind: UUID().storageKey), \(bind: patientID.storageKey), \(bind: userID.storageKey), \(bind: communityID?.storageKey),
                        \(bind: reasonCode), \(bind: justification), \(bind: grant.overridesOpposition),
                        \(bind: Timestamp.epochSeconds(grant.grantedAt)), \(bind: Timestamp.epochSeconds(grant.expiresAt)))
                """).run()
            try await AuditLog.append(audit, on: sql, database: database, at: grant.grantedAt)
        }
    }

    public struct EmergencyGrantRow: Sendable, Equatable {
        public var patientID: UUID
        public var patientName: String
        public var userName: String
        public var reasonCode: String
        public var justification: String
        public var grant: EmergencyGrant
    }

    /// Grants taken on patients of the community, newest first (reviewed by its coordinators).
    public func emergencyGrants(inCommunity communityID: UUID, limit: Int = 100) async throws -> [EmergencyGrantRow] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT e.patient_id, e.reason_code, e.justification, e.overrides_opposition, e.granted_at, e.expires_at,
                       u.display_name, p.birth_name, p.first_name, p.used_name, p.used_first_name
                FROM emergency_access e JOIN users u ON u.id = e.user_id JOIN patients p ON p.id = e.patient_id
                WHERE e.community_id = \(bind: communityID.storageKey)
                   OR e.patient_id IN (SELECT patient_id FROM cases WHERE community_id = \(bind: communityID.storageKey))
                ORDER BY e.granted_at DESC LIMIT \(literal: limit)
                """).all().compactMap { row -> EmergencyGrantRow? in
                guard let patient = UUID(storageKey: try row.decode(column: "patient_id", as: String.self)) else { return nil }
                return EmergencyGrantRow(
                    patientID: patient,
                    patientName: PatientIdentity.displayName(
                        birthName: try row.decode(column: "birth_name", as: String.self), usedName: try row.decode(column: "used_name", as: String?.self),
                        firstName: try row.decode(column: "first_name", as: String.self),
                        usedFirstName: try row.decode(column: "used_first_name", as: String?.self)),
                    userName: try row.decode(column: "display_name", as: String.self),
                    reasonCode: try row.decode(column: "reason_code", as: String.self),
                    justification: try row.decode(column: "justification", as: String.self),
                    grant: EmergencyGrant(
                        grantedAt: Timestamp.date(epochSeconds: try row.decode(column: "granted_at", as: Int64.self)),
                        expiresAt: Timestamp.date(epochSeconds: try row.decode(column: "expires_at", as: Int64.self)),
                        overridesOpposition: try row.decode(column: "overrides_opposition", as: Bool.self))
                )
            }
        }
    }

    // MARK: Access facts

    /// Everything `AccessPolicy` needs about `userID` and `patientID`, in one query (the
    /// patient's whole care team and the user's memberships: a handful of rows the policy
    /// sorts out, which keeps the statement cheap to prepare).
    /// Nil when the patient does not exist or was merged into another record.
    public func accessFacts(userID: UUID, patientID: UUID, at now: Date = Date()) async throws -> AccessFacts? {
        try await accessFacts(userID: userID, patientIDs: [patientID], at: now)[patientID]
    }

    /// The same for several patients in one query (a list's rows: the agenda, the
    /// dashboard), keyed by patient; a patient that does not exist, or was merged away, is
    /// absent from the result.
    public func accessFacts(userID: UUID, patientIDs: [UUID], at now: Date = Date()) async throws -> [UUID: AccessFacts] {
        guard !patientIDs.isEmpty else { return [:] }
        let user = userID.storageKey, patients = patientIDs.map(\.storageKey), nowSeconds = Timestamp.epochSeconds(now)
        // Plain columns: the drivers' rows decode text and integers directly (building one
        // "kind|patient|..." text per row in SQL, as before, cost more than it saved: the
        // agenda page went from 1.65 to 1.58 ms of CPU on SQLite without it).
        // Meetings are reached from the patients' few cases, then checked for the user's
        // seat: CROSS JOIN fixes that order on SQLite, whose planner otherwise starts from
        // every meeting the user attended (0.5 ms instead of 0.04 for a regular of the
        // boards, and growing with each meeting).
        // Several patients' ids are bound once, in a VALUES list the branches read, not once
        // per branch: 40 ids were 200 parameters to serialise and bind. One patient (a
        // record page, a write) is compared directly: the list's CTE and the six semi-joins
        // on it made PostgreSQL's executor start and run the statement 40 % slower.
        let single = patients.count == 1 ? patients[0] : nil
        let wanted: SQLQueryString = single == nil ? "WITH wanted (id) AS (VALUES \(SQLQueryString.valueRows(patients)))" : ""
        let isWanted: SQLQueryString = single.map { "= \(bind: $0)" } ?? "IN (SELECT id FROM wanted)"
        let rows = try await database.read { sql in
            try await sql.raw("""
                \(wanted)
                SELECT 'patient' AS kind, id AS pid, CAST(NULL AS TEXT) AS ref, CAST(NULL AS TEXT) AS a, CAST(NULL AS TEXT) AS b,
                       CAST(NULL AS BIGINT) AS t1, CAST(NULL AS BIGINT) AS t2
                  FROM patients WHERE id \(isWanted) AND merged_into IS NULL
                UNION ALL
                SELECT 'user', NULL, organisation_id, CASE WHEN is_admin THEN 'admin' ELSE '' END, role || ':' || COALESCE(rpps_number, ''), NULL, NULL
                  FROM users WHERE id = \(bind: user)
                UNION ALL
                SELECT 'case', patient_id, community_id, NULL, NULL, NULL, NULL FROM cases WHERE patient_id \(isWanted)
                UNION ALL
                SELECT 'member', NULL, community_id, member_role, status, NULL, NULL FROM community_members WHERE user_id = \(bind: user)
                UNION ALL
                SELECT 'care', patient_id, COALESCE(user_id, organisation_id), CASE WHEN user_id IS NULL THEN 'organisation' ELSE 'professional' END,
                       NULL, starts_at, ends_at
                  FROM care_relationships WHERE patient_id \(isWanted)
                UNION ALL
                SELECT 'opposition', patient_id, COALESCE(community_id, organisation_id), CASE WHEN community_id IS NULL THEN 'organisation' ELSE 'community' END,
                       NULL, recorded_at, withdrawn_at
                  FROM oppositions WHERE patient_id \(isWanted)
                UNION ALL
                SELECT 'meeting', c.patient_id, m.community_id, NULL, NULL, m.starts_at, m.ends_at
                  FROM cases c
                  CROSS JOIN meeting_agenda ma
                  CROSS JOIN meetings m
                  CROSS JOIN meeting_participants mp
                  WHERE c.patient_id \(isWanted) AND ma.case_id = c.id AND m.id = ma.meeting_id
                    AND mp.meeting_id = m.id AND mp.user_id = \(bind: user)
                UNION ALL
                SELECT 'grant', patient_id, NULL, CASE WHEN overrides_opposition THEN 'override' ELSE '' END, NULL, granted_at, expires_at
                  FROM emergency_access
                  WHERE patient_id \(isWanted) AND user_id = \(bind: user) AND expires_at > \(bind: nowSeconds)
                """).all().map(FactRow.init(row:))
        }
        // The user's own facts first (they hold for every patient), then each patient's.
        var common = AccessFacts(userID: userID)
        var perPatient: [UUID: [FactRow]] = [:]
        var existing: [UUID] = []
        for row in rows {
            guard let row else { continue }
            switch row.kind {
            case .user:
                common.organisationID = row.ref
                common.isPlatformAdmin = row.a == "admin"
                let profession = row.b.split(separator: ":", omittingEmptySubsequences: false)
                common.isPhysician = profession.first == "physician" && profession.count == 2 && RPPSNumber(String(profession[1])) != nil
            case .member:
                if let ref = row.ref, let role = CommunityRole(rawValue: row.a), let status = MembershipStatus(rawValue: row.b) {
                    common.memberships[ref] = (role, status)
                }
            case .patient:
                if let patient = row.patient { existing.append(patient) }
            default:
                if let patient = row.patient { perPatient[patient, default: []].append(row) }
            }
        }
        var result: [UUID: AccessFacts] = [:]
        result.reserveCapacity(existing.count)
        for patient in existing {
            var facts = common
            for row in perPatient[patient] ?? [] {
                let t1 = row.t1.map(Timestamp.date(epochSeconds:)), t2 = row.t2.map(Timestamp.date(epochSeconds:))
                switch row.kind {
                case .case: if let ref = row.ref { facts.caseCommunities.insert(ref) }
                case .care:
                    if let ref = row.ref, let t1 { facts.careLinks.append(CareLink(party: row.a == "organisation" ? .organisation(ref) : .professional(ref), start: t1, end: t2)) }
                case .opposition:
                    if let ref = row.ref, let t1 {
                        facts.oppositions.append(OppositionScope(target: row.a == "organisation" ? .organisation(ref) : .community(ref), recordedAt: t1, withdrawnAt: t2))
                    }
                case .meeting:
                    if let ref = row.ref, let t1, let t2 { facts.meetings.append(MeetingParticipation(communityID: ref, startsAt: t1, endsAt: t2)) }
                case .grant:
                    if let t1, let t2 { facts.grants.append(EmergencyGrant(grantedAt: t1, expiresAt: t2, overridesOpposition: row.a == "override")) }
                case .user, .member, .patient: break
                }
            }
            result[patient] = facts
        }
        return result
    }
}

/// One row of the access-facts query: what kind of fact, for which patient, about which
/// community, organisation or professional (`ref`), with short codes and a time span.
struct FactRow {
    enum Kind { case patient, user, `case`, member, care, opposition, meeting, grant }
    var kind: Kind
    var patient: UUID?
    var ref: UUID?
    /// Short codes (a role, a status, `organisation`, `override`...).
    var a: String
    var b: String
    var t1: Int64?
    var t2: Int64?

    init?(row: any SQLRow) throws {
        switch try row.decode(column: "kind", as: String.self) {
        case "patient": kind = .patient
        case "user": kind = .user
        case "case": kind = .case
        case "member": kind = .member
        case "care": kind = .care
        case "opposition": kind = .opposition
        case "meeting": kind = .meeting
        case "grant": kind = .grant
        default: return nil
        }
        patient = try row.decode(column: "pid", as: String?.self).flatMap { UUID(storageKey: $0) }
        ref = try row.decode(column: "ref", as: String?.self).flatMap { UUID(storageKey: $0) }
        a = try row.decode(column: "a", as: String?.self) ?? ""
        b = try row.decode(column: "b", as: String?.self) ?? ""
        t1 = try row.decode(column: "t1", as: Int64?.self)
        t2 = try row.decode(column: "t2", as: Int64?.self)
    }
}

extension SQLQueryString {
    /// `(?), (?), ...`: one bound value per row, for `WITH wanted (id) AS (VALUES ...)`, so
    /// that a statement's branches all read ids bound once.
    static func valueRows(_ values: [String]) -> SQLQueryString {
        var rows = SQLQueryString("")
        for (index, value) in values.enumerated() {
            rows.appendLiteral(index == 0 ? "(" : ", (")
            rows.appendInterpolation(bind: value)
            rows.appendLiteral(")")
        }
        return rows
    }
}
