import SQLKit

extension SQLDatabase {
    /// Runs `body` in one transaction begun by `begin` (`BEGIN IMMEDIATE` on SQLite, `BEGIN`
    /// on PostgreSQL): committed when it returns, rolled back when it throws. The connection
    /// must be nobody else's meanwhile. The one implementation for both engines.
    public func inTransaction<T: Sendable>(begin: String, _ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await raw(SQLQueryString(begin)).run()
        do {
            let result = try await body(self)
            try await raw("COMMIT").run()
            return result
        } catch {
            try? await raw("ROLLBACK").run()
            throw error
        }
    }
}
