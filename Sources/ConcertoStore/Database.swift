import ConcertoSQLite
import Foundation
import Logging
import NIOPosix
import NIOSSL
import PostgresKit
import PostgresNIO
import SQLKit
import SQLiteKit
import Synchronization

public enum SQLEngine: String, Sendable {
    case sqlite
    case postgres
}

/// The one entry point to storage. Stores say whether they read or write:
/// reads may run concurrently, writes run inside a transaction. On SQLite writes are
/// serialised on a single connection (SQLite allows one writer) while reads use a small
/// pool of WAL readers; on PostgreSQL both come from a `PostgresClient` pool.
public final class Database: Sendable {
    public let engine: SQLEngine
    public let url: DatabaseURL
    /// The key of the audit chain (see `AuditLog`); nil for commands that append nothing.
    public let auditKey: AuditKey?
    /// Séance events committed in this process, for SQLite's in-process fan-out (on
    /// PostgreSQL, NOTIFY reaches every instance instead).
    public let localEvents = LocalEventBus()
    /// Audit events of concurrent requests, written together (see `AuditGroupCommit`).
    let auditIntake = AuditGroupCommit()

    /// Audit events written by group commit so far, and in how many commits (benchmarks).
    public var auditIntakeStatistics: (batches: Int, events: Int) { auditIntake.statistics }
    private let backend: Backend
    private let logger: Logger

    private enum Backend: Sendable {
        case sqlite(SQLiteBackend)
        case postgres(PostgresBackend)
    }

    /// - Parameter sqliteReaders: connections for reads on a SQLite file (WAL readers, which
    ///   never wait for the writer); one task uses a connection at a time.
    /// - Parameter postgresDeadline: how long one read or write may wait for PostgreSQL
    ///   (a connection from the pool, then the statements) before failing as unavailable;
    ///   without it, requests would queue for ever while the server is down.
    /// - Parameter connectAtOpen: check at once that PostgreSQL answers (the default);
    ///   off, the first query finds out.
    /// - Parameter postgresPreparedStatements: prepare each statement once per connection
    ///   (`PreparedPostgresConnection`); off behind a pooler that cannot keep them, such as
    ///   PgBouncer before 1.21 in transaction mode.
    /// - Parameter auditKey: the audit chain's key; without it, audited changes fail.
    public static func open(
        _ url: DatabaseURL, sqliteReaders: Int = 4, sqliteSynchronous: SQLiteSynchronous = .full,
        postgresDeadline: Duration = .seconds(10), postgresPreparedStatements: Bool = true, connectAtOpen: Bool = true,
        auditKey: AuditKey? = nil, logger: Logger = Logger(label: "concerto.db")
    ) async throws -> Database {
        switch url {
        case .sqliteFile(let path):
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let backend = try SQLiteBackend.open(storage: .file(path), readers: max(1, sqliteReaders), synchronous: sqliteSynchronous, logger: logger)
            return Database(engine: .sqlite, url: url, backend: .sqlite(backend), auditKey: auditKey, logger: logger)
        case .sqliteMemory:
            // An in-memory database lives in one connection: readers share the writer.
            let backend = try SQLiteBackend.open(storage: .memory, readers: 0, synchronous: sqliteSynchronous, logger: logger)
            return Database(engine: .sqlite, url: url, backend: .sqlite(backend), auditKey: auditKey, logger: logger)
        case .postgres(let host, let port, let username, let password, let database, let tlsMode):
            // The pool and the séance listener's own connection spell TLS differently.
            let (tls, listenerTLS): (PostgresClient.Configuration.TLS, PostgresConnection.Configuration.TLS) = switch tlsMode {
            case .disable: (.disable, .disable)
            case .prefer: (.prefer(.makeClientConfiguration()), .prefer(try NIOSSLContext(configuration: .makeClientConfiguration())))
            case .require: (.require(.makeClientConfiguration()), .require(try NIOSSLContext(configuration: .makeClientConfiguration())))
            }
            let backend = try await PostgresBackend.open(
                configuration: .init(host: host, port: port, username: username, password: password, database: database, tls: tls),
                listenerConfiguration: .init(host: host, port: port, username: username, password: password, database: database, tls: listenerTLS),
                target: "\(host):\(port)",
                deadline: postgresDeadline,
                preparedStatements: postgresPreparedStatements,
                connectAtOpen: connectAtOpen,
                logger: logger
            )
            return Database(engine: .postgres, url: url, backend: .postgres(backend), auditKey: auditKey, logger: logger)
        }
    }

