import ConcertoSQLite
import ConcertoTestSupport
import Foundation
import Logging
import SQLKit
import Synchronization
import Testing

/// Our SQLite driver, used directly: connections, statement cache, reader pool, checkpointer.
/// Run with the SQLite pass of the suite only (the PostgreSQL pass would repeat them as is).
@Suite(.enabled(if: TestDatabase.engineUnderTest == .sqlite))
struct SQLiteDriverTests {
    @Test func valuesDecodeAsSQLiteKitDecodedThem() async throws {
        try await Self.withOpen { database in
            let row = try await database.read { sql in
                try await sql.raw("""
                    SELECT 42 AS n, 'text' AS t, NULL AS z, 1.5 AS f, X'00FF' AS b, \(bind: "bound é") AS u, \(bind: Int64(-7)) AS i
                    """).first()
            }
            let values = try #require(row)
            #expect(try values.decode(column: "n", as: Int64.self) == 42)
            #expect(try values.decode(column: "n", as: String.self) == "42")
            #expect(try values.decode(column: "n", as: Int.self) == 42)
            #expect(try values.decode(column: "t", as: String.self) == "text")
            #expect(try values.decode(column: "t", as: String?.self) == "text")
            #expect(try values.decode(column: "z", as: String?.self) == nil)
            #expect(try values.decode(column: "z", as: Int64?.self) == nil)
            #expect(try values.decodeNil(column: "z"))
            #expect(try values.decode(column: "f", as: Double.self) == 1.5)
            #expect(try values.decode(column: "b", as: Data.self) == Data([0x00, 0xFF]))
            #expect(try values.decode(column: "u", as: String.self) == "bound é")
            #expect(try values.decode(column: "i", as: Int64.self) == -7)
            #expect(values.allColumns == ["n", "t", "z", "f", "b", "u", "i"])
            // Text is not an integer, NULL is not a string, and a missing column is an error.
            #expect(throws: (any Error).self) { try values.decode(column: "t", as: Int64.self) }
            #expect(throws: (any Error).self) { try values.decode(column: "z", as: String.self) }
            #expect(throws: (any Error).self) { try values.decode(column: "missing", as: String.self) }
        }
    }

    @Test func aCachedStatementRunsAgainWithOtherValuesAndAfterTheSchemaChanges() async throws {
        try await Self.withOpen { database in
            try await database.write { try await $0.raw("CREATE TABLE scratch (id INTEGER PRIMARY KEY, name TEXT)").run() }
            for index in 1...3 {
                try await database.write { try await $0.raw("INSERT INTO scratch (id, name) VALUES (\(bind: index), \(bind: "n\(index)"))").run() }
            }
            for index in 1...3 {
                let name = try await database.read { try await $0.raw("SELECT name FROM scratch WHERE id = \(bind: index)").first()?.decode(column: "name", as: String.self) }
                #expect(name == "n\(index)")
            }
            try await database.write { try await $0.raw("ALTER TABLE scratch ADD COLUMN extra TEXT DEFAULT 'x'").run() }
            let columns = try await database.read { try await $0.raw("SELECT * FROM scratch WHERE id = \(bind: 1)").first()?.allColumns }
            #expect(columns == ["id", "name", "extra"])
        }
    }

