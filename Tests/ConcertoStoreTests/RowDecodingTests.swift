import ConcertoStore
import ConcertoTestSupport
import SQLKit
import Testing

/// Both drivers decode the common types of a row themselves (SQLite's `SQLiteResultRow`,
/// PostgreSQL's `PostgresColumns`) and hand the rest to the SQLKit drivers' decoders; a
/// store sees the same values either way.
@Suite struct RowDecodingTests {
    @Test func rowsReadEveryCommonTypeByNameAndRefuseAMissingColumn() async throws {
        try await TestDatabase.withFresh { database in
            let row = try await database.read { db in
                try await db.raw("""
                    SELECT 'text' AS word, CAST(NULL AS TEXT) AS no_word, CAST(42 AS BIGINT) AS big, CAST(NULL AS BIGINT) AS no_big,
                           CAST(7 AS INTEGER) AS small, TRUE AS yes, CAST(NULL AS BOOLEAN) AS no_bool, CAST(2.5 AS DOUBLE PRECISION) AS real,
                           'first' AS twice, 'second' AS twice
                    """).first()
            }
            let columns = try #require(row)
            #expect(try columns.decode(column: "word", as: String.self) == "text")
            #expect(try columns.decode(column: "word", as: String?.self) == "text")
            #expect(try columns.decode(column: "no_word", as: String?.self) == nil)
            #expect(try columns.decodeNil(column: "no_word"))
            #expect(try !columns.decodeNil(column: "word"))
            #expect(try columns.decode(column: "big", as: Int64.self) == 42)
            #expect(try columns.decode(column: "big", as: Int.self) == 42)
            #expect(try columns.decode(column: "no_big", as: Int64?.self) == nil)
            #expect(try columns.decode(column: "no_big", as: Int?.self) == nil)
            #expect(try columns.decode(column: "small", as: Int.self) == 7)
            #expect(try columns.decode(column: "yes", as: Bool.self))
            #expect(try columns.decode(column: "no_bool", as: Bool?.self) == nil)
            #expect(try columns.decode(column: "real", as: Double.self) == 2.5)
            #expect(try columns.decode(column: "twice", as: String.self) == "first")
            #expect(columns.allColumns == ["word", "no_word", "big", "no_big", "small", "yes", "no_bool", "real", "twice", "twice"])
            #expect(columns.contains(column: "word"))
            #expect(!columns.contains(column: "absent"))
            #expect(try columns.decodeNil(column: "absent"))
            #expect(throws: (any Error).self) { try columns.decode(column: "absent", as: String.self) }
        }
    }
}
