import ConcertoCore
import ConcertoSQLite
import ConcertoStore
import Foundation
import Logging

/// Test databases: a fresh one per test, on SQLite by default, or on PostgreSQL when
/// `CONCERTO_TEST_DATABASE_URL` names a server (the URL's database is used only to
/// create and drop the per-test databases).
public enum TestDatabase {
    public static var engineUnderTest: SQLEngine {
        ProcessInfo.processInfo.environment["CONCERTO_TEST_DATABASE_URL"].flatMap { try? DatabaseURL(parsing: $0) }?.isPostgres == true
            ? .postgres : .sqlite
    }

    /// Runs `body` with the URL of a new, empty database, removed afterwards.
    /// On PostgreSQL, tests take one of a few lanes (`PostgresLanes`): hundreds of tests
    /// starting at once would otherwise each open an admin connection, CREATE DATABASE
    /// together and pass the server's 300 connections, and wait past the 10 s deadline a
    /// request may wait (seen on a clean CI machine, never on a warm one).
    public static func withFreshURL<T>(_ body: (DatabaseURL) async throws -> T) async throws -> T {
        let name = "concerto_t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        if let raw = ProcessInfo.processInfo.environment["CONCERTO_TEST_DATABASE_URL"],
           case .postgres(let host, let port, let username, let password, _, let tls) = try DatabaseURL(parsing: raw) {
            let lanes = PostgresLanes.shared
            await lanes.enter()
            do {
                let admin = try await lanes.admin(try DatabaseURL(parsing: raw))
                // Names cannot be bound parameters; this one is made of hex digits only.
                _ = try await admin.read { try await $0.raw("CREATE DATABASE \(unsafeRaw: name)").run() }
                let url = DatabaseURL.postgres(host: host, port: port, username: username, password: password, database: name, tls: tls)
                let result: T
                do {
                    result = try await body(url)
                } catch {
                    _ = try? await admin.read { try await $0.raw("DROP DATABASE IF EXISTS \(unsafeRaw: name) WITH (FORCE)").run() }
                    throw error
                }
                _ = try? await admin.read { try await $0.raw("DROP DATABASE IF EXISTS \(unsafeRaw: name) WITH (FORCE)").run() }
                await lanes.leave()
                return result
            } catch {
                await lanes.leave()
                throw error
            }
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        return try await body(.sqliteFile(path: directory.appendingPathComponent("test.sqlite").path))
    }

    /// Runs `body` with an open, empty, fresh database (no migrations applied).
    public static func withFresh<T>(_ body: (Database) async throws -> T) async throws -> T {
        try await withFreshURL { url in
            let database = try await Database.open(url, sqliteSynchronous: testSynchronous, auditKey: testAuditKey, logger: quietLogger)
            do {
                let result = try await body(database)
                await database.shutdown()
                return result
            } catch {
                await database.shutdown()
                throw error
            }
        }
    }

    /// Runs `body` with an open, migrated, fresh database.
    public static func withMigrated<T>(_ body: (Database) async throws -> T) async throws -> T {
        try await withFresh { database in
            try await Migrator(directory: Repository.migrations, engine: database.engine, logger: quietLogger).migrate(database)
            return try await body(database)
        }
    }

    /// One audit key for the test process's databases.
    public static let testAuditKey = AuditKey.random()
    /// Hundreds of test databases share one disk at once: their commits are not synced
    /// (`normal`), which changes when a commit reaches the disk, not what the code does.
    /// The server's default (`full`) is what the browser and crash tests run.
    public static let testSynchronous = SQLiteSynchronous.normal

    public static var quietLogger: Logger {
        var logger = Logger(label: "concerto.test")
        logger.logLevel = .critical
        return logger
    }
}

/// Paths inside the repository, found from this file's location.
public enum Repository {
    public static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    public static var migrations: URL { root.appendingPathComponent("Migrations") }
    public static var templates: URL { root.appendingPathComponent("Templates") }
    public static var publicFiles: URL { root.appendingPathComponent("Public") }
}

/// Valid identifiers for test accounts.
public enum TestIdentifiers {
    /// The `n`-th valid RPPS number: "1", nine digits of `n`, and the Luhn check digit.
    public static func rpps(_ n: Int) -> String {
        let nine = String(n % 1_000_000_000)
        return RPPSNumber(completing: "1" + String(repeating: "0", count: 9 - nine.count) + nine)!.digits
    }
}

/// The PostgreSQL tests' shared admin connection pool and their lanes: at most `width`
/// tests hold a database of their own at once.
actor PostgresLanes {
    static let shared = PostgresLanes()
    let width = 12
    private var busy = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []
    private var opening: Task<Database, any Error>?

    func enter() async {
        if busy < width {
            busy += 1
            return
        }
        // The lane is handed over by `leave`, which keeps `busy` as it is.
        await withCheckedContinuation { waiting.append($0) }
    }

    func leave() {
        if waiting.isEmpty {
            busy -= 1
        } else {
            waiting.removeFirst().resume()
        }
    }

    /// One admin pool for the whole run, with room to wait for a busy server.
    func admin(_ url: DatabaseURL) async throws -> Database {
        if let opening { return try await opening.value }
        let task = Task { try await Database.open(url, postgresDeadline: .seconds(120), logger: TestDatabase.quietLogger) }
        opening = task
        return try await task.value
    }
}

/// Foundation's `Process.run()` on Linux is not safe to call from several threads at once
/// (a parallel suite crashed in it): test helpers that start programs go through here.
public enum ProcessLaunch {
    private static let lock = NSLock()

    public static func run(_ process: Process) throws {
        lock.lock()
        defer { lock.unlock() }
        try process.run()
    }
}
