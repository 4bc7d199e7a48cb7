import ConcertoCore
import Foundation
import SQLKit

/// Organisations (FINESS) and the professionals' place in them.
public struct OrganisationStore: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func create(_ organisation: Organisation, audit: AuditDraft?, at now: Date = Date()) async throws {
        try await database.write { sql in
            let existing = try await sql.raw("SELECT id FROM organisations WHERE finess = \(bind: organisation.finess)").first()
            guard existing == nil else { throw StoreError.duplicateFINESS }
            try await sql.raw("""
                INSERT INTO organisations (id, name, finess, city, street, postal_code, created_at)
                VALUES (\(bind: organisation.id.storageKey), \(bind: organisation.name), \(bind: organisation.finess),
                        \(bind: organisation.city), \(bind: organisation.street), \(bind: organisation.postalCode), \(bind: Timestamp.iso8601(now)))
                """).run()
            if let audit { try await AuditLog.append(audit, on: sql, database: database, at: now) }
        }
    }

    public func all() async throws -> [Organisation] {
        try await database.read { sql in
            try await sql.raw("SELECT \(unsafeRaw: Self.columns()) FROM organisations ORDER BY name").all().compactMap(Self.organisation(from:))
        }
    }

    public func find(id: UUID) async throws -> Organisation? {
        try await database.read { sql in
            try await sql.raw("SELECT \(unsafeRaw: Self.columns()) FROM organisations WHERE id = \(bind: id.storageKey)").first().flatMap(Self.organisation(from:))
        }
    }

    public func find(finess: FINESSNumber) async throws -> Organisation? {
        try await database.read { sql in
            try await sql.raw("SELECT \(unsafeRaw: Self.columns()) FROM organisations WHERE finess = \(bind: finess.value)").first().flatMap(Self.organisation(from:))
        }
    }

    public func setOrganisation(userID: UUID, organisationID: UUID?, specialtyCode: String?) async throws {
        try await database.write { sql in
            try await sql.raw("""
                UPDATE users SET organisation_id = \(bind: organisationID?.storageKey), specialty_code = \(bind: specialtyCode)
                WHERE id = \(bind: userID.storageKey)
                """).run()
        }
    }

    /// The columns `organisation(from:)` reads, with a table alias when joined (`o.`).
    static func columns(_ alias: String = "") -> String {
        ["id", "name", "finess", "city", "street", "postal_code", "trusted_for_identities"].map { alias + $0 }.joined(separator: ", ")
    }

    static func organisation(from row: any SQLRow) throws -> Organisation? {
        guard let id = UUID(storageKey: try row.decode(column: "id", as: String.self)),
              let finess = FINESSNumber(try row.decode(column: "finess", as: String.self)) else { return nil }
        var organisation = Organisation(id: id, name: try row.decode(column: "name", as: String.self), finess: finess,
                                        city: try row.decode(column: "city", as: String.self))
        organisation.trustedForIdentities = try row.decode(column: "trusted_for_identities", as: Bool.self)
        organisation.street = try row.decode(column: "street", as: String?.self)
        organisation.postalCode = try row.decode(column: "postal_code", as: String?.self)
        return organisation
    }

    /// The organisation's postal address (street line, postal code, city).
    public func setAddress(_ address: PostalAddress, organisationID: UUID, audit: AuditDraft, at now: Date = Date()) async throws {
        try await database.write { sql in
            guard try await sql.raw("""
                UPDATE organisations SET street = \(bind: address.street), postal_code = \(bind: address.postalCode), city = \(bind: address.city)
                WHERE id = \(bind: organisationID.storageKey) RETURNING id
                """).first() != nil else { throw StoreError.notFound }
            try await AuditLog.append(audit, on: sql, database: database, at: now)
        }
    }

    /// Marks (or unmarks) an organisation as trusted for identities (platform admins).
    public func setTrustedForIdentities(_ trusted: Bool, organisationID: UUID, audit: AuditDraft, at now: Date = Date()) async throws {
        try await database.write { sql in
            guard try await sql.raw("""
                UPDATE organisations SET trusted_for_identities = \(bind: trusted) WHERE id = \(bind: organisationID.storageKey) RETURNING id
                """).first() != nil else { throw StoreError.notFound }
            try await AuditLog.append(audit, on: sql, database: database, at: now)
        }
    }
}
