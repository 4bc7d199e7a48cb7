import ConcertoStore
import ConcertoTestSupport
import SQLKit
import Testing

/// PostgreSQL statements prepared once per connection (`PreparedPostgresConnection`).
/// The whole PostgreSQL suite runs through it; these pin what it adds.
@Suite(.enabled(if: TestDatabase.engineUnderTest == .postgres, "PostgreSQL only: SQLite's driver has its own statement cache"))
struct PreparedStatementTests {
    private struct Name: Decodable { var name: String }
    private struct Answer: Decodable { var answer: String }

    private static func preparedNames(_ connection: any SQLDatabase) async throws -> [String] {
        // A SELECT too: prepared before it runs, it lists itself.
        try await connection.raw("SELECT name FROM pg_prepared_statements ORDER BY name").all(decoding: Name.self).map(\.name)
    }

    @Test func aStatementIsPreparedOnceAndThenReused() async throws {
        try await TestDatabase.withFresh { database in
            let result = try await database.withDedicatedConnection { connection in
                try await connection.exchange(within: .seconds(10)) { db in
                    var answers: [String] = []
                    for value in ["a", "b", "c"] {
                        answers += try await db.raw("SELECT \(bind: value)::text || 'x' AS answer").all(decoding: Answer.self).map(\.answer)
                    }
                    return (answers, try await Self.preparedNames(db))
                }
            }
            let (answers, names) = try #require(result)
            #expect(answers == ["ax", "bx", "cx"])
            // The text with its bound parameter and the catalogue query itself, each once.
            #expect(names.count == 2)
            #expect(names.allSatisfy { $0.hasPrefix("concerto_") })
        }
    }

    /// A null and a value for the same parameter: each kind gets its own statement, and both
    /// answer as an unnamed statement would.
    @Test func nullsAndValuesOfOneStatementBothWork() async throws {
        try await TestDatabase.withFresh { database in
            let answers = try await database.read { db in
                var answers: [String] = []
                for value in [nil, "given", nil] as [String?] {
                    answers += try await db.raw("SELECT COALESCE(\(bind: value), 'none') AS answer").all(decoding: Answer.self).map(\.answer)
                }
                return answers
            }
            #expect(answers == ["none", "given", "none"])
        }
    }

    /// PostgreSQL refuses every statement in a transaction that failed, and postgres-nio keeps
    /// a failed preparation for good: a statement first seen there would stay broken on that
    /// connection. It goes unnamed there instead, and is prepared once the transaction ends.
    @Test func aStatementFirstSeenInAFailedTransactionStillWorksAfterwards() async throws {
        try await TestDatabase.withFresh { database in
            let result = try await database.withDedicatedConnection { connection in
                try await connection.exchange(within: .seconds(10)) { db in
                    try await db.raw("BEGIN").run()
                    await #expect(throws: (any Error).self) { try await db.raw("SELECT 1 / \(bind: 0) AS answer").run() }
                    await #expect(throws: (any Error).self) {
                        try await db.raw("SELECT \(bind: "after")::text AS answer").all(decoding: Answer.self)
                    }
                    try await db.raw("ROLLBACK").run()
                    return try await db.raw("SELECT \(bind: "after")::text AS answer").all(decoding: Answer.self).map(\.answer)
                }
            }
            #expect(result == ["after"])
        }
    }

    /// Values PostgresKit encodes through Codable (a structure, sent as JSON) go unnamed,
    /// and still work.
    @Test func valuesOutsidePostgresNIOsOwnTypesGoUnnamed() async throws {
        struct Pair: Codable, Sendable { var a: String }
        try await TestDatabase.withFresh { database in
            let result = try await database.withDedicatedConnection { connection in
                try await connection.exchange(within: .seconds(10)) { db in
                    let answers = try await db.raw("SELECT \(bind: Pair(a: "x"))::jsonb ->> 'a' AS answer").all(decoding: Answer.self).map(\.answer)
                    return (answers, try await Self.preparedNames(db))
                }
            }
            let (answers, names) = try #require(result)
            #expect(answers == ["x"])
            #expect(names.count == 1) // the catalogue query only
        }
    }
}