    private init(engine: SQLEngine, url: DatabaseURL, backend: Backend, auditKey: AuditKey?, logger: Logger) {
        self.engine = engine
        self.url = url
        self.auditKey = auditKey
        self.backend = backend
        self.logger = logger
    }

    /// Runs read-only statements: on SQLite in one read transaction (one snapshot), on
    /// PostgreSQL without a transaction.
    /// On PostgreSQL, throws `DatabaseError.unavailable` when the server does not answer in time.
    public func read<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        switch backend {
        case .sqlite(let sqlite): try await sqlite.read(body)
        case .postgres(let postgres): try await postgres.withDeadline { try await postgres.withConnection(body) }
        }
    }

    /// Runs statements in one transaction: all of them land, or none.
    /// On PostgreSQL, throws `DatabaseError.unavailable` when the server does not answer in
    /// time; the transaction is then abandoned and rolled back by the server.
    public func write<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let begin = beginStatement
        switch backend {
        case .sqlite(let sqlite):
            return try await sqlite.write(body)
        case .postgres(let postgres):
            return try await postgres.withDeadline {
                try await postgres.withConnection { try await $0.inTransaction(begin: begin, body) }
            }
        }
    }

    /// Runs one statement outside any explicit transaction (atomic on its own, so it is its
    /// own transaction and its own commit): on SQLite on the writer connection, one trip to
    /// the database thread; on PostgreSQL one round trip instead of three.
    public func writeStatement<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        switch backend {
        case .sqlite(let sqlite): try await sqlite.withWriter { try await body($0) }
        case .postgres(let postgres): try await postgres.withDeadline { try await postgres.withConnection(body) }
        }
    }

    /// PostgreSQL: runs `body` on a connection of its own, outside the pool, for as long as
    /// it runs (session state such as an advisory lock or a LISTEN lives and dies with it);
    /// it throws when the connection drops. SQLite: nil, there is no session to hold.
    /// `id` names the connection in the logs (1: the séance listener, 2: the sequencer).
    public func withDedicatedConnection<T: Sendable>(id: Int = 2, _ body: (DedicatedConnection) async throws -> T) async throws -> T? {
        guard case .postgres(let postgres) = backend else { return nil }
        let connection = try await PostgresConnection.connect(configuration: postgres.listenerConfiguration, id: id, logger: logger)
        // Closed without waiting: closing a connection whose server went away may not end.
        defer { Task { try? await connection.close() } }
        return try await body(DedicatedConnection(connection: connection, prepared: postgres.preparedStatements))
    }

    /// PostgreSQL: how long a read or write may wait for the server before failing.
    public var postgresDeadline: Duration? {
        if case .postgres(let postgres) = backend { return postgres.deadline }
        return nil
    }

    /// Holds the engine-wide migration lock for the duration of `body`, so that several
    /// server instances starting together apply each migration exactly once.
    /// `body` gets a connection on which it may run its own transactions.
    public func withMigrationLock<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        switch backend {
        case .sqlite(let sqlite):
            // One writer connection per process; across processes, each migration's
            // BEGIN IMMEDIATE takes SQLite's write lock and the migrator re-checks inside it.
            return try await sqlite.withWriter { try await body($0) }
        case .postgres(let postgres):
            return try await postgres.withConnection { connection in
                try await connection.raw("SELECT pg_advisory_lock(\(bind: Self.migrationLockKey))").run()
                do {
                    let result = try await body(connection)
                    try await connection.raw("SELECT pg_advisory_unlock(\(bind: Self.migrationLockKey))").run()
                    return result
                } catch {
                    try? await connection.raw("SELECT pg_advisory_unlock(\(bind: Self.migrationLockKey))").run()
                    throw error
                }
            }
        }
    }

    /// PostgreSQL only: LISTENs on `channel` on a connection of its own (not one of the
    /// pool's, which it would hold for ever) and hands each notification's payload to
    /// `onNotification`, until the connection drops (throws) or the task is cancelled.
    /// `onListening` runs once the LISTEN is in place: what was committed before it must be
    /// read from the tables, what is committed after arrives as notifications.
    public func listen(
        channel: String, onListening: @Sendable () async -> Void, onNotification: @Sendable (String) async -> Void
    ) async throws {
        _ = try await withDedicatedConnection(id: 1) { dedicated in
            try await dedicated.connection.listen(on: channel) { notifications in
                await onListening()
                for try await notification in notifications {
                    await onNotification(notification.payload)
                }
            }
        }
    }

    /// Arbitrary but fixed: "concerto" in ASCII.
    static let migrationLockKey: Int64 = 0x636F_6E63_6572_746F

    func requireAuditKey() throws -> AuditKey {
        guard let auditKey else { throw AuditError.noKey }
        return auditKey
    }

    /// The statement that begins a write transaction on this engine.
    public var beginStatement: String { engine == .sqlite ? "BEGIN IMMEDIATE" : "BEGIN" }

    public func shutdown() async {
        switch backend {
        case .sqlite(let sqlite): await sqlite.close()
        case .postgres(let postgres): await postgres.close()
        }
    }
}

