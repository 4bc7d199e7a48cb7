import ConcertoStore
import ConcertoTestSupport
import Foundation
import SQLKit
import Testing

/// Runs on the engine named by CONCERTO_TEST_DATABASE_URL (PostgreSQL) or on SQLite.
@Suite struct MigratorTests {
    struct Name: Decodable { var name: String }
    struct Count: Decodable { var count: Int64 }

    func makeDirectory(_ files: [String: String]) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("migrations-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, text) in files {
            try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return directory
    }

    func appliedNames(_ database: Database) async throws -> [String] {
        try await database.read { try await $0.raw("SELECT name FROM schema_migrations ORDER BY applied_at, name").all(decoding: Name.self) }
            .map(\.name)
    }

    func count(_ database: Database, _ table: String) async throws -> Int64 {
        try await database.read { try await $0.raw("SELECT COUNT(*) AS count FROM \(unsafeRaw: table)").first(decoding: Count.self)?.count ?? -1 }
    }

    @Test func appliesInNumericOrderOnceEach() async throws {
        // 0002 needs 0001's table: it only works if the order is numeric, not listing order.
        let directory = try makeDirectory([
            "0002_add_rows.sql": "INSERT INTO things (id) VALUES ('a'); INSERT INTO things (id) VALUES ('b');",
            "0001_create.sql": "CREATE TABLE things (id TEXT PRIMARY KEY);",
            "0010_more.sql": "CREATE TABLE more_things (id TEXT PRIMARY KEY);",
        ])
        try await TestDatabase.withFresh { database in
            let migrator = try Migrator(directory: directory, engine: database.engine, logger: TestDatabase.quietLogger)
            #expect(migrator.migrations.map(\.name) == ["0001_create", "0002_add_rows", "0010_more"])
            #expect(try await migrator.migrate(database) == ["0001_create", "0002_add_rows", "0010_more"])
            #expect(try await migrator.migrate(database) == [])
            #expect(try await count(database, "things") == 2)
            #expect(Set(try await appliedNames(database)) == ["0001_create", "0002_add_rows", "0010_more"])
        }
    }

    @Test func refusesAChangedMigration() async throws {
        let directory = try makeDirectory(["0001_create.sql": "CREATE TABLE things (id TEXT PRIMARY KEY);"])
        try await TestDatabase.withFresh { database in
            try await Migrator(directory: directory, engine: database.engine, logger: TestDatabase.quietLogger).migrate(database)
            try "CREATE TABLE things (id TEXT PRIMARY KEY, extra TEXT);"
                .write(to: directory.appendingPathComponent("0001_create.sql"), atomically: true, encoding: .utf8)
            try "CREATE TABLE later (id TEXT);".write(to: directory.appendingPathComponent("0002_later.sql"), atomically: true, encoding: .utf8)
            let changed = try Migrator(directory: directory, engine: database.engine, logger: TestDatabase.quietLogger)
            await #expect(throws: MigrationError.checksumMismatch(name: "0001_create")) {
                try await changed.migrate(database)
            }
            // Nothing after the refusal was applied.
            #expect(try await appliedNames(database) == ["0001_create"])
        }
    }

    @Test func aFailingMigrationLeavesNothingBehind() async throws {
        let directory = try makeDirectory([
            "0001_ok.sql": "CREATE TABLE ok_table (id TEXT PRIMARY KEY);",
            "0002_broken.sql": "CREATE TABLE half (id TEXT); INSERT INTO no_such_table VALUES (1);",
        ])
        try await TestDatabase.withFresh { database in
            let migrator = try Migrator(directory: directory, engine: database.engine, logger: TestDatabase.quietLogger)
            await #expect(throws: (any Error).self) { try await migrator.migrate(database) }
            #expect(try await appliedNames(database) == ["0001_ok"])
            // The first statement of the broken migration was rolled back with it.
            await #expect(throws: (any Error).self) { try await count(database, "half") }
        }
    }

    @Test func picksTheFileForTheEngine() async throws {
        let directory = try makeDirectory([
            "0001_kind.sqlite.sql": "CREATE TABLE kind (engine TEXT); INSERT INTO kind VALUES ('sqlite');",
            "0001_kind.postgres.sql": "CREATE TABLE kind (engine TEXT); INSERT INTO kind VALUES ('postgres');",
        ])
        try await TestDatabase.withFresh { database in
            try await Migrator(directory: directory, engine: database.engine, logger: TestDatabase.quietLogger).migrate(database)
            struct Row: Decodable { var engine: String }
            let row = try await database.read { try await $0.raw("SELECT engine FROM kind").first(decoding: Row.self) }
            #expect(row?.engine == database.engine.rawValue)
        }
    }

    @Test func rejectsBadFileNamesAndMissingVariants() throws {
        let badName = try makeDirectory(["1_create.sql": "SELECT 1;"])
        #expect(throws: MigrationError.invalidFileName("1_create.sql")) {
            try Migrator(directory: badName, engine: .sqlite)
        }
        let onlyPostgres = try makeDirectory(["0001_x.postgres.sql": "SELECT 1;"])
        #expect(throws: MigrationError.missingEngineVariant(name: "0001_x", engine: .sqlite)) {
            try Migrator(directory: onlyPostgres, engine: .sqlite)
        }
    }

    @Test func concurrentStartsApplyEachMigrationExactlyOnce() async throws {
        // Slow-ish migrations widen the window in which two starting servers would collide.
        var files: [String: String] = [:]
        for number in 1...6 {
            files[String(format: "%04d_step%d.sql", number, number)] =
                "CREATE TABLE t\(number) (id TEXT PRIMARY KEY); INSERT INTO t\(number) (id) VALUES ('only-once');"
        }
        let directory = try makeDirectory(files)
        try await TestDatabase.withFreshURL { url in
            // Two independent connections/pools, as two server processes would have.
            let first = try await Database.open(url, logger: TestDatabase.quietLogger)
            let second = try await Database.open(url, logger: TestDatabase.quietLogger)
            let migrator = try Migrator(directory: directory, engine: first.engine, logger: TestDatabase.quietLogger)
            async let a = migrator.migrate(first)
            async let b = migrator.migrate(second)
            let (appliedByFirst, appliedBySecond) = try await (a, b)
            #expect(Set(appliedByFirst).isDisjoint(with: appliedBySecond))
            #expect(appliedByFirst.count + appliedBySecond.count == 6)
            for number in 1...6 {
                #expect(try await count(first, "t\(number)") == 1)
            }
            #expect(try await count(first, "schema_migrations") == 6)
            await first.shutdown()
            await second.shutdown()
        }
    }

    @Test func projectMigrationsApply() async throws {
        try await TestDatabase.withMigrated { database in
            let names = try await appliedNames(database)
            #expect(names.contains("0001_accounts"))
            #expect(names.count == (try Migrator(directory: Repository.migrations, engine: database.engine)).migrations.count)
        }
    }
}
