import Foundation
import Hummingbird
import Logging
import SQLKit
import ServiceLifecycle
import Synchronization

/// A stored value that belongs to an account (a logged-in session): its row is marked
/// with the account, so `UserStore.endSessions` can end them all at once.
public protocol SessionOwned {
    var ownerID: UUID? { get }
    /// When the owner proved who they are (password, second factor).
    var ownerAuthenticatedAt: Date? { get }
}

/// Hummingbird `PersistDriver` over our database, so sessions survive restarts and are
/// shared by every server instance using the same database.
public struct SQLPersistDriver: PersistDriver {
    let database: Database
    let sweepInterval: Duration
    let logger: Logger
    /// The database stays the source of truth (every read queries it); this only skips
    /// decoding JSON text identical to the one decoded last time for the same key.
    private let decoded = DecodedValueCache(capacity: 10_000)

    public init(database: Database, sweepInterval: Duration = .seconds(300), logger: Logger = Logger(label: "concerto.sessions")) {
        self.database = database
        self.sweepInterval = sweepInterval
        self.logger = logger
    }

    /// Whole seconds, rounded up so a value never expires before its duration.
    private static func expiry(_ expires: Duration?) -> Int64? {
        expires.map { Int64((Date().timeIntervalSince1970 + TimeInterval($0.components.seconds)).rounded(.up)) }
    }

    /// Session ids are bearer secrets: the table keeps only their SHA-256, so a copy of the
    /// database (a backup, a replica) opens no session.
    static func storedKey(_ key: String) -> String { SecretToken.hash(key) }

    private static func encode(_ value: some Encodable) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    public func create<Object: Codable & Sendable>(key: String, value: Object, expires: Duration?) async throws {
        let stored = Self.storedKey(key)
        let text = try Self.encode(value)
        let owner = (value as? any SessionOwned)?.ownerID?.storageKey
        try await database.write { sql in
            let now = Timestamp.epochSeconds(Date())
            let live = try await sql.raw("""
                SELECT session_key FROM sessions
                WHERE session_key = \(bind: stored) AND (expires_at IS NULL OR expires_at > \(bind: now))
                """).first()
            guard live == nil else { throw PersistError.duplicate }
            try await sql.raw("DELETE FROM sessions WHERE session_key = \(bind: stored)").run()
            try await sql.raw("""
                INSERT INTO sessions (session_key, value, expires_at, user_id)
                VALUES (\(bind: stored), \(bind: text), \(bind: Self.expiry(expires)), \(bind: owner))
                """).run()
        }
    }

    public func set<Object: Codable & Sendable>(key: String, value: Object, expires: Duration?) async throws {
        let stored = Self.storedKey(key)
        let text = try Self.encode(value)
        let expiresAt = Self.expiry(expires)
        let owned = value as? any SessionOwned
        let owner = owned?.ownerID?.storageKey
        let since = Timestamp.epochSeconds(owned?.ownerAuthenticatedAt ?? .distantPast)
        try await database.write { sql in
            // A nil expiry keeps the one already stored (PersistDriver contract). A session
            // of an account that was disabled, or whose sessions were ended after it logged
            // in, is not written back: a request in flight when they were ended would
            // otherwise store it again.
            try await sql.raw("""
                INSERT INTO sessions (session_key, value, expires_at, user_id)
                SELECT \(bind: stored), \(bind: text), \(bind: expiresAt), \(bind: owner)
                WHERE NOT EXISTS (
                    SELECT 1 FROM users
                    WHERE id = \(bind: owner) AND (disabled_at IS NOT NULL OR sessions_ended_at > \(bind: since)))
                ON CONFLICT (session_key) DO UPDATE
                SET value = excluded.value, expires_at = COALESCE(excluded.expires_at, sessions.expires_at), user_id = excluded.user_id
                """).run()
        }
    }

    public func get<Object: Codable & Sendable>(key: String, as type: Object.Type) async throws -> Object? {
        try await getWithTTL(key: key, as: type)?.object
    }

    public func getWithTTL<Object: Codable & Sendable>(key: String, as type: Object.Type) async throws -> (object: Object, ttl: Duration?)? {
        let stored = Self.storedKey(key)
        let now = Timestamp.epochSeconds(Date())
        // Columns read directly: this runs on every request, and SQLKit's Decodable rows cost more.
        let row = try await database.read { sql -> (value: String, expiresAt: Int64?)? in
            guard let row = try await sql.raw("""
                SELECT value, expires_at FROM sessions
                WHERE session_key = \(bind: stored) AND (expires_at IS NULL OR expires_at > \(bind: now))
                """).first()
            else { return nil }
            return (try row.decode(column: "value", as: String.self), try row.decode(column: "expires_at", as: Int64?.self))
        }
        guard let row else { return nil }
        let ttl: Duration? = row.expiresAt.map { .seconds(Double($0) - Date().timeIntervalSince1970) }
        if let cached = decoded.lookup(key: key, text: row.value) as? Object {
            return (cached, ttl)
        }
        do {
            let object = try JSONDecoder().decode(Object.self, from: Data(row.value.utf8))
            decoded.store(key: key, text: row.value, object: object)
            return (object, ttl)
        } catch {
            throw PersistError.invalidConversion
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

    /// Runs as a service beside the server: sweeps expired sessions until shutdown.
    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: sweepInterval)
                do {
                    let removed = try await sweepExpired()
                    if removed > 0 { logger.debug("swept expired sessions", metadata: ["count": "\(removed)"]) }
                } catch {
                    logger.warning("session sweep failed", metadata: ["error": "\(type(of: error))"])
                }
            }
        }
    }
}

/// Memo of the last decoded value per key, keyed by the exact stored text. Bounded:
/// when full it is cleared, which only costs re-decoding.
final class DecodedValueCache: Sendable {
    private let capacity: Int
    private let entries = Mutex<[String: (text: String, object: any Sendable)]>([:])

    init(capacity: Int) {
        self.capacity = capacity
    }

    func lookup(key: String, text: String) -> (any Sendable)? {
        entries.withLock { entries in
            guard let entry = entries[key], entry.text == text else { return nil }
            return entry.object
        }
    }

    func store(key: String, text: String, object: any Sendable) {
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = (text, object)
        }
    }
}
