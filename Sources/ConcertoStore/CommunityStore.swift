import ConcertoCore
import Foundation
import SQLKit

/// Communities and their members (the directory proper arrives with issue 3).
public struct CommunityStore: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func create(_ community: Community, at now: Date = Date()) async throws {
        try await database.write { sql in
            try await sql.raw("""
                INSERT INTO communities (id, name, region, created_at)
                VALUES (\(bind: community.id.storageKey), \(bind: community.name), \(bind: community.region), \(bind: Timestamp.iso8601(now)))
                """).run()
        }
    }

    public func addMember(userID: UUID, to communityID: UUID, role: ProfessionalRole) async throws {
        try await database.write { sql in
            try await sql.raw("""
                INSERT INTO community_members (community_id, user_id, member_role)
                VALUES (\(bind: communityID.storageKey), \(bind: userID.storageKey), \(bind: role.rawValue))
                """).run()
        }
    }

    /// The communities a user belongs to, by name.
    public func communities(ofUser userID: UUID) async throws -> [Community] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT c.id, c.name, c.region
                FROM communities c JOIN community_members m ON m.community_id = c.id
                WHERE m.user_id = \(bind: userID.storageKey)
                ORDER BY c.name
                """).all().compactMap { row -> Community? in
                guard let id = UUID(uuidString: try row.decode(column: "id", as: String.self)) else { return nil }
                return Community(id: id, name: try row.decode(column: "name", as: String.self), region: try row.decode(column: "region", as: String.self))
            }
        }
    }
}
