import ArgumentParser
import ConcertoCore
import ConcertoServices
import ConcertoStore
import ConcertoWeb
import Foundation
import Hummingbird
import Logging

@main
struct Concerto: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "concerto",
        abstract: "Concerto: the server behind a tumour-board (RCP) community.",
        discussion: """
            Configuration comes from flags, then CONCERTO_* environment variables, then defaults.
            Database URLs: sqlite:PATH, sqlite::memory: or postgres://user:pass@host:port/db
            (also read from CONCERTO_DATABASE_URL or DATABASE_URL).
            """,
        subcommands: [Serve.self, Migrate.self, Demo.self, UserCommand.self, AuditCommand.self, CDACommand.self, ExportCommand.self]
    )
}

/// Options every command takes.
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: "Database URL: sqlite:PATH, sqlite::memory: or postgres://user:pass@host:port/db. Default: sqlite:data/concerto.sqlite")
    var database: String?

    @Option(name: .long, help: "Folder of the SQL migrations. Default: Migrations")
    var migrations: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String?

    func configuration() throws -> AppConfiguration {
        var config = try AppConfiguration.fromEnvironment()
        if let database { config.database = try DatabaseURL(parsing: database) }
        if let migrations { config.migrationsDirectory = migrations }
        if let logLevel {
            guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("Unknown log level \(logLevel)") }
            config.logLevel = level
        }
        return config
    }
}

/// One JSON log sink for the process, installed once before any logger is made.
let logSink: LogSink = {
    let sink = LogSink()
    LoggingSystem.bootstrap { JSONLogHandler(label: $0, sink: sink) }
    return sink
}()