/// A PostgreSQL connection held outside the pool (`Database.withDedicatedConnection`).
public struct DedicatedConnection: Sendable {
    let connection: PostgresConnection
    let prepared: Bool

    /// Runs one exchange with the server, abandoned (failing with `DatabaseError.unavailable`,
    /// the connection closed) when it has not ended within `limit`, or when the caller is
    /// cancelled. A statement sent on a connection whose server went away (PostgreSQL
    /// restarted) was seen to wait for ever, closing the connection did not end it, and it
    /// held its caller up, shutdown included: the caller stops waiting for it instead.
    public func exchange<T: Sendable>(within limit: Duration, _ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let connection = connection
        let database = PreparedPostgresConnection.sql(on: connection, prepared: prepared)
        do {
            return try await withTimeout(limit, onAbandon: { Task { try? await connection.close() } }) { try await body(database) }
        } catch is TimeoutError {
            throw DatabaseError.unavailable
        }
    }
}

/// The first of several racing results (the work, its deadline, the caller's
/// cancellation), handed to the one waiting continuation; when the first is a failure, the
/// abandon action runs once (the work still running is left behind).
final class OneOutcome<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var result: Result<T, any Error>?
        var abandon: (@Sendable () -> Void)?
    }
    private let state = Mutex(State())

    func waiting(_ continuation: CheckedContinuation<T, any Error>) {
        let settled = state.withLock { state -> Result<T, any Error>? in
            if state.result == nil { state.continuation = continuation }
            return state.result
        }
        if let settled { continuation.resume(with: settled) }
    }

    func onAbandon(_ action: @escaping @Sendable () -> Void) {
        let failed = state.withLock { state -> Bool in
            state.abandon = action
            if case .failure = state.result { return true }
            return false
        }
        if failed { action() }
    }

    func settle(_ result: Result<T, any Error>) {
        let (continuation, abandon) = state.withLock { state -> (CheckedContinuation<T, any Error>?, (@Sendable () -> Void)?) in
            guard state.result == nil else { return (nil, nil) }
            state.result = result
            defer { state.continuation = nil }
            if case .failure = result { return (state.continuation, state.abandon) }
            return (state.continuation, nil)
        }
        continuation?.resume(with: result)
        abandon?()
    }
}

public enum DatabaseError: Error, Equatable, CustomStringConvertible {
    /// At start: the server cannot be reached.
    case unreachable(String)
    /// While running: the server did not answer within the deadline.
    case unavailable

    public var description: String {
        switch self {
        case .unreachable(let target): "Cannot reach PostgreSQL at \(target) within 10 s: is the server running and the URL right?"
        case .unavailable: "The database did not answer in time"
        }
    }
}

public struct TimeoutError: Error {}

/// Runs `body`, throwing `TimeoutError` (and abandoning it) when it takes longer than `limit`.
public func withTimeout<T: Sendable>(
    _ limit: Duration, onAbandon: @escaping @Sendable () -> Void = {}, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    // Not a task group: leaving a group waits for its children, so a body that never ends
    // (a statement on a connection whose server went away) would hold the caller for ever.
    // The body runs in a task of its own that is abandoned (cancelled, `onAbandon` run) when
    // the limit passes or the caller is cancelled first.
    let outcome = OneOutcome<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            outcome.waiting(continuation)
            let deadline = DeadlineWatch.shared.expire(after: limit) { outcome.settle(.failure(TimeoutError())) }
            let work = Task {
                do { outcome.settle(.success(try await body())) } catch { outcome.settle(.failure(error)) }
                DeadlineWatch.shared.cancel(deadline)
            }
            outcome.onAbandon {
                work.cancel()
                onAbandon()
            }
        }
    } onCancel: {
        outcome.settle(.failure(CancellationError()))
    }
}

