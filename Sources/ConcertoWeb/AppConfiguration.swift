import CDA
import ConcertoCore
import ConcertoServices
import ConcertoSQLite
import ConcertoStore
import DICOMweb
import Foundation
import Logging
import ProSanteConnect

/// Everything the server needs to start, in one place.
/// Sources, strongest first: command-line flags, `CONCERTO_*` environment, defaults.
public struct AppConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var database = DatabaseURL.sqliteFile(path: "data/concerto.sqlite")
    public var seedDemoData = false
    /// Mark cookies `Secure` and send HSTS; unset: on whenever the server listens on
    /// anything but loopback (then a TLS proxy is in front), off on loopback (`make run`).
    public var secureCookiesSetting: Bool?
    public var secureCookies: Bool {
        get { secureCookiesSetting ?? !Self.isLoopback(host) }
        set { secureCookiesSetting = newValue }
    }
    /// The address users reach the server at (`https://rcp.example.fr`): absolute links
    /// (calendar files) are built from it, never from the request's Host header.
    public var publicURL: String?
    /// Lets a scraper that is not on this machine read /metrics (as a bearer token).
    public var metricsToken: String?
    public var templatesDirectory = "Templates"
    public var publicDirectory = "Public"
    public var migrationsDirectory = "Migrations"
    public var sessionLifetime = SessionLifetimePolicy()
    public var lockout = LoginLockoutPolicy()
    /// Who must log in with a second factor; unset: admins and coordinators, nobody with
    /// `--demo` (its accounts are shared by everyone trying it).
    public var secondFactorSetting: SecondFactorRequirement?
    public var secondFactorRequirement: SecondFactorRequirement {
        secondFactorSetting ?? (seedDemoData ? .nobody : SecondFactorRequirement())
    }
    /// Login and second-factor attempts allowed per client address and minute.
    public var loginAttemptsPerMinute = 20
    /// bcrypt work factor; tests lower it to stay fast.
    public var bcryptCost: UInt8 = 12
    /// Largest form body accepted, in bytes (uploads have their own limit, `cdaMaxBytes`).
    public var maxRequestBodyBytes = 64 * 1024
    public var logLevel = Logger.Level.info
    /// SQLite connections for reads (see `Database.open`): reads run on the request's own
    /// thread, so about one per core; a few more let a read that yields (a long one) or
    /// awaits something not hold the others up.
    public var sqliteReaders = max(4, ProcessInfo.processInfo.activeProcessorCount)
    /// When a SQLite commit is on disk (`SQLiteSynchronous`): `full` unless
    /// CONCERTO_SQLITE_SYNC=normal trades the last commits before a power cut for speed.
    public var sqliteSynchronous = SQLiteSynchronous.full
    /// Statements prepared once per PostgreSQL connection: on unless
    /// CONCERTO_POSTGRES_PREPARE=off, for a pooler that cannot keep them.
    public var postgresPreparedStatements = true
    /// How long a break-the-glass grant lasts.
    public var emergencyAccessDuration: Duration = .seconds(4 * 3600)
    /// Whether break-the-glass may lift a patient's opposition (then only after a second confirmation).
    public var emergencyAccessMayOverrideOpposition = false
    /// How far ahead meeting series are scheduled, in months.
    public var meetingHorizonMonths = 3
    /// Largest CDA document accepted (upload, API, CLI), in bytes; an upload request may
    /// carry several, up to `maxUploadFiles` of them.
    public var cdaMaxBytes = 20 * 1024 * 1024
    public var maxUploadFiles = 10
    /// CDA R2 XML schema (`CDA_extended.xsd` or its folder): documents are also validated
    /// against it when set.
    public var cdaSchemaPath: String?
    /// The default imaging exchange's DICOMweb root; none: the app says imaging is not configured.
    public var dicomwebURL: String?
    /// More exchanges, from a JSON file (see `ExchangeDirectory`).
    public var dicomwebConfigFile: String?
    /// The default exchange's viewer link, `{study}` and `{base}` replaced.
    public var viewerURLTemplate: String?
    /// The default exchange's budget for one call, in seconds: pages wait no longer.
    public var dicomwebTimeoutSeconds: Double = 2.5
    /// The audit key file (`AuditKey`); default: `audit.key` beside the SQLite file, or
    /// `data/audit.key` with PostgreSQL. Created (0600) at first start when missing.
    public var auditKeyFile: String?
    /// Where signed checkpoints of the audit chain go; default `audit-checkpoints/` beside the key.
    public var auditCheckpointDirectory: String?
    /// How often the server writes a checkpoint (when the chain moved).
    public var auditCheckpointInterval: Duration = .seconds(300)
    /// How often each live séance stream gets a comment line (proxies close idle streams;
    /// the write also finds followers who left).
    public var liveHeartbeat: Duration = .seconds(15)
    /// A file of test identities answering INS verifications in place of the national INSi
    /// teleservice (the demo's `Fixtures/ins-test-identities.json` with `--demo`).
    public var insFixturesFile: String?
    /// The INSi teleservice's address: read so that a deployment that sets it is told this
    /// build has no INSi client, rather than silently verifying nothing.
    public var insiURL: String?
    /// Pro Santé Connect: the issuer, this server's client id and secret as registered with
    /// ANS, and the discovery address when the provider is not PSC itself. None: no PSC button.
    public var pscIssuer: String?
    public var pscClientID: String?
    public var pscClientSecret: String?
    public var pscDiscoveryURL: String?

    /// The provider's settings, with the redirect addresses built from `linkBase`.
    public var proSanteConnect: PSCSettings? {
        guard let pscIssuer, let pscClientID, let pscClientSecret else { return nil }
        return PSCSettings(issuer: pscIssuer, discoveryURL: pscDiscoveryURL, clientID: pscClientID, clientSecret: pscClientSecret,
                           redirectURI: linkBase + SiteURL.loginPSCCallback.path, postLogoutRedirectURI: linkBase + SiteURL.login.path)
    }

    /// Settings of earlier versions found in the environment: they no longer do anything,
    /// and the server says so at start rather than ignore them without a word.
    public var retiredSettings: [RetiredSetting] = []

    public init() {}

    /// The configured exchanges (the default one and the file's).
    public func imagingExchanges() throws -> ExchangeDirectory {
        var directory = try ExchangeDirectory.load(defaultURL: dicomwebURL, viewerURLTemplate: viewerURLTemplate, configFile: dicomwebConfigFile)
        if directory.exchanges.first?.id == ExchangeDirectory.defaultID {
            var exchanges = directory.exchanges
            exchanges[0].requestTimeoutSeconds = dicomwebTimeoutSeconds
            directory = try ExchangeDirectory(exchanges: exchanges)
        }
        return directory
    }

    /// The CDA reader's options: the size limit, and the schema when one is configured
    /// (parsed here, which takes about a second).
    public func cdaReadOptions() throws -> CDAReadOptions {
        CDAReadOptions(limits: XMLLimits(maxBytes: cdaMaxBytes, maxDepth: XMLLimits.default.maxDepth),
                       schema: try cdaSchemaPath.map { try CDASchema(path: $0) })
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// The base of absolute links: `publicURL`, else this server's own address.
    public var linkBase: String {
        if let publicURL { return publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL }
        return "\(secureCookies ? "https" : "http")://\(host.contains(":") ? "[\(host)]" : host):\(port)"
    }

    public var resolvedAuditKeyFile: String { auditKeyFile ?? AuditKey.defaultPath(for: database) }

    public var resolvedAuditCheckpointDirectory: String {
        if let auditCheckpointDirectory { return auditCheckpointDirectory }
        if let auditKeyFile { return URL(fileURLWithPath: auditKeyFile).deletingLastPathComponent().appendingPathComponent("audit-checkpoints").path }
        return AuditKey.defaultCheckpointDirectory(for: database)
    }

    /// The INS verifier of the identity desk; nil when none is configured (then identities
    /// cannot be qualified here, and the desk says so).
    public func insVerifier() throws -> (any INSVerifier)? {
        if let insiURL {
            throw ConfigurationError.unsupported("CONCERTO_INSI_URL", insiURL,
                                                 "this build has no client for the INSi teleservice (see docs/security.md, identity desk)")
        }
        if let path = insFixturesFile ?? (seedDemoData ? "Fixtures/ins-test-identities.json" : nil) {
            do {
                return try FixtureINSVerifier(path: path)
            } catch let unreadable as FixtureINSVerifier.Unreadable {
                throw ConfigurationError.invalid("CONCERTO_INS_FIXTURES", unreadable.detail)
            }
        }
        return nil
    }

    var accessPolicy: AccessPolicy {
        AccessPolicy(breakTheGlassMayOverrideOpposition: emergencyAccessMayOverrideOpposition)
    }

    /// Defaults overridden by the `CONCERTO_*` environment (and `DATABASE_URL`).
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> AppConfiguration {
        var config = AppConfiguration()
        if let host = environment["CONCERTO_HOST"] { config.host = host }
        if let port = environment["CONCERTO_PORT"] {
            guard let value = Int(port), (1...65535).contains(value) else { throw ConfigurationError.invalid("CONCERTO_PORT", port) }
            config.port = value
        }
        if let url = environment["CONCERTO_DATABASE_URL"] ?? environment["DATABASE_URL"] {
            config.database = try DatabaseURL(parsing: url)
        }
        if let flag = environment["CONCERTO_SECURE_COOKIES"] { config.secureCookies = try parseBool(flag, name: "CONCERTO_SECURE_COOKIES") }
        if let path = environment["CONCERTO_TEMPLATES"] { config.templatesDirectory = path }
        if let path = environment["CONCERTO_PUBLIC"] { config.publicDirectory = path }
        if let path = environment["CONCERTO_MIGRATIONS"] { config.migrationsDirectory = path }
        if let minutes = environment["CONCERTO_SESSION_IDLE_MINUTES"] {
            guard let value = Int(minutes), value > 0 else { throw ConfigurationError.invalid("CONCERTO_SESSION_IDLE_MINUTES", minutes) }
            config.sessionLifetime.idleTimeout = .seconds(value * 60)
        }
        if let hours = environment["CONCERTO_SESSION_MAX_HOURS"] {
            guard let value = Int(hours), value > 0 else { throw ConfigurationError.invalid("CONCERTO_SESSION_MAX_HOURS", hours) }
            config.sessionLifetime.absoluteTimeout = .seconds(value * 3600)
        }
        if let attempts = environment["CONCERTO_LOGIN_ATTEMPTS_PER_MINUTE"] {
            guard let value = Int(attempts), (1...10_000).contains(value) else { throw ConfigurationError.invalid("CONCERTO_LOGIN_ATTEMPTS_PER_MINUTE", attempts) }
            config.loginAttemptsPerMinute = value
        }
        if let roles = environment["CONCERTO_SECOND_FACTOR_ROLES"] {
            config.secondFactorSetting = try parseSecondFactorRoles(roles)
        }
        if let cost = environment["CONCERTO_BCRYPT_COST"] {
            guard let value = UInt8(cost), (4...31).contains(value) else { throw ConfigurationError.invalid("CONCERTO_BCRYPT_COST", cost) }
            config.bcryptCost = value
        }
        if let bytes = environment["CONCERTO_MAX_BODY_BYTES"] {
            guard let value = Int(bytes), value > 0 else { throw ConfigurationError.invalid("CONCERTO_MAX_BODY_BYTES", bytes) }
            config.maxRequestBodyBytes = value
        }
        if let months = environment["CONCERTO_MEETING_HORIZON_MONTHS"] {
            guard let value = Int(months), (1...24).contains(value) else { throw ConfigurationError.invalid("CONCERTO_MEETING_HORIZON_MONTHS", months) }
            config.meetingHorizonMonths = value
        }
        if let megabytes = environment["CONCERTO_CDA_MAX_MB"] {
            guard let value = Int(megabytes), (1...200).contains(value) else { throw ConfigurationError.invalid("CONCERTO_CDA_MAX_MB", megabytes) }
            config.cdaMaxBytes = value * 1024 * 1024
        }
        if let path = environment["CONCERTO_CDA_SCHEMA"], !path.isEmpty { config.cdaSchemaPath = path }
        if let url = environment["CONCERTO_DICOMWEB_URL"], !url.isEmpty { config.dicomwebURL = url }
        if let path = environment["CONCERTO_DICOMWEB_CONFIG"], !path.isEmpty { config.dicomwebConfigFile = path }
        if let template = environment["CONCERTO_VIEWER_URL"], !template.isEmpty { config.viewerURLTemplate = template }
        if let seconds = environment["CONCERTO_DICOMWEB_TIMEOUT"] {
            guard let value = Double(seconds), value >= 0.1, value <= 60 else { throw ConfigurationError.invalid("CONCERTO_DICOMWEB_TIMEOUT", seconds) }
            config.dicomwebTimeoutSeconds = value
        }
        config.retiredSettings = RetiredSetting.all.filter { environment[$0.name] != nil }
        if let readers = environment["CONCERTO_SQLITE_READERS"] {
            guard let value = Int(readers), (1...256).contains(value) else { throw ConfigurationError.invalid("CONCERTO_SQLITE_READERS", readers) }
            config.sqliteReaders = value
        }
        if let sync = environment["CONCERTO_SQLITE_SYNC"] {
            guard let value = SQLiteSynchronous(rawValue: sync.lowercased()) else { throw ConfigurationError.invalid("CONCERTO_SQLITE_SYNC", sync) }
            config.sqliteSynchronous = value
        }
        if let prepare = environment["CONCERTO_POSTGRES_PREPARE"] {
            config.postgresPreparedStatements = try parseBool(prepare, name: "CONCERTO_POSTGRES_PREPARE")
        }
        if let hours = environment["CONCERTO_EMERGENCY_ACCESS_HOURS"] {
            guard let value = Double(hours), value > 0, value <= 72 else { throw ConfigurationError.invalid("CONCERTO_EMERGENCY_ACCESS_HOURS", hours) }
            config.emergencyAccessDuration = .seconds(value * 3600)
        }
        if let flag = environment["CONCERTO_EMERGENCY_ACCESS_OVERRIDES_OPPOSITION"] {
            config.emergencyAccessMayOverrideOpposition = try parseBool(flag, name: "CONCERTO_EMERGENCY_ACCESS_OVERRIDES_OPPOSITION")
        }
        if let url = environment["CONCERTO_PUBLIC_URL"], !url.isEmpty {
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme?.lowercased() ?? ""), parsed.host != nil,
                  parsed.query == nil, parsed.fragment == nil else { throw ConfigurationError.invalid("CONCERTO_PUBLIC_URL", url) }
            config.publicURL = url
        }
        if let token = environment["CONCERTO_METRICS_TOKEN"], !token.isEmpty {
            guard token.count >= 24 else { throw ConfigurationError.invalid("CONCERTO_METRICS_TOKEN", "(at least 24 characters)") }
            config.metricsToken = token
        }
        if let path = environment["CONCERTO_INS_FIXTURES"], !path.isEmpty { config.insFixturesFile = path }
        if let url = environment["CONCERTO_INSI_URL"], !url.isEmpty { config.insiURL = url }
        if let path = environment["CONCERTO_AUDIT_KEY_FILE"], !path.isEmpty { config.auditKeyFile = path }
        if let path = environment["CONCERTO_AUDIT_CHECKPOINT_DIR"], !path.isEmpty { config.auditCheckpointDirectory = path }
        if let seconds = environment["CONCERTO_AUDIT_CHECKPOINT_SECONDS"] {
            guard let value = Int(seconds), (1...86_400).contains(value) else { throw ConfigurationError.invalid("CONCERTO_AUDIT_CHECKPOINT_SECONDS", seconds) }
            config.auditCheckpointInterval = .seconds(value)
        }
        try config.readProSanteConnect(environment)
        if let level = environment["CONCERTO_LOG_LEVEL"] {
            guard let value = Logger.Level(rawValue: level) else { throw ConfigurationError.invalid("CONCERTO_LOG_LEVEL", level) }
            config.logLevel = value
        }
        return config
    }

    /// `CONCERTO_PSC_*`: all of issuer, client id and secret file, or none of them.
    mutating func readProSanteConnect(_ environment: [String: String]) throws {
        let issuer = environment["CONCERTO_PSC_ISSUER"].flatMap { $0.isEmpty ? nil : $0 }
        let clientID = environment["CONCERTO_PSC_CLIENT_ID"].flatMap { $0.isEmpty ? nil : $0 }
        let secretFile = environment["CONCERTO_PSC_CLIENT_SECRET_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        let discovery = environment["CONCERTO_PSC_DISCOVERY_URL"].flatMap { $0.isEmpty ? nil : $0 }
        guard issuer != nil || clientID != nil || secretFile != nil || discovery != nil else { return }
        guard let issuer, let clientID, let secretFile else {
            throw ConfigurationError.invalid("CONCERTO_PSC_ISSUER", "(CONCERTO_PSC_ISSUER, CONCERTO_PSC_CLIENT_ID and CONCERTO_PSC_CLIENT_SECRET_FILE go together)")
        }
        for (name, url) in [("CONCERTO_PSC_ISSUER", issuer), ("CONCERTO_PSC_DISCOVERY_URL", discovery ?? issuer)] {
            guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), parsed.host != nil,
                  scheme == "https" || (scheme == "http" && Self.isLoopback(parsed.host ?? "")) else {
                // Plain http only to a provider on this machine (the local test provider).
                throw ConfigurationError.invalid(name, url)
            }
        }
        let secret: String
        do {
            secret = try String(contentsOfFile: secretFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            throw ConfigurationError.invalid("CONCERTO_PSC_CLIENT_SECRET_FILE", "\(secretFile) (unreadable)")
        }
        guard !secret.isEmpty else { throw ConfigurationError.invalid("CONCERTO_PSC_CLIENT_SECRET_FILE", "\(secretFile) (empty)") }
        pscIssuer = issuer
        pscClientID = clientID
        pscClientSecret = secret
        pscDiscoveryURL = discovery
    }

    /// `admin,coordinator` (the default), any list of roles, or `none`.
    static func parseSecondFactorRoles(_ raw: String) throws -> SecondFactorRequirement {
        let names = raw.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
        if names == ["none"] { return .nobody }
        let roles = names.compactMap(ProfessionalRole.init(rawValue:))
        guard !roles.isEmpty, roles.count == names.count else { throw ConfigurationError.invalid("CONCERTO_SECOND_FACTOR_ROLES", raw) }
        return SecondFactorRequirement(roles: Set(roles))
    }

    static func parseBool(_ raw: String, name: String) throws -> Bool {
        switch raw.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw ConfigurationError.invalid(name, raw)
        }
    }
}

/// A setting an earlier version read, and what replaced it.
public struct RetiredSetting: Sendable, Equatable {
    public let name: String
    public let replacement: String

    static let all = [
        RetiredSetting(name: "CONCERTO_SQLITE_THREADS",
                       replacement: "SQLite work runs on the request's own thread now; CONCERTO_SQLITE_READERS sets the read connections"),
    ]

    public var notice: String { "\(name) is no longer used and is ignored: \(replacement)." }
}

public enum ConfigurationError: Error, CustomStringConvertible {
    case invalid(String, String)
    case unsupported(String, String, String)

    public var description: String {
        switch self {
        case .invalid(let name, let value): "Invalid value for \(name): \(value)"
        case .unsupported(let name, let value, let reason): "\(name)=\(value) cannot be used: \(reason)"
        }
    }
}
