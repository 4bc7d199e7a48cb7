import ConcertoStore
import Foundation
import Logging
import PostgresNIO
import SQLKit

/// What a statement costs the server's process, apart from the work it asks of the
/// database: `SELECT 1` many times, 16 at once, as the server's pages run them
/// (`Database.read`: on PostgreSQL a deadline, a pooled connection and a round trip; on
/// SQLite a reader and a read transaction), then several statements per read, then (on
/// PostgreSQL) postgres-nio's own client without our layer. Prints statements/s and this
/// process's CPU per statement (getrusage), so our layer's share can be told apart.
///
///     concerto-bench roundtrip [--database URL] [--iterations N]   (default: a throw-away SQLite file; the database is migrated)
enum RoundTripBench {
    static func run(_ options: Options) async throws {
        let operations = options.iterations
        try await withBenchDatabase(options) { database, engineName in
            print("== \(engineName): SELECT 1, 16 at once")
            for statements in [1, 5] {
                let read: @Sendable () async throws -> Void = {
                    try await database.read { sql in for _ in 0..<statements { try await sql.raw("SELECT 1").run() } }
                }
                _ = try await measure(operations: operations / 4, concurrency: 16, read)
                let (rate, cpu) = try await measure(operations: operations / statements, concurrency: 16, read)
                report("Database.read, \(statements) statement(s) per read", statementsPerSecond: rate * Double(statements), cpuPerStatement: cpu / Double(statements))
            }
            guard case .postgres(let host, let port, let username, let password, let name, _) = database.url else { return true }
            var logger = Logger(label: "bench")
            logger.logLevel = .error
            let client = PostgresClient(configuration: .init(host: host, port: port, username: username, password: password, database: name, tls: .disable),
                                        backgroundLogger: logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                let query: @Sendable () async throws -> Void = { _ = try await client.query("SELECT 1").collect() }
                _ = try await measure(operations: operations / 4, concurrency: 16, query)
                let (rate, cpu) = try await measure(operations: operations, concurrency: 16, query)
                report("postgres-nio PostgresClient.query", statementsPerSecond: rate, cpuPerStatement: cpu)
                group.cancelAll()
            }
            return true
        }
    }

    private static func report(_ label: String, statementsPerSecond: Double, cpuPerStatement: Double) {
        print(String(format: "%@: %.0f statements/s, %.3f ms of this process's CPU per statement", label, statementsPerSecond, cpuPerStatement))
    }

    /// Runs `operation` `operations` times, `concurrency` at once; returns operations per
    /// second and this process's CPU milliseconds per operation.
    private static func measure(operations: Int, concurrency: Int, _ operation: @escaping @Sendable () async throws -> Void) async throws -> (Double, Double) {
        let clock = ContinuousClock()
        let cpuBefore = processCPUMilliseconds()
        let start = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    for _ in stride(from: worker, to: operations, by: concurrency) { try await operation() }
                }
            }
            try await group.waitForAll()
        }
        let seconds = milliseconds(clock.now - start) / 1000
        return (Double(operations) / seconds, (processCPUMilliseconds() - cpuBefore) / Double(operations))
    }

    private static func processCPUMilliseconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000 + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1000
    }
}
