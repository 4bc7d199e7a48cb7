import ConcertoCore
import Foundation
import SQLKit

/// The `sessions` table: web sessions as opaque text, so they survive restarts and are
/// shared by every server instance on the database. Session ids are bearer secrets: the
/// table keeps only their SHA-256, so a copy of the database (a backup, a replica) opens
/// no session. The web layer's `SQLPersistDriver` encodes and decodes the values.
public struct SessionStore: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// A stored session row still in force.
    public struct Stored: Sendable {
        public let value: String
        /// Epoch seconds; nil: no expiry.
        public let expiresAt: Int64?
    }

    /// `create` found a live session under the same key.
    public struct KeyInUse: Error {}

    static func storedKey(_ key: String) -> String { SecretToken.hash(key) }

    /// Stores a new session; throws `KeyInUse` when a live one has the key (an expired one
    /// is replaced).
    public func create(key: String, value: String, expiresAt: Int64?, owner: UUID?, now: Date = Date()) async throws {
        let stored = Self.storedKey(key)
        try await database.write { sql in
            let live = try await sql.raw("""
                SELECT session_key FROM sessions
                WHERE session_key = \(bind: stored) AND (expires_at IS NULL OR expires_at > \(bind: Timestamp.epochSeconds(now)))
                """).first()
            guard live == nil else { throw KeyInUse() }
            try await sql.raw("DELETE FROM sessions WHERE session_key = \(bind: stored)").run()
            try await sql.raw("""
                INSERT INTO sessions (session_key, value, expires_at, user_id)
                VALUES (\(bind: stored), \(bind: value), \(bind: expiresAt), \(bind: owner?.storageKey))
                """).run()
        }
    }

    /// Stores or replaces a session. A nil expiry keeps the one already stored. A session
    /// of an account that was disabled, or whose sessions were ended after `authenticatedAt`,
    /// is not written back: a request in flight when they were ended would otherwise store
    /// it again (`UserStore.endSessions`).
    public func set(key: String, value: String, expiresAt: Int64?, owner: UUID?, authenticatedAt: Date?) async throws {
        let stored = Self.storedKey(key)
        let since = Timestamp.epochSeconds(authenticatedAt ?? .distantPast)
        let owner = owner?.storageKey
        try await database.write { sql in
            try await sql.raw("""
                INSERT INTO sessions (session_key, value, expires_at, user_id)
                SELECT \(bind: stored), \(bind: value), \(bind: expiresAt), \(bind: owner)
                WHERE NOT EXISTS (
                    SELECT 1 FROM users
                    WHERE id = \(bind: owner) AND (disabled_at IS NOT NULL OR sessions_ended_at > \(bind: since)))
                ON CONFLICT (session_key) DO UPDATE
                SET value = excluded.value, expires_at = COALESCE(excluded.expires_at, sessions.expires_at), user_id = excluded.user_id
                """).run()
        }
    }

    /// The session under `key` unless it has expired.
    public func find(key: String, now: Date = Date()) async throws -> Stored? {
        let stored = Self.storedKey(key)
        let now = Timestamp.epochSeconds(now)
        // Columns read directly: this runs on every request, and SQLKit's Decodable rows cost more.
        return try await database.read { sql -> Stored? in
            guard let row = try await sql.raw("""
                SELECT value, expires_at FROM sessions
                WHERE session_key = \(bind: stored) AND (expires_at IS NULL OR expires_at > \(bind: now))
                """).first()
            else { return nil }
            return Stored(value: try row.decode(column: "value", as: String.self), expiresAt: try row.decode(column: "expires_at", as: Int64?.self))
        }
    }

    public func remove(key: String) async throws {
        let stored = Self.storedKey(key)
        try await database.write { sql in
            try await sql.raw("DELETE FROM sessions WHERE session_key = \(bind: stored)").run()
        }
    }

    /// Deletes expired sessions; returns how many.
    @discardableResult
    public func sweepExpired(now: Date = Date()) async throws -> Int {
        try await database.write { sql in
            try await sql.raw("""
                DELETE FROM sessions WHERE expires_at IS NOT NULL AND expires_at <= \(bind: Timestamp.epochSeconds(now)) RETURNING session_key
                """).all().count
        }
    }
}
