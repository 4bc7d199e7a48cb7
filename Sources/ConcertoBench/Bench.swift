import ConcertoCore
import ConcertoSQLite
import ConcertoStore
import Foundation
import Logging
import SQLKit

// `concerto-bench`, measured in a release build (scripts/bench/run runs every part):
//   trust (default)   policy check + audit append per request, and `audit verify` throughput
//                     (TrustBench.swift; issue 3: p99 < 1 ms, > 100,000 events/s on SQLite)
//   search            case search over a generated set of 1,000,000 fiches
//                     (SearchBench.swift; issue 4: p99 < 50 ms on SQLite and PostgreSQL)
//   seed-agenda       fills the demo's next board up to 40 cases, for the agenda page's
//                     wrk run (AgendaSeed.swift; issue 4: p99 < 25 ms at 32 connections)
//   cda               CDA reading throughput over the shared corpus, MB/s on one core
//                     (CDABench.swift; issue 5: >= 50 MB/s, next to Python lxml)
//   indicators        the 3C's indicators over 1,000,000 fiches of ten years in one community
//                     (IndicatorsBench.swift; issue 20: page < 2 s, CSV < 5 s, both engines)
//   fiche             writing a fiche RCP as CDA R2 (FicheBench.swift; issue 7: < 20 ms)
//   dicom-json        decoding a QIDO-RS answer (DICOMJSONBench.swift; part of issue 6's
//                     added latency)
//   roundtrip         what a statement costs this process on each engine, apart from the
//                     database's own work (RoundTripBench.swift; issue 19's page budget)
// Usage: concerto-bench [trust|search|seed-agenda|cda|roundtrip] [--database URL] [--migrations DIR]
//                       [--iterations N] [--events N] [--cases N] [--corpus DIR] [--seconds N]
//                       [--sqlite-sync full|normal] [--postgres-prepare on|off] [--coordinator EMAIL]

struct Options {
    var mode = "trust"
    var database: DatabaseURL?
    var sqliteSynchronous = SQLiteSynchronous.full
    var postgresPreparedStatements = true
    var cases = 1_000_000
    var migrations = "Migrations"
    var iterations = 20_000
    var events = 200_000
    var corpus = "../shared/corpus/cda"
    var seconds = 5
    var file = ""
    var decide = false
    /// `indicators`: an existing account made coordinator of the generated community, so
    /// that scripts/bench/indicators can time its pages through the server.
    var coordinator: String?

    init(_ arguments: [String]) throws {
        var index = 1
        if arguments.count > 1, !arguments[1].hasPrefix("--") {
            mode = arguments[1]
            index = 2
        }
        func value() throws -> String {
            index += 1
            guard index < arguments.count else { throw BenchError.usage }
            return arguments[index]
        }
        while index < arguments.count {
            switch arguments[index] {
            case "--database": database = try DatabaseURL(parsing: try value())
            case "--sqlite-sync": sqliteSynchronous = try SQLiteSynchronous(rawValue: value()) ?? { throw BenchError.usage }()
            case "--postgres-prepare": postgresPreparedStatements = try ["on": true, "off": false][value()] ?? { throw BenchError.usage }()
            case "--migrations": migrations = try value()
            case "--iterations": iterations = Int(try value()) ?? iterations
            case "--events": events = Int(try value()) ?? events
            case "--cases": cases = Int(try value()) ?? cases
            case "--corpus": corpus = try value()
            case "--seconds": seconds = Int(try value()) ?? seconds
            case "--file": file = try value()
            case "--decide": decide = true
            case "--coordinator": coordinator = try value()
            default: throw BenchError.usage
            }
            index += 1
        }
    }
}

enum BenchError: Error { case usage, missingFacts }

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
}

/// Runs `body` on the bench database, migrated: `--database`, or a throw-away SQLite file
/// removed afterwards. `body` returns whether the targets were met; the process exits 1
/// when they were not, once the database is closed.
func withBenchDatabase(_ options: Options, _ body: (Database, String) async throws -> Bool) async throws {
    var logger = Logger(label: "bench")
    logger.logLevel = .error
    let workdir = FileManager.default.temporaryDirectory.appendingPathComponent("concerto-bench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: workdir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: workdir) }
    let url = options.database ?? .sqliteFile(path: workdir.appendingPathComponent("bench.sqlite").path)
    let database = try await Database.open(
        url, sqliteSynchronous: options.sqliteSynchronous, postgresPreparedStatements: options.postgresPreparedStatements, auditKey: .random(), logger: logger)
    let met: Bool
    do {
        try await Migrator(directory: URL(fileURLWithPath: options.migrations), engine: database.engine, logger: logger).migrate(database)
        met = try await body(database, database.engine == .sqlite ? "SQLite" : "PostgreSQL")
    } catch {
        await database.shutdown()
        throw error
    }
    await database.shutdown()
    if !met {
        try? FileManager.default.removeItem(at: workdir)
        exit(1)
    }
}

/// Opens a demo server's database (`--database`, the server stopped) with that server's
/// audit key, so events written here join its chain; closes it after `body`.
func withServerDatabase(_ options: Options, _ body: (Database) async throws -> Void) async throws {
    guard let url = options.database else { throw BenchError.usage }
    var logger = Logger(label: "bench")
    logger.logLevel = .error
    // The server's key: CONCERTO_AUDIT_KEY_FILE when set, as for the server, else the default place.
    let keyFile = ProcessInfo.processInfo.environment["CONCERTO_AUDIT_KEY_FILE"].flatMap { $0.isEmpty ? nil : $0 } ?? AuditKey.defaultPath(for: url)
    let key = try AuditKey.load(path: keyFile, create: false).key
    let database = try await Database.open(url, auditKey: key, logger: logger)
    do {
        try await body(database)
    } catch {
        await database.shutdown()
        throw error
    }
    await database.shutdown()
}

@main
struct Bench {
    static let usage = """
        usage: concerto-bench MODE --database URL [options]
          modes: trust, search, indicators, seed-agenda, list-facts, roundtrip, cda, dicom-json, fiche, exports
          options: --sqlite-sync full|normal, --postgres-prepare on|off, --migrations DIR, --iterations N, --events N,
                   --cases N, --corpus DIR, --seconds N, --file PATH, --decide, --coordinator EMAIL
        """

    static func main() async throws {
        do {
            try await run(Options(CommandLine.arguments))
        } catch BenchError.usage {
            // A mistyped command deserves the usage, not a crash report.
            FileHandle.standardError.write(Data((usage + "\n").utf8))
            exit(2)
        }
    }

    static func run(_ options: Options) async throws {
        switch options.mode {
        case "trust": try await TrustBench.run(options)
        case "search": try await SearchBench.run(options)
        case "indicators": try await IndicatorsBench.run(options)
        case "seed-agenda": try await AgendaSeed.run(options)
        case "list-facts": try await ListFactsBench.run(options)
        case "roundtrip": try await RoundTripBench.run(options)
        case "cda": if try !CDABench.run(options) { exit(1) }
        case "dicom-json": try DICOMJSONBench.run(options)
        case "fiche", "exports": if try !FicheBench.run(options) { exit(1) }
        default: throw BenchError.usage
        }
    }
}
