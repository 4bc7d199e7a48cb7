import ConcertoCore
import ConcertoSQLite
import Crypto
import Foundation
import Logging
import SQLKit

/// One migration as read from `Migrations/`: `NNNN_name.sql`, or for engine-specific
/// DDL a pair `NNNN_name.sqlite.sql` + `NNNN_name.postgres.sql`.
public struct Migration: Sendable, Equatable {
    public let number: Int
    public let name: String
    public let sql: String

    /// SHA-256 of the file, hex: an applied migration whose file changes is refused.
    public var checksum: String {
        SHA256.hash(data: Data(sql.utf8)).withUnsafeBytes { $0.hexString }
    }
}

public enum MigrationError: Error, CustomStringConvertible, Equatable {
    case invalidFileName(String)
    case duplicateNumber(Int)
    case missingEngineVariant(name: String, engine: SQLEngine)
    case checksumMismatch(name: String)
    case unknownApplied(name: String)

    public var description: String {
        switch self {
        case .invalidFileName(let file):
            "Migration file \(file) must be named NNNN_name.sql, NNNN_name.sqlite.sql or NNNN_name.postgres.sql"
        case .duplicateNumber(let number):
            "Two migrations share number \(number)"
        case .missingEngineVariant(let name, let engine):
            "Migration \(name) has no .\(engine.rawValue).sql variant"
        case .checksumMismatch(let name):
            "Migration \(name) was changed after it was applied; migrations are append-only: add a new file instead"
        case .unknownApplied(let name):
            "The database has migration \(name) applied, which this build does not know; is the server older than the database?"
        }
    }
}

/// Applies the migrations in order, each once, each in its own transaction, recording
/// name and checksum in `schema_migrations`.
public struct Migrator: Sendable {
    public let migrations: [Migration]
    let logger: Logger

    public init(migrations: [Migration], logger: Logger = Logger(label: "concerto.migrator")) {
        self.migrations = migrations.sorted { $0.number < $1.number }
        self.logger = logger
    }