func makeLogger(_ config: AppConfiguration) -> Logger {
    _ = logSink
    var logger = Logger(label: "concerto")
    logger.logLevel = config.logLevel
    return logger
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start the web server (applies pending migrations first).")

    @OptionGroup var common: CommonOptions

    @Option(name: .long, help: "Address to listen on. Default: 127.0.0.1")
    var host: String?

    @Option(name: .long, help: "Port to listen on. Default: 8080")
    var port: Int?

    @Flag(name: .long, help: "Seed demo accounts and communities into an empty database, and print the demo accounts.")
    var demo = false

    @Option(name: .long, help: "Folder of the page templates. Default: Templates")
    var templates: String?

    @Option(name: .long, help: "Folder of the static files. Default: Public")
    var publicDirectory: String?

    @Option(name: .long, help: "DICOMweb root of the default imaging exchange (e.g. http://127.0.0.1:8042/dicom-web). Default: CONCERTO_DICOMWEB_URL")
    var dicomwebURL: String?

    func run() async throws {
        HeapTuning.keepFreedMemory()
        var config = try common.configuration()
        if let dicomwebURL { config.dicomwebURL = dicomwebURL.isEmpty ? nil : dicomwebURL }
        if let host { config.host = host }
        if let port { config.port = port }
        if let templates { config.templatesDirectory = templates }
        if let publicDirectory { config.publicDirectory = publicDirectory }
        config.seedDemoData = config.seedDemoData || demo
        let app = try await buildApplication(config, logger: makeLogger(config)) { accounts in
            for account in accounts { say(account.line) }
        }
        for setting in config.retiredSettings { say(setting.notice) }
        say("Concerto listening on http://\(config.host):\(config.port) (database \(config.database))")
        say(config.dicomwebURL.map { "Imaging exchange: \($0)" } ?? "Imaging exchange: not configured (set CONCERTO_DICOMWEB_URL or --dicomweb-url; `make orthanc` starts a local one)")
        let flusher = Task { await logSink.runFlusher() }
        defer {
            flusher.cancel()
            logSink.flush()
        }
        try await app.runService()
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations and exit.")

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let config = try common.configuration()
        let logger = makeLogger(config)
        let database = try await Database.open(
            config.database, sqliteReaders: config.sqliteReaders, postgresPreparedStatements: config.postgresPreparedStatements, logger: logger)
        do {
            let migrator = try Migrator(directory: URL(fileURLWithPath: config.migrationsDirectory), engine: database.engine, logger: logger)
            let applied = try await migrator.migrate(database)
            print(applied.isEmpty ? "Database is up to date." : "Applied: \(applied.joined(separator: ", "))")
        } catch {
            await database.shutdown()
            logSink.flush()
            throw error
        }
        await database.shutdown()
        logSink.flush()
    }
}

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Seed demo accounts and communities into an empty database, and print the demo accounts.")

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let config = try common.configuration()
        try await withDependencies(config) { dependencies in
            let accounts = try await DemoData.seedIfEmpty(dependencies)
            if accounts.isEmpty { say("The database already has accounts: no demo data added.") }
            for account in accounts { say(account.line) }
        }
    }
}

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "user", abstract: "Manage accounts.", subcommands: [Create.self, ResetPassword.self])

    struct ResetPassword: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reset-password",
            abstract: "Print a one-time link (valid 24 hours) to choose a new password; hand it over by another channel. "
                + "Using it ends the account's sessions and lifts its lock."
        )

        @OptionGroup var common: CommonOptions

        @Option(name: .long, help: "E-mail address of the account.")
        var email: String

        @Flag(name: .long, help: "Also remove the account's second factor (a lost phone): it enrols a new one at its next login when its role requires one.")
        var clearSecondFactor = false

        func run() async throws {
            let config = try common.configuration()
            try await withDependencies(config) { dependencies in
                let policy = PasswordResetPolicy()
                guard let issued = try await PasswordResetLinks.issue(
                    email: email, users: dependencies.users, audit: dependencies.audit, linkBase: config.linkBase, policy: policy,
                    clearSecondFactor: clearSecondFactor)
                else { throw CommandFailure("No account uses \(EmailAddress.normalize(email))") }
                if config.publicURL == nil {
                    FileHandle.standardError.write(Data("Note: CONCERTO_PUBLIC_URL is not set; the link uses this server's own address.\n".utf8))
                }
                say("One-time link for \(issued.user.email), valid \(Int(policy.lifetime.seconds / 3600)) hours:")
                say(issued.link)
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an account. The password is read from CONCERTO_NEW_PASSWORD or, if unset, from standard input."
        )

        @OptionGroup var common: CommonOptions

        @Option(name: .long, help: "E-mail address (the login).")
        var email: String

        @Option(name: .long, help: "Name shown in the interface.")
        var name: String

        @Option(name: .long, help: "Role: admin, coordinator, physician or secretary. Default: physician")
        var role: String = "physician"

        @Option(name: .long, help: "RPPS number (11 digits).")
        var rpps: String?

        @Option(name: .long, help: "Specialty code from the CI-SIS list (e.g. G15_10/SM36 for medical oncology).")
        var specialty: String?

        @Option(name: .long, help: "FINESS number of the account's organisation (which must exist).")
        var finess: String?

        @Flag(name: .long, help: "Give the account administrator rights.")
        var admin = false

        func validate() throws {
            guard EmailAddress.isPlausible(email) else { throw ValidationError("Not a valid e-mail address: \(email)") }
            guard ProfessionalRole(rawValue: role) != nil else { throw ValidationError("Unknown role \(role)") }
            if let rpps, RPPSNumber(rpps) == nil { throw ValidationError("Not a valid RPPS number (11 digits, check digit): \(rpps)") }
            if let finess, FINESSNumber(finess) == nil { throw ValidationError("Not a valid FINESS number (9 characters, check digit): \(finess)") }
            if let specialty, Specialty.find(code: specialty) == nil {
                throw ValidationError("Unknown specialty code \(specialty). Known codes:\n" + Specialty.all.map { "  \($0.code)  \($0.label)" }.joined(separator: "\n"))
            }
        }

        func run() async throws {
            let password: String
            if let fromEnvironment = ProcessInfo.processInfo.environment["CONCERTO_NEW_PASSWORD"] {
                password = fromEnvironment
            } else {
                FileHandle.standardError.write(Data("Password: ".utf8))
                password = readLine(strippingNewline: true) ?? ""
            }
            switch PasswordRules.problem(with: password) {
            case .tooShort: throw CommandFailure("The password needs at least \(PasswordRules.minimumLength) characters.")
            case .tooLong: throw CommandFailure("The password may not exceed \(PasswordRules.maximumBytes) bytes.")
            case nil: break
            }
            let config = try common.configuration()
            let role = admin ? ProfessionalRole.admin : ProfessionalRole(rawValue: role)!
            try await withDependencies(config) { dependencies in
                var organisationID: UUID?
                if let finess = finess.flatMap(FINESSNumber.init) {
                    guard let organisation = try await dependencies.organisations.find(finess: finess) else {
                        throw CommandFailure("No organisation has the FINESS number \(finess)")
                    }
                    organisationID = organisation.id
                }
                let user = User(
                    email: EmailAddress.normalize(email), displayName: name, rppsNumber: rpps.flatMap({ RPPSNumber($0) })?.digits,
                    specialtyCode: specialty, organisationID: organisationID, role: role, isAdmin: admin || role == .admin
                )
                do {
                    try await dependencies.users.create(user, passwordHash: try await dependencies.passwords.hash(password))
                } catch StoreError.duplicateEmail {
                    throw CommandFailure("An account already uses \(user.email)")
                }
                print("Created \(role.rawValue) account \(user.email)")
            }
        }
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Check and pin the audit trail.", subcommands: [Verify.self, Checkpoint.self]
    )

    /// Opens the database with the audit key, which must exist already.
    static func withAuditLog<T>(_ config: AppConfiguration, _ body: (AuditLog) async throws -> T) async throws -> T {
        let key = try AuditKey.load(path: config.resolvedAuditKeyFile, create: false).key
        let database = try await Database.open(
            config.database, sqliteReaders: config.sqliteReaders, postgresPreparedStatements: config.postgresPreparedStatements, auditKey: key, logger: makeLogger(config))
        defer { logSink.flush() }
        do {
            let result = try await body(AuditLog(database: database))
            await database.shutdown()
            return result
        } catch {
            await database.shutdown()
            throw error
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Walk the keyed chain of the audit trail and hold it against the signed checkpoints; exit 1 naming the first break "
                + "(an event edited, deleted, reordered or re-linked, the end deleted, the head rewound, the chain recomputed)."
        )

        @OptionGroup var common: CommonOptions

        @Option(name: .long, help: "Folder of signed checkpoints. Default: CONCERTO_AUDIT_CHECKPOINT_DIR, else audit-checkpoints/ beside the key file.")
        var checkpoints: String?

        func run() async throws {
            var config = try common.configuration()
            if let checkpoints { config.auditCheckpointDirectory = checkpoints }
            let directory = AuditCheckpointDirectory(path: config.resolvedAuditCheckpointDirectory)
            let started = ContinuousClock.now
            let result = try await AuditCommand.withAuditLog(config) { try await $0.verify(checkpoints: directory) }
            let elapsed = ContinuousClock.now - started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let rate = seconds > 0 ? Int(Double(result.checked) / seconds) : result.checked
            if let broken = result.firstBreak {
                throw CommandFailure("Audit trail broken: \(broken) (\(result.checked) events checked before it).")
            }
            say("Audit trail intact: \(result.checked) events verified against \(result.checkpoints) signed checkpoints "
                + "in \(String(format: "%.3f", seconds)) s (\(rate) events/s).")
            if result.waiting > 0 {
                say("\(result.waiting) more events are stored but not yet sequenced (a running server's sequencer chains them "
                    + "within a second; `concerto audit checkpoint` does so now).")
            }
        }
    }

    struct Checkpoint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sign the audit chain's current head and write it to the checkpoint folder (the server does so every 5 minutes)."
        )

        @OptionGroup var common: CommonOptions

        func run() async throws {
            let config = try common.configuration()
            let directory = AuditCheckpointDirectory(path: config.resolvedAuditCheckpointDirectory)
            let written = try await AuditCommand.withAuditLog(config) { try await $0.checkpoint(into: directory) }
            if let written {
                say("Checkpoint written to \(directory.path): event \(written.sequence), head \(written.headHash).")
            }
        }
    }
}

func withDependencies(_ config: AppConfiguration, _ body: (AppDependencies) async throws -> Void) async throws {
    let dependencies = try await AppDependencies.make(config, logger: makeLogger(config))
    defer { logSink.flush() }
    do {
        try await body(dependencies)
    } catch {
        await dependencies.database.shutdown()
        throw error
    }
    await dependencies.database.shutdown()
}

/// Writes a line to standard output at once (unbuffered), so scripts reading a pipe see it.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// A command that could not do its job: printed as "Error: ..." without the usage text.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
