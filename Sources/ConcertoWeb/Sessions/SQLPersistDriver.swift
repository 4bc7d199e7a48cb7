import ConcertoStore
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization

/// A stored value that belongs to an account (a logged-in session): its row is marked
/// with the account, so `UserStore.endSessions` can end them all at once.
public protocol SessionOwned {
    var ownerID: UUID? { get }
    /// When the owner proved who they are (password, second factor).
    var ownerAuthenticatedAt: Date? { get }
}

/// Hummingbird `PersistDriver` over the `sessions` table (`SessionStore`), so sessions
/// survive restarts and are shared by every server instance using the same database.
public struct SQLPersistDriver: PersistDriver {
    let sessions: SessionStore
    let sweepInterval: Duration
    let logger: Logger
    /// The database stays the source of truth (every read queries it); this only skips
    /// decoding JSON text identical to the one decoded last time for the same key.
    private let decoded = DecodedValueCache(capacity: 10_000)

    public init(database: Database, sweepInterval: Duration = .seconds(300), logger: Logger = Logger(label: "concerto.sessions")) {
        self.sessions = SessionStore(database: database)
        self.sweepInterval = sweepInterval
        self.logger = logger
    }

    /// Whole seconds, rounded up so a value never expires before its duration.
    private static func expiry(_ expires: Duration?) -> Int64? {
        expires.map { Int64((Date().timeIntervalSince1970 + TimeInterval($0.components.seconds)).rounded(.up)) }
    }

    private static func encode(_ value: some Encodable) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    public func create<Object: Codable & Sendable>(key: String, value: Object, expires: Duration?) async throws {
        do {
            try await sessions.create(key: key, value: try Self.encode(value), expiresAt: Self.expiry(expires),
                                      owner: (value as? any SessionOwned)?.ownerID)
        } catch is SessionStore.KeyInUse {
            throw PersistError.duplicate
        }
    }

    public func set<Object: Codable & Sendable>(key: String, value: Object, expires: Duration?) async throws {
        let owned = value as? any SessionOwned
        try await sessions.set(key: key, value: try Self.encode(value), expiresAt: Self.expiry(expires),
                               owner: owned?.ownerID, authenticatedAt: owned?.ownerAuthenticatedAt)
    }

    public func get<Object: Codable & Sendable>(key: String, as type: Object.Type) async throws -> Object? {
        try await getWithTTL(key: key, as: type)?.object
    }

    public func getWithTTL<Object: Codable & Sendable>(key: String, as type: Object.Type) async throws -> (object: Object, ttl: Duration?)? {
        guard let row = try await sessions.find(key: key) else { return nil }
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
        try await sessions.remove(key: key)
    }

    /// Deletes expired sessions; returns how many.
    @discardableResult
    public func sweepExpired(now: Date = Date()) async throws -> Int {
        try await sessions.sweepExpired(now: now)
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
