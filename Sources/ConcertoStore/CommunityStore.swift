import ConcertoCore
import Foundation
import SQLKit

/// Communities, their member organisations and their members.
public struct CommunityStore: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// Creates the community, with its first coordinator when given, and the audit event.
    public func create(_ community: Community, coordinator: UUID? = nil, audit: AuditDraft? = nil, at now: Date = Date()) async throws {
        try await database.write { sql in
            let taken = try await sql.raw("SELECT id FROM communities WHERE name = \(bind: community.name)").first()
            guard taken == nil else { throw StoreError.duplicateCommunityName }
            try await sql.raw("""
                INSERT INTO communities (id, name, region, kind, created_at)
                VALUES (\(bind: community.id.storageKey), \(bind: community.name), \(bind: community.region),
                        \(bind: community.kind.rawValue), \(bind: Timestamp.iso8601(now)))
                """).run()
            if let coordinator {
                try await sql.raw("""
                    INSERT INTO community_members (community_id, user_id, member_role, status, updated_at)
                    VALUES (\(bind: community.id.storageKey), \(bind: coordinator.storageKey), \(bind: CommunityRole.coordinator.rawValue),
                            \(bind: MembershipStatus.active.rawValue), \(bind: Timestamp.iso8601(now)))
                    """).run()
            }
            if let audit { _ = try await AuditLog.append(audit, on: sql, database: database, at: now) }
        }
    }

    /// Adds a member organisation; false when it already is one.
    @discardableResult
    public func addOrganisation(_ organisationID: UUID, to communityID: UUID, audit: AuditDraft? = nil, at now: Date = Date()) async throws -> Bool {
        return try await database.write { sql in
            let present = try await sql.raw("""
                SELECT organisation_id FROM community_organisations
                WHERE community_id = \(bind: communityID.storageKey) AND organisation_id = \(bind: organisationID.storageKey)
                """).first()
            guard present == nil else { return false }
            try await sql.raw("""
                INSERT INTO community_organisations (community_id, organisation_id)
                VALUES (\(bind: communityID.storageKey), \(bind: organisationID.storageKey))
                """).run()
            if let audit { _ = try await AuditLog.append(audit, on: sql, database: database, at: now) }
            return true
        }
    }

    /// Every community with its number of active members, by name.
    public func overview() async throws -> [(community: Community, activeMembers: Int)] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT c.id, c.name, c.region, c.kind,
                       (SELECT COUNT(*) FROM community_members m WHERE m.community_id = c.id AND m.status = 'active') AS members
                FROM communities c ORDER BY c.name
                """).all().compactMap { row -> (Community, Int)? in
                guard let community = try Self.community(from: row) else { return nil }
                return (community, Int(try row.decode(column: "members", as: Int64.self)))
            }
        }
    }

    /// Adds an active member directly (seeding, CLI); the web goes through `invite`.
    public func addMember(userID: UUID, to communityID: UUID, role: CommunityRole, status: MembershipStatus = .active, at now: Date = Date()) async throws {
        try await database.write { sql in
            try await Self.requireProfession(for: role, userID: userID, on: sql)
            try await sql.raw("""
                INSERT INTO community_members (community_id, user_id, member_role, status, updated_at)
                VALUES (\(bind: communityID.storageKey), \(bind: userID.storageKey), \(bind: role.rawValue),
                        \(bind: status.rawValue), \(bind: Timestamp.iso8601(now)))
                """).run()
        }
    }

    /// A role follows a profession: the community's physician role goes to physicians with
    /// a valid RPPS number only.
    static func requireProfession(for role: CommunityRole, userID: UUID, on sql: any SQLDatabase) async throws {
        guard role == .physician else { return }
        struct Profession: Decodable { var role: String; var rpps_number: String? }
        let profession = try await sql.raw("SELECT role, rpps_number FROM users WHERE id = \(bind: userID.storageKey)").first(decoding: Profession.self)
        guard let profession, profession.role == ProfessionalRole.physician.rawValue, profession.rpps_number.flatMap({ RPPSNumber($0) }) != nil else {
            throw StoreError.physicianRoleNeedsRPPS
        }
    }

    /// Invites an existing account; an existing membership is left as it is.
    public func invite(userID: UUID, to communityID: UUID, role: CommunityRole, audit: AuditDraft, at now: Date = Date()) async throws {
        try await database.write { sql in
            let existing = try await sql.raw("""
                SELECT user_id FROM community_members WHERE community_id = \(bind: communityID.storageKey) AND user_id = \(bind: userID.storageKey)
                """).first()
            guard existing == nil else { throw StoreError.alreadyMember }
            try await Self.requireProfession(for: role, userID: userID, on: sql)
            try await sql.raw("""
                INSERT INTO community_members (community_id, user_id, member_role, status, updated_at)
                VALUES (\(bind: communityID.storageKey), \(bind: userID.storageKey), \(bind: role.rawValue),
                        \(bind: MembershipStatus.invited.rawValue), \(bind: Timestamp.iso8601(now)))
                """).run()
            try await AuditLog.append(audit, on: sql, database: database, at: now)
        }
    }

    /// Moves a membership from one of `from` to `to`; false when it was in none of them.
    public func changeStatus(userID: UUID, in communityID: UUID, from: [MembershipStatus], to: MembershipStatus, audit: AuditDraft, at now: Date = Date()) async throws -> Bool {
        return try await database.write { sql in
            var query = SQLQueryString("""
                UPDATE community_members SET status = \(bind: to.rawValue), updated_at = \(bind: Timestamp.iso8601(now))
                WHERE community_id = \(bind: communityID.storageKey) AND user_id = \(bind: userID.storageKey) AND status IN (
                """)
            query.appendInterpolation(binds: from.map(\.rawValue))
            query = query + ") RETURNING user_id"
            guard try await sql.raw(query).first() != nil else { return false }
            try await AuditLog.append(audit, on: sql, database: database, at: now)
            return true
        }
    }

    public func find(id: UUID) async throws -> Community? {
        try await database.read { sql in
            try await sql.raw("SELECT id, name, region, kind FROM communities WHERE id = \(bind: id.storageKey)").first().flatMap(Self.community(from:))
        }
    }

    /// The communities a user belongs to (any status), by name, with their membership.
    public func communities(ofUser userID: UUID) async throws -> [(community: Community, membership: Membership)] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT c.id, c.name, c.region, c.kind, m.member_role, m.status
                FROM communities c JOIN community_members m ON m.community_id = c.id
                WHERE m.user_id = \(bind: userID.storageKey)
                ORDER BY c.name
                """).all().compactMap { row -> (Community, Membership)? in
                guard let community = try Self.community(from: row),
                      let role = CommunityRole(rawValue: try row.decode(column: "member_role", as: String.self)),
                      let status = MembershipStatus(rawValue: try row.decode(column: "status", as: String.self)) else { return nil }
                return (community, Membership(communityID: community.id, userID: userID, role: role, status: status))
            }
        }
    }

    public func membership(userID: UUID, in communityID: UUID) async throws -> Membership? {
        try await database.read { sql in
            try await sql.raw("""
                SELECT member_role, status FROM community_members
                WHERE community_id = \(bind: communityID.storageKey) AND user_id = \(bind: userID.storageKey)
                """).first().flatMap { row -> Membership? in
                guard let role = CommunityRole(rawValue: try row.decode(column: "member_role", as: String.self)),
                      let status = MembershipStatus(rawValue: try row.decode(column: "status", as: String.self)) else { return nil }
                return Membership(communityID: communityID, userID: userID, role: role, status: status)
            }
        }
    }

    public struct Member: Sendable, Equatable {
        public var user: User
        public var membership: Membership
        public var organisationName: String?
    }

    public func members(of communityID: UUID) async throws -> [Member] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT u.id, u.email, u.display_name, u.rpps_number, u.specialty, u.specialty_code, u.role, u.is_admin,
                       m.member_role, m.status, o.name AS organisation_name
                FROM community_members m JOIN users u ON u.id = m.user_id
                LEFT JOIN organisations o ON o.id = u.organisation_id
                WHERE m.community_id = \(bind: communityID.storageKey)
                ORDER BY u.display_name
                """).all().compactMap { row -> Member? in
                guard let id = UUID(storageKey: try row.decode(column: "id", as: String.self)),
                      let platformRole = ProfessionalRole(rawValue: try row.decode(column: "role", as: String.self)),
                      let role = CommunityRole(rawValue: try row.decode(column: "member_role", as: String.self)),
                      let status = MembershipStatus(rawValue: try row.decode(column: "status", as: String.self)) else { return nil }
                let user = User(
                    id: id, email: try row.decode(column: "email", as: String.self),
                    displayName: try row.decode(column: "display_name", as: String.self),
                    rppsNumber: try row.decode(column: "rpps_number", as: String?.self),
                    specialty: try row.decode(column: "specialty", as: String?.self),
                    specialtyCode: try row.decode(column: "specialty_code", as: String?.self),
                    role: platformRole, isAdmin: try row.decode(column: "is_admin", as: Bool.self)
                )
                return Member(user: user, membership: Membership(communityID: communityID, userID: id, role: role, status: status),
                              organisationName: try row.decode(column: "organisation_name", as: String?.self))
            }
        }
    }

    public func organisations(of communityID: UUID) async throws -> [Organisation] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT \(unsafeRaw: OrganisationStore.columns("o.")) FROM organisations o
                JOIN community_organisations co ON co.organisation_id = o.id
                WHERE co.community_id = \(bind: communityID.storageKey) ORDER BY o.name
                """).all().compactMap(OrganisationStore.organisation(from:))
        }
    }

    public func all() async throws -> [Community] {
        try await database.read { sql in
            try await sql.raw("SELECT id, name, region, kind FROM communities ORDER BY name").all().compactMap(Self.community(from:))
        }
    }

    static func community(from row: any SQLRow) throws -> Community? {
        guard let id = UUID(storageKey: try row.decode(column: "id", as: String.self)),
              let kind = CommunityKind(rawValue: try row.decode(column: "kind", as: String.self)) else { return nil }
        return Community(id: id, name: try row.decode(column: "name", as: String.self), region: try row.decode(column: "region", as: String.self), kind: kind)
    }

    // MARK: Fiche header registration (CI-SIS FRCP componentOf)

    /// The community's regional cancer network and its default board id and manager.
    public func registration(of communityID: UUID) async throws -> BoardRegistration {
        try await registration(communityID: communityID, seriesID: nil)
    }

    /// What a meeting's fiches carry: the community's network, and the board id and
    /// manager of the meeting's series, else the community's.
    public func registration(communityID: UUID, seriesID: UUID?) async throws -> BoardRegistration {
        try await database.read { sql in
            guard let row = try await sql.raw("""
                SELECT c.network_name, c.network_id, COALESCE(s.board_id, c.board_id) AS board_id,
                       COALESCE(s.board_manager_id, c.board_manager_id) AS board_manager_id
                FROM communities c LEFT JOIN meeting_series s ON s.id = \(bind: seriesID?.storageKey) AND s.community_id = c.id
                WHERE c.id = \(bind: communityID.storageKey)
                """).first() else { throw StoreError.notFound }
            return BoardRegistration(
                networkName: try row.decode(column: "network_name", as: String?.self),
                networkID: try row.decode(column: "network_id", as: String?.self),
                boardID: try row.decode(column: "board_id", as: String?.self),
                managerID: try row.decode(column: "board_manager_id", as: String?.self).flatMap(UUID.init(storageKey:)))
        }
    }

    /// What is still missing before fiches of the community's meetings (of this series) can
    /// be validated; empty when the header is complete.
    public func missingRegistration(communityID: UUID, seriesID: UUID?) async throws -> [BoardRegistration.Missing] {
        let recorded = try await registration(communityID: communityID, seriesID: seriesID)
        var manager: Organisation?
        if let managerID = recorded.managerID { manager = try await OrganisationStore(database: database).find(id: managerID) }
        return recorded.missing(manager: manager)
    }

    /// Records the community's network and its default board id and manager.
    public func setRegistration(_ registration: BoardRegistration, communityID: UUID, audit: AuditDraft, at now: Date = Date()) async throws {
        try await database.write { sql in
            guard try await sql.raw("""
                UPDATE communities SET network_name = \(bind: registration.networkName), network_id = \(bind: registration.networkID),
                       board_id = \(bind: registration.boardID), board_manager_id = \(bind: registration.managerID?.storageKey)
                WHERE id = \(bind: communityID.storageKey) RETURNING id
                """).first() != nil else { throw StoreError.notFound }
            try await AuditLog.append(audit, on: sql, database: database, at: now)
        }
    }
}

