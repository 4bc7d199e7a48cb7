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
    private let backend: Backend
    private let logger: Logger

    private enum Backend: Sendable {
        case sqlite(SQLiteBackend)
        case postgres(PostgresBackend)
    }

    /// - Parameter sqliteThreads: threads running SQLite calls (they block their thread).
    ///   One is the default: SQLite calls take microseconds, and on a small machine one busy
    ///   worker beats several that sleep and wake between calls (measured in
    ///   docs/benchmarks.md). Raise it on machines with many cores.
    /// - Parameter postgresDeadline: how long one read or write may wait for PostgreSQL
    ///   (a connection from the pool, then the statements) before failing as unavailable;
    ///   without it, requests would queue for ever while the server is down.
    /// - Parameter connectAtOpen: check at once that PostgreSQL answers (the default);
    ///   off, the first query finds out.
    public static func open(
        _ url: DatabaseURL, sqliteThreads: Int = 1, postgresDeadline: Duration = .seconds(10), connectAtOpen: Bool = true,
        logger: Logger = Logger(label: "concerto.db")
    ) async throws -> Database {
        switch url {
        case .sqliteFile(let path):
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let backend = try await SQLiteBackend.open(storage: .file(path: path), readers: 4, threads: sqliteThreads, logger: logger)
            return Database(engine: .sqlite, url: url, backend: .sqlite(backend), logger: logger)
        case .sqliteMemory:
            // An in-memory database lives in one connection: readers share the writer.
            let backend = try await SQLiteBackend.open(storage: .memory, readers: 0, threads: sqliteThreads, logger: logger)
            return Database(engine: .sqlite, url: url, backend: .sqlite(backend), logger: logger)
        case .postgres(let host, let port, let username, let password, let database, let tlsMode):
            let tls: PostgresClient.Configuration.TLS = switch tlsMode {
            case .disable: .disable
            case .prefer: .prefer(.makeClientConfiguration())
            case .require: .require(.makeClientConfiguration())
            }
            let backend = try await PostgresBackend.open(
                configuration: .init(host: host, port: port, username: username, password: password, database: database, tls: tls),
                target: "\(host):\(port)",
                deadline: postgresDeadline,
                connectAtOpen: connectAtOpen,
                logger: logger
            )
            return Database(engine: .postgres, url: url, backend: .postgres(backend), logger: logger)
        }
    }

    private init(engine: SQLEngine, url: DatabaseURL, backend: Backend, logger: Logger) {
        self.engine = engine
        self.url = url
        self.backend = backend
        self.logger = logger
    }

    /// Runs read-only statements; never wrapped in a transaction.
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
            return try await sqlite.withWriter { try await Self.transaction(on: $0, begin: begin, body) }
        case .postgres(let postgres):
            return try await postgres.withDeadline {
                try await postgres.withConnection { try await Self.transaction(on: $0, begin: begin, body) }
            }
        }
    }

    /// SQLite only: runs `body` on the writer connection without a transaction, so one
    /// statement costs one trip to the database thread. Nil on PostgreSQL, where callers
    /// use `write`. For a single statement (atomic on its own, triggers included).
    public func writeSingleStatement<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T? {
        switch backend {
        case .sqlite(let sqlite): try await sqlite.withWriter { try await body($0) }
        case .postgres: nil
        }
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

    /// Arbitrary but fixed: "concerto" in ASCII.
    static let migrationLockKey: Int64 = 0x636F_6E63_6572_746F

    /// Runs `body` in a transaction on a connection that nobody else uses meanwhile.
    public static func transaction<T: Sendable>(
        on connection: any SQLDatabase, begin: String, _ body: (any SQLDatabase) async throws -> T
    ) async throws -> T {
        try await connection.raw(SQLQueryString(begin)).run()
        do {
            let result = try await body(connection)
            try await connection.raw("COMMIT").run()
            return result
        } catch {
            try? await connection.raw("ROLLBACK").run()
            throw error
        }
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

/// Runs `body`, throwing `TimeoutError` (and cancelling it) when it takes longer than `limit`.
public func withTimeout<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw TimeoutError()
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

// MARK: - SQLite

/// Serialises async work: one body at a time, in arrival order.
final class AsyncSerialLock: Sendable {
    private struct State {
        var locked = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())

    func withLock<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let acquired = state.withLock { state -> Bool in
                if state.locked {
                    state.waiters.append(continuation)
                    return false
                }
                state.locked = true
                return true
            }
            if acquired { continuation.resume() }
        }
    }

    private func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.locked = false
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}