    @Test func aFailedStatementLeavesNothingOpenAndTheTransactionRollsBack() async throws {
        try await Self.withOpen { database in
            try await database.write { try await $0.raw("CREATE TABLE scratch (id INTEGER PRIMARY KEY)").run() }
            await #expect(throws: SQLiteFailure.self) {
                try await database.write { sql in
                    try await sql.raw("INSERT INTO scratch (id) VALUES (\(bind: 1))").run()
                    try await sql.raw("INSERT INTO scratch (id) VALUES (\(bind: 1))").run()  // duplicate key
                }
            }
            await #expect(throws: SQLiteFailure.self) {
                try await database.read { try await $0.raw("SELECT nothing FROM nowhere").run() }
            }
            let count = try await database.read { try await $0.raw("SELECT COUNT(*) AS n FROM scratch").first()?.decode(column: "n", as: Int64.self) }
            #expect(count == 0)
            // Readers are read-only connections.
            await #expect(throws: SQLiteFailure.self) {
                try await database.read { try await $0.raw("INSERT INTO scratch (id) VALUES (\(bind: 2))").run() }
            }
        }
    }

    /// A read body sees one snapshot, whatever commits meanwhile.
    @Test func aReadBodyIsOneSnapshot() async throws {
        try await Self.withOpen { database in
            try await database.write { try await $0.raw("CREATE TABLE scratch (id INTEGER PRIMARY KEY)").run() }
            let (before, after) = try await database.read { sql in
                let before = try await sql.raw("SELECT COUNT(*) AS n FROM scratch").first()?.decode(column: "n", as: Int64.self)
                try await database.write { try await $0.raw("INSERT INTO scratch (id) VALUES (\(bind: 1))").run() }
                let after = try await sql.raw("SELECT COUNT(*) AS n FROM scratch").first()?.decode(column: "n", as: Int64.self)
                return (before, after)
            }
            #expect(before == 0 && after == 0)
            let now = try await database.read { try await $0.raw("SELECT COUNT(*) AS n FROM scratch").first()?.decode(column: "n", as: Int64.self) }
            #expect(now == 1)
        }
    }

    /// Checkpoints run on their own thread; the write-ahead log must still be copied back
    /// and rewound under steady writes and reads, not grow without end, and also when
    /// Swift concurrency's threads are busy, so that a task waits long for its turn (as
    /// with the whole test suite running: a read that yielded inside its transaction then
    /// kept its snapshot for seconds, and the log grew past 20 MB).
    @Test func theWriteAheadLogStaysBoundedUnderSteadyWritesAndReads() async throws {
        try await Self.withFile { path in
            let database = try SQLiteBackend.open(storage: .file(path), readers: 4, synchronous: .full, logger: Self.logger)
            try await database.write { try await $0.raw("CREATE TABLE scratch (id INTEGER PRIMARY KEY, body TEXT)").run() }
            let writing = WritingFlag()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    defer { writing.value.store(false, ordering: .releasing) }
                    try await Self.writePages(0..<5000, to: database)
                }
                // Busy neighbours: each keeps a thread for 30 ms at a time.
                for _ in 0..<3 {
                    group.addTask {
                        while writing.value.load(ordering: .acquiring) {
                            let until = ContinuousClock.now + .milliseconds(30)
                            while ContinuousClock.now < until {}
                            await Task.yield()
                        }
                    }
                }
                for _ in 0..<2 {
                    group.addTask {
                        for _ in 0..<1000 {
                            _ = try await database.read { try await $0.raw("SELECT COUNT(*) AS n FROM scratch").first() }
                        }
                    }
                }
                try await group.waitForAll()
            }
            // Without checkpoints the log would hold every page written, about 60 MB here;
            // with them it stays near the threshold (1,000 frames, 4 MB) plus what commits
            // while a checkpoint runs: 6–11 MB seen, 18–37 MB when reads yielded halfway.
            let walBytes = try Self.logBytes(path)
            #expect(walBytes < 15_000_000, "write-ahead log of \(walBytes) bytes")
            let count = try await database.read { try await $0.raw("SELECT COUNT(*) AS n FROM scratch").first()?.decode(column: "n", as: Int64.self) }
            #expect(count == 5000)
            await database.close()
        }
    }

    /// A long read keeps the log from being copied back; writes meanwhile must not wait for
    /// checkpoints that cannot succeed (they waited up to 50 ms per commit: 2,000 writes
    /// took over 5 s), and the log rewinds once the read is over.
    @Test func aLongReadDoesNotHoldWritesUp() async throws {
        try await Self.withFile { path in
            let database = try SQLiteBackend.open(storage: .file(path), readers: 4, synchronous: .normal, logger: Self.logger) // the checkpointer alone, no sync per commit on top
            try await database.write { try await $0.raw("CREATE TABLE scratch (id INTEGER PRIMARY KEY, body TEXT)").run() }
            let writing = WritingFlag()
            let reading = AsyncStream<Void>.makeStream()
            async let longRead: Int64? = database.read { sql in
                let count = try await sql.raw("SELECT COUNT(*) AS n FROM scratch").first()?.decode(column: "n", as: Int64.self)
                reading.continuation.finish()
                let deadline = ContinuousClock.now + .seconds(20)
                while writing.value.load(ordering: .acquiring), ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(5))
                }
                return count
            }
            for await _ in reading.stream {}
            let started = ContinuousClock.now
            try await Self.writePages(0..<2000, to: database)
            let elapsed = ContinuousClock.now - started
            writing.value.store(false, ordering: .releasing)
            #expect(try await longRead == 0)  // its snapshot, all along
            #expect(elapsed < .seconds(5), "2,000 writes beside a long read took \(elapsed)")
            // The read is over: the next checkpoint copies everything while writes go on (so
            // the file still grows, by as much as they outrun the copy: a race, waited for
            // here, not timed) and the next commit starts the log again from its beginning.
            let grown = try Self.logBytes(path)
            #expect(grown > 6_000_000)
            let cycle = try Self.logCycle(path)
            var next = 2000
            let deadline = ContinuousClock.now + .seconds(20)
            while try Self.logCycle(path) == cycle, ContinuousClock.now < deadline {
                try await Self.writePages(next..<next + 1, to: database)
                next += 1
            }
            #expect(try Self.logCycle(path) != cycle, "the log never rewound after the read (\(next - 2000) writes)")
            // Rewound: twice as many writes again, which would add twice its size, barely change it.
            let rewound = try Self.logBytes(path)
            try await Self.writePages(next..<next + 4000, to: database)
            let after = try Self.logBytes(path)
            #expect(after < rewound + grown / 2, "log of \(grown) bytes, \(rewound) once rewound, then \(after)")
            await database.close()
        }
    }

    private static let logger = Logger(label: "concerto.sqlite.test") { _ in SwiftLogNoOpLogHandler() }

    /// A fresh database file in a directory of its own, removed afterwards.
    private static func withFile(_ body: (String) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("concerto-sqlite-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try await body(directory.appendingPathComponent("test.sqlite").path)
    }

    /// A fresh file opened as the tests' databases are (synchronous = normal), closed afterwards.
    private static func withOpen(_ body: (SQLiteBackend) async throws -> Void) async throws {
        try await withFile { path in
            let database = try SQLiteBackend.open(storage: .file(path), readers: 4, synchronous: .normal, logger: logger)
            do {
                try await body(database)
            } catch {
                await database.close()
                throw error
            }
            await database.close()
        }
    }

    /// One commit per row of `ids`, each about a page (3,000 bytes) of the `scratch` table.
    private static func writePages(_ ids: Range<Int>, to database: SQLiteBackend) async throws {
        let body = String(repeating: "x", count: 3000)
        for index in ids {
            try await database.write { try await $0.raw("INSERT INTO scratch (id, body) VALUES (\(bind: index), \(bind: body))").run() }
        }
    }

    /// The size of the write-ahead log file next to the database at `path` (which must exist).
    private static func logBytes(_ path: String) throws -> Int {
        try FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int ?? 0
    }

    /// The write-ahead log's checkpoint sequence number (its header, bytes 12–15, big-endian):
    /// SQLite adds one each time the log starts again from its beginning.
    private static func logCycle(_ path: String) throws -> UInt32 {
        let file = try FileHandle(forReadingFrom: URL(fileURLWithPath: path + "-wal"))
        defer { try? file.close() }
        let header = try file.read(upToCount: 16) ?? Data()
        guard header.count == 16 else { return 0 }
        return header[12..<16].reduce(0) { $0 << 8 | UInt32($1) }
    }

    @Test func aClosedDatabaseRefusesWorkInsteadOfWaiting() async throws {
        try await Self.withOpen { database in
            await database.close()
            await #expect(throws: SQLiteFailure.self) { try await database.read { try await $0.raw("SELECT 1").run() } }
            await #expect(throws: SQLiteFailure.self) { try await database.write { try await $0.raw("SELECT 1").run() } }
        }
    }
}

/// Tells the busy neighbours of a test when the writer is done.
private final class WritingFlag: Sendable {
    let value = Atomic<Bool>(true)
}