// MARK: Pro Santé Connect requirement

extension CommunityStore {
    public func requiresPSC(_ communityID: UUID) async throws -> Bool {
        try await database.read { sql in
            try await sql.raw("SELECT requires_psc FROM communities WHERE id = \(bind: communityID.storageKey)").first()?
                .decode(column: "requires_psc", as: Bool.self) ?? false
        }
    }

    public func setRequiresPSC(_ required: Bool, communityID: UUID, audit: AuditDraft, at now: Date = Date()) async throws {
        try await database.write { sql in
            guard try await sql.raw("""
                UPDATE communities SET requires_psc = \(bind: required) WHERE id = \(bind: communityID.storageKey) RETURNING id
                """).first() != nil else { throw StoreError.notFound }
            try await AuditLog.append(audit, on: sql, database: database, at: now)
        }
    }

    /// The communities, by name, where this account is an active physician and that
    /// require Pro Santé Connect of their physicians.
    public func communitiesRequiringPSC(ofPhysician userID: UUID) async throws -> [String] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT c.name FROM communities c JOIN community_members m ON m.community_id = c.id
                WHERE m.user_id = \(bind: userID.storageKey) AND m.member_role = 'physician' AND m.status = 'active'
                  AND c.requires_psc = \(bind: true)
                ORDER BY c.name
                """).all().map { try $0.decode(column: "name", as: String.self) }
        }
    }
}