    /// Reads the folder and keeps, per number, the portable file or the file for `engine`.
    public init(directory: URL, engine: SQLEngine, logger: Logger = Logger(label: "concerto.migrator")) throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".sql") }
            .sorted()
        var byNumber: [Int: (name: String, portable: String?, variants: [SQLEngine: String])] = [:]
        for file in files {
            let parts = try Self.parse(fileName: file)
            var entry = byNumber[parts.number] ?? (parts.name, nil, [:])
            guard entry.name == parts.name else { throw MigrationError.duplicateNumber(parts.number) }
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            if let variant = parts.engine {
                entry.variants[variant] = text
            } else {
                guard entry.portable == nil else { throw MigrationError.duplicateNumber(parts.number) }
                entry.portable = text
            }
            byNumber[parts.number] = entry
        }
        var migrations: [Migration] = []
        for (number, entry) in byNumber {
            let fullName = String(format: "%04d_%@", number, entry.name)
            if let portable = entry.portable {
                guard entry.variants.isEmpty else { throw MigrationError.duplicateNumber(number) }
                migrations.append(Migration(number: number, name: fullName, sql: portable))
            } else if let text = entry.variants[engine] {
                migrations.append(Migration(number: number, name: fullName, sql: text))
            } else {
                throw MigrationError.missingEngineVariant(name: fullName, engine: engine)
            }
        }
        self.init(migrations: migrations, logger: logger)
    }

    static func parse(fileName: String) throws -> (number: Int, name: String, engine: SQLEngine?) {
        var base = String(fileName.dropLast(".sql".count))
        var engine: SQLEngine?
        for candidate in [SQLEngine.sqlite, .postgres] where base.hasSuffix(".\(candidate.rawValue)") {
            engine = candidate
            base = String(base.dropLast(candidate.rawValue.count + 1))
        }
        let pieces = base.split(separator: "_", maxSplits: 1)
        guard pieces.count == 2, pieces[0].count == 4, let number = Int(pieces[0]),
              !pieces[1].isEmpty, pieces[1].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" })
        else { throw MigrationError.invalidFileName(fileName) }
        return (number, String(pieces[1]), engine)
    }

    /// Applies what is missing; returns the names applied by this call.
    @discardableResult
    public func migrate(_ database: Database) async throws -> [String] {
        try await database.withMigrationLock { connection in
            try await connection.raw("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    name TEXT PRIMARY KEY,
                    checksum TEXT NOT NULL,
                    applied_at TEXT NOT NULL
                )
                """).run()
            let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.name, $0) })
            for row in try await appliedMigrations(connection) {
                guard let migration = known[row.name] else { throw MigrationError.unknownApplied(name: row.name) }
                guard migration.checksum == row.checksum else { throw MigrationError.checksumMismatch(name: row.name) }
            }
            var applied: [String] = []
            for migration in migrations {
                let didApply = try await connection.inTransaction(begin: database.beginStatement) { tx in
                    // Checked again inside the write transaction: another process may have just applied it.
                    let already = try await tx.raw("SELECT name FROM schema_migrations WHERE name = \(bind: migration.name)")
                        .first() != nil
                    if already { return false }
                    for statement in SQLScript.statements(in: migration.sql) {
                        try await tx.raw(SQLQueryString(statement)).run()
                    }
                    try await tx.raw("""
                        INSERT INTO schema_migrations (name, checksum, applied_at)
                        VALUES (\(bind: migration.name), \(bind: migration.checksum), \(bind: Timestamp.iso8601(Date())))
                        """).run()
                    return true
                }
                if didApply {
                    logger.info("applied migration", metadata: ["migration": "\(migration.name)"])
                    applied.append(migration.name)
                }
            }
            return applied
        }
    }

    struct AppliedRow: Decodable {
        var name: String
        var checksum: String
    }

    private func appliedMigrations(_ connection: any SQLDatabase) async throws -> [AppliedRow] {
        try await connection.raw("SELECT name, checksum FROM schema_migrations ORDER BY name")
            .all(decoding: AppliedRow.self)
    }
}

/// Splits an SQL file into statements: `;` ends a statement except inside quotes,
/// comments, PostgreSQL dollar-quoted bodies or a SQLite `CREATE TRIGGER ... BEGIN ...
/// END` body (ended by the `;` after `END`). Drivers run one statement per call.
public enum SQLScript {
    public static func statements(in script: String) -> [String] {
        var statements: [String] = []
        var current = ""
        let characters = Array(script)
        var index = 0
        func flush() {
            let trimmed = current.trimmingCharacters(in: .whitespacesAndNewlines)
            if !trimmed.isEmpty && !isOnlyComments(trimmed) { statements.append(trimmed) }
            current = ""
        }
        while index < characters.count {
            let character = characters[index]
            let next: Character? = index + 1 < characters.count ? characters[index + 1] : nil
            switch character {
            case "-" where next == "-":
                while index < characters.count && characters[index] != "\n" {
                    current.append(characters[index]); index += 1
                }
                continue
            case "/" where next == "*":
                current += "/*"; index += 2
                while index < characters.count {
                    if characters[index] == "*", index + 1 < characters.count, characters[index + 1] == "/" {
                        current += "*/"; index += 2; break
                    }
                    current.append(characters[index]); index += 1
                }
                continue
            case "'", "\"":
                current.append(character); index += 1
                while index < characters.count {
                    current.append(characters[index])
                    if characters[index] == character { index += 1; break }
                    index += 1
                }
                continue
            case "$":
                // Dollar quoting: $tag$ ... $tag$
                var tagEnd = index + 1
                while tagEnd < characters.count, characters[tagEnd].isLetter || characters[tagEnd] == "_" { tagEnd += 1 }
                if tagEnd < characters.count, characters[tagEnd] == "$" {
                    let tag = String(characters[index...tagEnd])
                    current += tag
                    index = tagEnd + 1
                    let rest = String(characters[index...])
                    if let range = rest.range(of: tag) {
                        let body = rest[..<range.upperBound]
                        current += body
                        index += body.count
                    } else {
                        current += rest
                        index = characters.count
                    }
                    continue
                }
                current.append(character); index += 1
            case ";":
                if isInsideTriggerBody(current) {
                    current.append(character); index += 1
                } else {
                    flush(); index += 1
                }
            default:
                current.append(character); index += 1
            }
        }
        flush()
        return statements
    }

    /// A SQLite trigger's body holds statements of its own; its `;`s belong to it until `END`.
    private static func isInsideTriggerBody(_ statement: String) -> Bool {
        let code = statement.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("--") }.joined(separator: "\n")
        let words = code.uppercased().split(whereSeparator: { !$0.isLetter && $0 != "_" })
        guard words.starts(with: ["CREATE", "TRIGGER"]) || words.starts(with: ["CREATE", "TEMP", "TRIGGER"])
            || words.starts(with: ["CREATE", "TEMPORARY", "TRIGGER"]) else { return false }
        guard words.contains("BEGIN") else { return false }
        return words.last != "END"
    }

    private static func isOnlyComments(_ text: String) -> Bool {
        text.split(separator: "\n").allSatisfy {
            let line = $0.trimmingCharacters(in: .whitespaces)
            return line.isEmpty || line.hasPrefix("--")
        }
    }
}
