import ConcertoCore
import Foundation
import SQLKit

/// Requests for an account filed by professionals Pro Santé Connect vouched for.
public struct AccountRequestStore: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// How long a refusal stands: a professional refused logs in to the refusal page, not to
    /// a new request, until then.
    public static let refusalStands: TimeInterval = 30 * 86_400

    /// Files a request, or touches the open one of this RPPS (name and sites refreshed):
    /// a professional who logs in again does not make a second request, and one refused
    /// less than `refusalStands` ago gets that refusal back. The audit event is written for
    /// a new request only.
    public func file(rpps: RPPSNumber, displayName: String, specialtyCode: String?, sites: [AccountRequest.Site],
                     audit: AuditDraft, at now: Date = Date()) async throws -> AccountRequest {
        let id = try await database.write { sql -> UUID in
            let refused = try await sql.raw("""
                SELECT id FROM account_requests
                WHERE rpps_number = \(bind: rpps.digits) AND status = 'refused' AND decided_at >= \(bind: Timestamp.iso8601(now.addingTimeInterval(-Self.refusalStands)))
                ORDER BY decided_at DESC
                """).first()?.decode(column: "id", as: String.self)
            if let refused, let id = UUID(storageKey: refused) { return id }
            let open = try await sql.raw("""
                SELECT id FROM account_requests WHERE rpps_number = \(bind: rpps.digits) AND status = 'pending'
                """).first()?.decode(column: "id", as: String.self)
            if let open, let id = UUID(storageKey: open) {
                try await sql.raw("""
                    UPDATE account_requests SET display_name = \(bind: displayName), specialty_code = \(bind: specialtyCode),
                           last_attempt_at = \(bind: Timestamp.iso8601(now))
                    WHERE id = \(bind: open)
                    """).run()
                try await sql.raw("DELETE FROM account_request_sites WHERE request_id = \(bind: open)").run()
                try await Self.insertSites(sites, requestID: id, on: sql)
                return id
            }
            let id = UUID()
            try await sql.raw("""
                INSERT INTO account_requests (id, rpps_number, display_name, specialty_code, status, created_at, last_attempt_at)
                VALUES (\(bind: id.storageKey), \(bind: rpps.digits), \(bind: displayName), \(bind: specialtyCode), 'pending',
                        \(bind: Timestamp.iso8601(now)), \(bind: Timestamp.iso8601(now)))
                """).run()
            try await Self.insertSites(sites, requestID: id, on: sql)
            var draft = audit
            draft.resourceID = id.storageKey
            try await AuditLog.append(draft, on: sql, database: database, at: now)
            return id
        }
        guard let request = try await find(id: id) else { throw StoreError.notFound }
        return request
    }

    private static func insertSites(_ sites: [AccountRequest.Site], requestID: UUID, on sql: any SQLDatabase) async throws {
        for (position, site) in sites.prefix(50).enumerated() {
            try await sql.raw("""
                INSERT INTO account_request_sites (request_id, position, finess, name)
                VALUES (\(bind: requestID.storageKey), \(bind: Int64(position)), \(bind: site.finess), \(bind: site.name))
                """).run()
        }
    }

    public func find(id: UUID) async throws -> AccountRequest? {
        try await database.read { sql in try await Self.requests(where: "r.id = \(bind: id.storageKey)", on: sql).first }
    }

    /// Pending requests an account may decide: all of them for a platform admin; for a
    /// coordinator, those of professionals practising at an organisation of a community
    /// they coordinate.
    public func pending(decidableBy user: User) async throws -> [AccountRequest] {
        try await database.read { sql in try await Self.requests(where: Self.pendingCondition(decidableBy: user), on: sql) }
    }

    /// How many `pending(decidableBy:)` would list, in one query (the dashboard's notice).
    public func pendingCount(decidableBy user: User) async throws -> Int {
        try await database.read { sql in
            let row = try await sql.raw("SELECT COUNT(*) AS n FROM account_requests r WHERE \(Self.pendingCondition(decidableBy: user))").first()
            return Int(try row?.decode(column: "n", as: Int64.self) ?? 0)
        }
    }

    private static func pendingCondition(decidableBy user: User) -> SQLQueryString {
        if user.isPlatformAdmin { return "r.status = 'pending'" }
        return """
            r.status = 'pending' AND r.id IN (
                SELECT s.request_id FROM account_request_sites s
                JOIN organisations o ON o.finess = s.finess
                JOIN community_organisations co ON co.organisation_id = o.id
                JOIN community_members m ON m.community_id = co.community_id
                WHERE m.user_id = \(bind: user.id.storageKey) AND m.member_role = 'coordinator' AND m.status = 'active')
            """
    }

    /// The communities a coordinator may add the approved professional to: those they
    /// coordinate that hold an organisation where the professional practises (all of
    /// them for a platform admin), by name.
    public func communities(for request: AccountRequest, decidedBy user: User) async throws -> [Community] {
        try await database.read { sql in
            let rows = try await sql.raw("""
                SELECT DISTINCT c.id, c.name, c.region, c.kind FROM communities c
                WHERE \(bind: user.isPlatformAdmin) OR c.id IN (
                    SELECT co.community_id FROM community_organisations co
                    JOIN organisations o ON o.id = co.organisation_id
                    JOIN account_request_sites s ON s.finess = o.finess AND s.request_id = \(bind: request.id.storageKey)
                    JOIN community_members m ON m.community_id = co.community_id
                    WHERE m.user_id = \(bind: user.id.storageKey) AND m.member_role = 'coordinator' AND m.status = 'active')
                ORDER BY c.name
                """).all()
            return try rows.compactMap(CommunityStore.community(from:))
        }
    }

    /// The requester's address, typed on the waiting page.
    public func setContactEmail(_ email: String, requestID: UUID) async throws {
        try await database.write { sql in
            try await sql.raw("""
                UPDATE account_requests SET contact_email = \(bind: email) WHERE id = \(bind: requestID.storageKey) AND status = 'pending'
                """).run()
        }
    }

    /// Opens the account (no password: it logs in with PSC), adds it to the community when
    /// one is given, and closes the request, in one transaction with the audit event.
    public func approve(_ requestID: UUID, account: User, community: (id: UUID, role: CommunityRole)?, decidedBy: UUID,
                        audit: AuditDraft, at now: Date = Date()) async throws {
        try await database.write { sql in
            // The account first (the request points to it); a request decided meanwhile
            // rolls the whole transaction back.
            try await UserStore.insert(account, passwordHash: UserStore.noPasswordHash, on: sql, at: now)
            let updated = try await sql.raw("""
                UPDATE account_requests SET status = 'approved', decided_at = \(bind: Timestamp.iso8601(now)),
                       decided_by = \(bind: decidedBy.storageKey), user_id = \(bind: account.id.storageKey)
                WHERE id = \(bind: requestID.storageKey) AND status = 'pending' RETURNING id
                """).first()
            guard updated != nil else { throw StoreError.statusChanged }
            if let community {
                try await CommunityStore.requireProfession(for: community.role, userID: account.id, on: sql)
                try await sql.raw("""
                    INSERT INTO community_members (community_id, user_id, member_role, status, updated_at)
                    VALUES (\(bind: community.id.storageKey), \(bind: account.id.storageKey), \(bind: community.role.rawValue),
                            \(bind: MembershipStatus.active.rawValue), \(bind: Timestamp.iso8601(now)))
                    """).run()
            }
            try await AuditLog.append(audit, on: sql, database: database, at: now)
        }
    }

    public func refuse(_ requestID: UUID, reason: AccountRequest.Refusal, decidedBy: UUID, audit: AuditDraft, at now: Date = Date()) async throws {
        try await database.write { sql in
            let updated = try await sql.raw("""
                UPDATE account_requests SET status = 'refused', decided_at = \(bind: Timestamp.iso8601(now)),
                       decided_by = \(bind: decidedBy.storageKey), refusal_reason = \(bind: reason.rawValue)
                WHERE id = \(bind: requestID.storageKey) AND status = 'pending' RETURNING id
                """).first()
            guard updated != nil else { throw StoreError.statusChanged }
            try await AuditLog.append(audit, on: sql, database: database, at: now)
        }
    }

    // MARK: Rows

    struct Row: Decodable {
        var id: String
        var rpps_number: String
        var display_name: String
        var specialty_code: String?
        var contact_email: String?
        var status: String
        var created_at: String
        var last_attempt_at: String
        var refusal_reason: String?
        var user_id: String?
    }

    private static func requests(where condition: SQLQueryString, on sql: any SQLDatabase) async throws -> [AccountRequest] {
        let rows = try await sql.raw("""
            SELECT r.id, r.rpps_number, r.display_name, r.specialty_code, r.contact_email, r.status, r.created_at,
                   r.last_attempt_at, r.refusal_reason, r.user_id
            FROM account_requests r WHERE \(condition) ORDER BY r.created_at, r.id
            """).all(decoding: Row.self)
        var requests: [AccountRequest] = []
        for row in rows {
            guard let id = UUID(storageKey: row.id), let rpps = RPPSNumber(row.rpps_number),
                  let status = AccountRequest.Status(rawValue: row.status) else { continue }
            let sites = try await sql.raw("""
                SELECT finess, name FROM account_request_sites WHERE request_id = \(bind: row.id) ORDER BY position
                """).all().map { AccountRequest.Site(finess: try $0.decode(column: "finess", as: String.self), name: try $0.decode(column: "name", as: String.self)) }
            requests.append(AccountRequest(
                id: id, rpps: rpps, displayName: row.display_name, specialtyCode: row.specialty_code, contactEmail: row.contact_email,
                status: status, sites: sites,
                createdAt: Timestamp.date(iso8601: row.created_at) ?? Date(timeIntervalSince1970: 0),
                lastAttemptAt: Timestamp.date(iso8601: row.last_attempt_at) ?? Date(timeIntervalSince1970: 0),
                refusal: row.refusal_reason.flatMap(AccountRequest.Refusal.init(rawValue:)),
                userID: row.user_id.flatMap(UUID.init(storageKey:))))
        }
        return requests
    }
}