/// Deadlines of many short operations, watched by one task that looks every 20 ms.
/// Every PostgreSQL read and write has a deadline (`withTimeout`); a sleeping task per
/// call, created and cancelled, cost more on a busy server than the wait it bounds.
final class DeadlineWatch: Sendable {
    static let shared = DeadlineWatch()

    struct Token: Sendable { fileprivate let id: Int }
    private struct Entry {
        var expiry: ContinuousClock.Instant
        var action: @Sendable () -> Void
    }
    private struct State {
        var entries: [Int: Entry] = [:]
        var nextID = 0
        var watching = false
    }
    private let state = Mutex(State())
    private static let period = Duration.milliseconds(20)

    /// Runs `action` once `limit` has passed (up to a period late), unless cancelled first.
    func expire(after limit: Duration, _ action: @escaping @Sendable () -> Void) -> Token {
        let expiry = ContinuousClock.now + limit
        let (id, startWatching) = state.withLock { state -> (Int, Bool) in
            state.nextID += 1
            state.entries[state.nextID] = Entry(expiry: expiry, action: action)
            defer { state.watching = true }
            return (state.nextID, !state.watching)
        }
        if startWatching { Task.detached { await self.watch() } }
        return Token(id: id)
    }

    func cancel(_ token: Token) {
        _ = state.withLock { $0.entries.removeValue(forKey: token.id) }
    }

    /// Looks while anything is watched, then stops (the next `expire` starts it again).
    private func watch() async {
        while true {
            try? await Task.sleep(for: Self.period)
            let now = ContinuousClock.now
            let (due, more) = state.withLock { state -> ([@Sendable () -> Void], Bool) in
                let expired = state.entries.filter { $0.value.expiry <= now }
                for id in expired.keys { state.entries.removeValue(forKey: id) }
                if state.entries.isEmpty { state.watching = false }
                return (expired.values.map(\.action), !state.entries.isEmpty)
            }
            for action in due { action() }
            if !more { return }
        }
    }
}

// MARK: - PostgreSQL

private final class PostgresBackend: Sendable {
    let client: PostgresClient
    let runTask: Task<Void, Never>
    let deadline: Duration
    /// For the séance listener's own connection.
    let listenerConfiguration: PostgresConnection.Configuration
    let preparedStatements: Bool

    private init(
        client: PostgresClient, runTask: Task<Void, Never>, deadline: Duration, listenerConfiguration: PostgresConnection.Configuration,
        preparedStatements: Bool
    ) {
        self.client = client
        self.runTask = runTask
        self.deadline = deadline
        self.listenerConfiguration = listenerConfiguration
        self.preparedStatements = preparedStatements
    }

    static func open(
        configuration: PostgresClient.Configuration, listenerConfiguration: PostgresConnection.Configuration, target: String, deadline: Duration,
        preparedStatements: Bool, connectAtOpen: Bool, logger: Logger
    ) async throws -> PostgresBackend {
        var configuration = configuration
        configuration.options.maximumConnections = 16
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let task = Task { await client.run() }
        let backend = PostgresBackend(
            client: client, runTask: task, deadline: deadline, listenerConfiguration: listenerConfiguration, preparedStatements: preparedStatements)
        guard connectAtOpen else { return backend }
        // Fail at start, with a clear message, when the server cannot be reached
        // (the pool would otherwise retry quietly for ever).
        do {
            try await withTimeout(.seconds(10)) {
                try await backend.withConnection { try await $0.raw("SELECT 1").run() }
            }
        } catch is TimeoutError {
            task.cancel()
            throw DatabaseError.unreachable(target)
        } catch {
            task.cancel()
            throw error
        }
        return backend
    }

    func withConnection<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await client.withConnection { connection in
            try await body(PreparedPostgresConnection.sql(on: connection, prepared: preparedStatements))
        }
    }

    /// Postgres-nio waits for a pooled connection without limit; this bounds the wait.
    func withDeadline<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        do {
            return try await withTimeout(deadline, body)
        } catch is TimeoutError {
            throw DatabaseError.unavailable
        }
    }

    func close() async {
        runTask.cancel()
        _ = await runTask.value
    }
}