private final class SQLiteBackend: Sendable {
    let writer: SQLiteConnection
    let readers: [SQLiteConnection]
    let threadPool: NIOThreadPool
    let writeLock = AsyncSerialLock()
    let nextReader = Atomic<Int>(0)
    let logger: Logger

    private init(writer: SQLiteConnection, readers: [SQLiteConnection], threadPool: NIOThreadPool, logger: Logger) {
        self.writer = writer
        self.readers = readers
        self.threadPool = threadPool
        self.logger = logger
    }

    static func open(storage: SQLiteConnection.Storage, readers readerCount: Int, threads: Int, logger: Logger) async throws -> SQLiteBackend {
        // Our own pool, apart from NIO's shared one where bcrypt and file I/O run.
        let threadPool = NIOThreadPool(numberOfThreads: max(1, threads))
        threadPool.start()
        do {
            return try await open(storage: storage, readers: readerCount, threadPool: threadPool, logger: logger)
        } catch {
            try? await threadPool.shutdownGracefully()
            throw error
        }
    }

    private static func open(storage: SQLiteConnection.Storage, readers readerCount: Int, threadPool: NIOThreadPool, logger: Logger) async throws -> SQLiteBackend {
        let eventLoop = MultiThreadedEventLoopGroup.singleton.any()
        let writer = try await SQLiteConnection.open(storage: storage, threadPool: threadPool, logger: logger, on: eventLoop)
        let sql = writer.sql()
        if case .file = storage {
            try await sql.raw("PRAGMA journal_mode = WAL").run()
            try await sql.raw("PRAGMA synchronous = NORMAL").run()
        }
        try await configure(sql)
        var readers: [SQLiteConnection] = []
        for _ in 0..<readerCount {
            let reader = try await SQLiteConnection.open(storage: storage, threadPool: threadPool, logger: logger, on: eventLoop)
            try await configure(reader.sql())
            try await reader.sql().raw("PRAGMA query_only = ON").run()
            readers.append(reader)
        }
        return SQLiteBackend(writer: writer, readers: readers, threadPool: threadPool, logger: logger)
    }

    private static func configure(_ sql: any SQLDatabase) async throws {
        try await sql.raw("PRAGMA busy_timeout = 5000").run()
        try await sql.raw("PRAGMA foreign_keys = ON").run()
        // Reads map the file instead of copying each page with pread (measured: docs/benchmarks.md).
        try await sql.raw("PRAGMA mmap_size = 268435456").run()
    }

    func read<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        guard !readers.isEmpty else {
            return try await writeLock.withLock { try await body(writer.sql()) }
        }
        let index = nextReader.wrappingAdd(1, ordering: .relaxed).oldValue
        return try await body(readers[abs(index % readers.count)].sql())
    }

    func withWriter<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await writeLock.withLock { try await body(writer.sql()) }
    }

    func close() async {
        for connection in readers + [writer] {
            try? await connection.close()
        }
        try? await threadPool.shutdownGracefully()
    }
}

// MARK: - PostgreSQL

private final class PostgresBackend: Sendable {
    let client: PostgresClient
    let runTask: Task<Void, Never>
    let deadline: Duration

    private init(client: PostgresClient, runTask: Task<Void, Never>, deadline: Duration) {
        self.client = client
        self.runTask = runTask
        self.deadline = deadline
    }

    static func open(
        configuration: PostgresClient.Configuration, target: String, deadline: Duration, connectAtOpen: Bool, logger: Logger
    ) async throws -> PostgresBackend {
        var configuration = configuration
        configuration.options.maximumConnections = 16
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let task = Task { await client.run() }
        let backend = PostgresBackend(client: client, runTask: task, deadline: deadline)
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
            try await body(connection.sql())
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
