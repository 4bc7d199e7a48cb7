import CDA
import ConcertoCore
import ConcertoServices
import ConcertoStore
import Foundation
import Hummingbird
import HummingbirdAuth
import Logging
import Prometheus
import ProSanteConnect
import ServiceLifecycle

/// The services an application runs on; built once, shared by the router and tests.
public struct AppDependencies: Sendable {
    public let config: AppConfiguration
    public let database: Database
    public let users: UserStore
    public let communities: CommunityStore
    public let organisations: OrganisationStore
    public let patients: PatientStore
    public let care: CareStore
    public let meetings: MeetingStore
    public let cases: CaseStore
    public let followUps: FollowUpStore
    public let documents: DocumentStore
    public let importer: DocumentImporter
    public let imagingStudies: ImagingStore
    public let imaging: ImagingService
    public let ficheExporter: FicheExporter
    public let audit: AuditLog
    public let auditCheckpoints: AuditCheckpointDirectory
    /// The identity desk's INS verifier, when one is configured.
    public let insVerifier: (any INSVerifier)?
    public let sessions: SQLPersistDriver
    public let passwords: PasswordHasher
    public let renderer: Renderer
    public let metrics: HTTPMetrics
    public let accountRequests: AccountRequestStore
    /// The Pro Santé Connect client, when configured.
    public let psc: PSCClient?
    /// The séance's events and this instance's followers.
    public let meetingEvents: MeetingEventStore
    public let liveFeed: MeetingEventFeed

    /// Opens the database with the audit key (made at first start), applies migrations,
    /// binds the audit chain to the key and pins it with a signed checkpoint, loads templates.
    public static func make(_ config: AppConfiguration, logger: Logger, metrics: PrometheusCollectorRegistry = .init()) async throws -> AppDependencies {
        let (auditKey, created) = try AuditKey.load(path: config.resolvedAuditKeyFile, create: true)
        if created { logger.notice("Created the audit key file", metadata: ["path": "\(config.resolvedAuditKeyFile)"]) }
        let database = try await Database.open(config.database, sqliteReaders: config.sqliteReaders, sqliteSynchronous: config.sqliteSynchronous,
            postgresPreparedStatements: config.postgresPreparedStatements, auditKey: auditKey, logger: logger)
        do {
            let migrator = try Migrator(directory: URL(fileURLWithPath: config.migrationsDirectory), engine: database.engine, logger: logger)
            try await migrator.migrate(database)
            let audit = AuditLog(database: database)
            let checkpoints = AuditCheckpointDirectory(path: config.resolvedAuditCheckpointDirectory)
            try await audit.bindKey()
            try await audit.checkpoint(into: checkpoints)
            let imaging = ImagingService(directory: try config.imagingExchanges(), logger: logger)
            return AppDependencies(
                config: config,
                database: database,
                users: UserStore(database: database),
                communities: CommunityStore(database: database),
                organisations: OrganisationStore(database: database),
                patients: PatientStore(database: database),
                care: CareStore(database: database),
                meetings: MeetingStore(database: database),
                cases: CaseStore(database: database),
                followUps: FollowUpStore(database: database),
                documents: DocumentStore(database: database),
                importer: DocumentImporter(
                    documents: DocumentStore(database: database), patients: PatientStore(database: database),
                    options: try config.cdaReadOptions(), imaging: imaging, imagingStudies: ImagingStore(database: database)),
                imagingStudies: ImagingStore(database: database),
                imaging: imaging,
                ficheExporter: FicheExporter(
                    cases: CaseStore(database: database), patients: PatientStore(database: database), meetings: MeetingStore(database: database),
                    users: UserStore(database: database), organisations: OrganisationStore(database: database),
                    communities: CommunityStore(database: database)),
                audit: audit,
                auditCheckpoints: checkpoints,
                insVerifier: try config.insVerifier(),
                sessions: SQLPersistDriver(database: database, logger: logger),
                passwords: PasswordHasher(cost: config.bcryptCost),
                renderer: try await Renderer(templatesDirectory: config.templatesDirectory),
                metrics: HTTPMetrics(registry: metrics),
                accountRequests: AccountRequestStore(database: database),
                psc: config.proSanteConnect.map { PSCClient(settings: $0, logger: logger) },
                meetingEvents: MeetingEventStore(database: database),
                liveFeed: MeetingEventFeed(database: database, heartbeat: config.liveHeartbeat, logger: logger)
            )
        } catch {
            await database.shutdown()
            throw error
        }
    }
}

/// The router with every route and middleware; tests drive it directly.
public func buildRouter(_ dependencies: AppDependencies) -> Router<AppRequestContext> {
    let config = dependencies.config
    let router = Router(context: AppRequestContext.self)
    router.add(middleware: RequestLogMiddleware(metrics: dependencies.metrics))
    // The logout form's redirect goes on to PSC's end-session page: the CSP must allow it.
    router.add(middleware: SecurityHeadersMiddleware(strictTransportSecurity: config.secureCookies,
                                                     formActionOrigins: [config.proSanteConnect?.issuerOrigin].compactMap { $0 }))
    router.add(middleware: ErrorMiddleware(renderer: dependencies.renderer))
    router.add(middleware: FileMiddleware(config.publicDirectory, cacheControl: .init([(.text, [.maxAge(3600)]), (MediaType(type: .any), [.maxAge(3600)])]), searchForIndexHtml: false))

    OperationsController(database: dependencies.database, metrics: dependencies.metrics, metricsToken: config.metricsToken).addRoutes(to: router)
    // Hospital systems: bearer token, no session and so no CSRF token.
    DocumentAPIController(documents: dependencies.documents, importer: dependencies.importer, cases: dependencies.cases,
                          patients: dependencies.patients, audit: dependencies.audit, maxBytes: config.cdaMaxBytes).addRoutes(to: router)
    let guardian = AccessGuard(care: dependencies.care, audit: dependencies.audit, policy: config.accessPolicy)
    let meetingAccess = MeetingAccess(meetings: dependencies.meetings)
    let meetingController = MeetingController(
        meetings: dependencies.meetings, access: meetingAccess, imagingStudies: dependencies.imagingStudies, completeness: CompletenessStore(database: dependencies.database), communities: dependencies.communities, audit: dependencies.audit,
        guardian: guardian, renderer: dependencies.renderer,
        horizonMonths: config.meetingHorizonMonths, linkBase: config.linkBase
    )
    meetingController.addPublicRoutes(to: router)

    let sessionStorage = SessionStorage<WebSession>(dependencies.sessions, configuration: .init(
        sessionCookieParameters: .init(name: SessionCookie.name, path: "/", secure: config.secureCookies, sameSite: .lax),
        keyPrefix: SessionCookie.keyPrefix
    ))
    let web = router.group()
        .add(middleware: SessionMiddleware(sessionStorage: sessionStorage, defaultSessionExpiration: config.sessionLifetime.idleTimeout))
        .add(middleware: CurrentUserMiddleware(users: dependencies.users, lifetime: config.sessionLifetime))
        .add(middleware: CSRFMiddleware(maxBodyBytes: config.maxRequestBodyBytes,
                                        maxUploadBytes: config.cdaMaxBytes * 3 + 1024 * 1024, maxUploadFiles: config.maxUploadFiles,
                                        isUploadPath: SiteURL.isUploadPath))
    let loginSessions = LoginSessions(users: dependencies.users, audit: dependencies.audit, lifetime: config.sessionLifetime, sessionStorage: sessionStorage)
    AuthController(
        users: dependencies.users, audit: dependencies.audit, passwords: dependencies.passwords, lockout: config.lockout,
        loginSessions: loginSessions, communities: dependencies.communities, psc: dependencies.psc, renderer: dependencies.renderer,
        rateLimiter: AttemptRateLimiter(limit: config.loginAttemptsPerMinute)
    ).addRoutes(to: web)
    if let psc = dependencies.psc {
        PSCController(client: psc, users: dependencies.users, requests: dependencies.accountRequests, audit: dependencies.audit,
                      loginSessions: loginSessions, renderer: dependencies.renderer).addRoutes(to: web)
    }
    LanguageController(users: dependencies.users).addRoutes(to: web)
    PasswordResetController(users: dependencies.users, audit: dependencies.audit, passwords: dependencies.passwords, renderer: dependencies.renderer)
        .addRoutes(to: web)

    let authenticated = web.group(context: AuthenticatedContext.self)
        .add(middleware: SecondFactorMiddleware(requirement: config.secondFactorRequirement))
    DashboardController(communities: dependencies.communities, meetings: dependencies.meetings, cases: dependencies.cases,
                        followUps: dependencies.followUps, guardian: guardian,
                        accountRequests: dependencies.accountRequests, renderer: dependencies.renderer)
        .addRoutes(to: authenticated)
    AccountController(users: dependencies.users, audit: dependencies.audit, lockout: config.lockout, passwords: dependencies.passwords,
                      sessionStorage: sessionStorage, renderer: dependencies.renderer)
        .addRoutes(to: authenticated)
    PatientController(
        patients: dependencies.patients, care: dependencies.care, communities: dependencies.communities,
        organisations: dependencies.organisations, documents: dependencies.documents, audit: dependencies.audit, guardian: guardian,
        renderer: dependencies.renderer
    ).addRoutes(to: authenticated)
    CareTeamController(care: dependencies.care, organisations: dependencies.organisations, audit: dependencies.audit, guardian: guardian)
        .addRoutes(to: authenticated)
    EmergencyAccessController(patients: dependencies.patients, care: dependencies.care, audit: dependencies.audit, guardian: guardian,
                              emergencyRules: EmergencyAccessRules(duration: config.emergencyAccessDuration), renderer: dependencies.renderer)
        .addRoutes(to: authenticated)
    AccessReportController(patients: dependencies.patients, audit: dependencies.audit, guardian: guardian, renderer: dependencies.renderer)
        .addRoutes(to: authenticated)
    IdentityDeskController(patients: dependencies.patients, guardian: guardian, verifier: dependencies.insVerifier).addRoutes(to: authenticated)
    meetingController.addRoutes(to: authenticated)
    MeetingSessionController(
        meetingAccess: meetingAccess, completeness: CompletenessStore(database: dependencies.database), meetings: dependencies.meetings,
        events: dependencies.meetingEvents, cases: dependencies.cases,
        communities: dependencies.communities,
        imagingStudies: dependencies.imagingStudies, imaging: dependencies.imaging, guardian: guardian, renderer: dependencies.renderer
    ).addRoutes(to: authenticated)
    let liveSeance = LiveSeanceController(
        meetingAccess: meetingAccess, meetings: dependencies.meetings, events: dependencies.meetingEvents, feed: dependencies.liveFeed,
        cases: dependencies.cases, documents: dependencies.documents, communities: dependencies.communities,
        imagingStudies: dependencies.imagingStudies, imaging: dependencies.imaging, guardian: guardian, renderer: dependencies.renderer
    )
    liveSeance.addRoutes(to: authenticated)
    liveSeance.addStreamRoute(to: router, sessions: SessionReader(storage: sessionStorage, users: dependencies.users, lifetime: config.sessionLifetime,
                                                                  secondFactor: config.secondFactorRequirement))
    CaseController(
        cases: dependencies.cases, meetings: dependencies.meetings, patients: dependencies.patients, communities: dependencies.communities,
        documents: dependencies.documents, followUps: dependencies.followUps, completeness: CompletenessStore(database: dependencies.database),
        imagingStudies: dependencies.imagingStudies, imaging: dependencies.imaging,
        guardian: guardian, renderer: dependencies.renderer, horizonMonths: config.meetingHorizonMonths
    ).addRoutes(to: authenticated)
    IndicatorsController(communities: dependencies.communities, indicators: IndicatorStore(database: dependencies.database), audit: dependencies.audit,
                         renderer: dependencies.renderer).addRoutes(to: authenticated)
    ResearchExtractController(communities: dependencies.communities, extracts: ResearchExtractStore(database: dependencies.database), audit: dependencies.audit,
                              renderer: dependencies.renderer).addRoutes(to: authenticated)
    FollowUpController(cases: dependencies.cases, meetings: dependencies.meetings, patients: dependencies.patients, followUps: dependencies.followUps,
                       guardian: guardian, renderer: dependencies.renderer).addRoutes(to: authenticated)
    ExportController(
        cases: dependencies.cases, meetings: dependencies.meetings, communities: dependencies.communities, activity: ActivityStore(database: dependencies.database), exporter: dependencies.ficheExporter, guardian: guardian, renderer: dependencies.renderer
    ).addRoutes(to: authenticated)
    ImagingController(
        cases: dependencies.cases, patients: dependencies.patients, studies: dependencies.imagingStudies, imaging: dependencies.imaging,
        guardian: guardian, renderer: dependencies.renderer
    ).addRoutes(to: authenticated)
    DocumentController(
        documents: dependencies.documents, importer: dependencies.importer, cases: dependencies.cases, patients: dependencies.patients,
        guardian: guardian, renderer: dependencies.renderer
    ).addRoutes(to: authenticated)
    CommunityController(
        communities: dependencies.communities, organisations: dependencies.organisations, users: dependencies.users, patients: dependencies.patients, care: dependencies.care,
        audit: dependencies.audit, renderer: dependencies.renderer, pscConfigured: dependencies.psc != nil
    ).addRoutes(to: authenticated)
    AccessRequestsController(requests: dependencies.accountRequests, organisations: dependencies.organisations, renderer: dependencies.renderer)
        .addRoutes(to: authenticated)
    ProfessionalsController(
        users: dependencies.users, organisations: dependencies.organisations, audit: dependencies.audit,
        passwords: dependencies.passwords, renderer: dependencies.renderer
    ).addRoutes(to: authenticated)
    AdminController(
        organisations: dependencies.organisations, communities: dependencies.communities, patients: dependencies.patients,
        users: dependencies.users, audit: dependencies.audit,
        renderer: dependencies.renderer
    ).addRoutes(to: authenticated)
    return router
}

/// The whole server: database, migrations, optional demo seed, router, background services.
public func buildApplication(
    _ config: AppConfiguration,
    logger: Logger? = nil,
    onDemoAccounts: @Sendable ([DemoData.Account]) -> Void = { _ in }
) async throws -> some ApplicationProtocol {
    var logger = logger ?? Logger(label: "concerto")
    logger.logLevel = config.logLevel
    let dependencies = try await AppDependencies.make(config, logger: logger)
    if let psc = config.proSanteConnect {
        logger.info("Pro Santé Connect login enabled", metadata: ["issuer": "\(psc.issuer)", "redirect_uri": "\(psc.redirectURI)"])
    }
    if config.seedDemoData {
        let accounts = try await DemoData.seedIfEmpty(dependencies)
        onDemoAccounts(accounts)
    }
    // Series reach a few months ahead; each start extends them (idempotent, safe on several nodes).
    let now = Date()
    let generated = try await dependencies.meetings.generateAll(through: ParisCalendar.date(months: config.meetingHorizonMonths, after: now), at: now)
    if generated > 0 { logger.info("Scheduled meetings from series", metadata: ["count": "\(generated)"]) }
    var app = Application(
        router: buildRouter(dependencies),
        configuration: .init(address: .hostname(config.host, port: config.port), serverName: "Concerto"),
        logger: logger
    )
    // Services stop in reverse order: the last events are sequenced, then the last checkpoint
    // is written, then the database closes.
    app.addServices(
        dependencies.sessions,
        DatabaseCloser(database: dependencies.database),
        LiveFeedService(feed: dependencies.liveFeed),
        AuditCheckpointService(audit: dependencies.audit, directory: dependencies.auditCheckpoints, interval: config.auditCheckpointInterval, logger: logger),
        AuditSequencerService(sequencer: AuditSequencer(database: dependencies.database), logger: logger)
    )
    return app
}

/// Pins the audit chain every few minutes with a signed checkpoint outside the database,
/// and once more at shutdown.
struct AuditCheckpointService: Service {
    let audit: AuditLog
    let directory: AuditCheckpointDirectory
    let interval: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            do {
                try await audit.checkpoint(into: directory)
            } catch {
                logger.error("Could not write an audit checkpoint", metadata: ["error": "\(error)"])
            }
        }
    }
}

/// Chains the audit events requests append (see `AuditSequencer`); at shutdown, seals
/// what is left before the last checkpoint is written and the database closes.
struct AuditSequencerService: Service {
    let sequencer: AuditSequencer
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown { await sequencer.run(logger: logger) }
        do {
            try await sequencer.sealPending()
        } catch {
            logger.error("Could not sequence the last audit events at shutdown; the next start will", metadata: ["error": "\(error)"])
        }
    }
}

/// The séance's event source (PostgreSQL LISTEN, heartbeats); at shutdown, ends every
/// follower's stream so that open connections do not hold the server up.
struct LiveFeedService: Service {
    let feed: MeetingEventFeed

    func run() async throws {
        await cancelWhenGracefulShutdown { await feed.run() }
        feed.close()
    }
}

/// Closes the database when the application shuts down.
struct DatabaseCloser: Service {
    let database: Database

    func run() async throws {
        try? await gracefulShutdown()
        await database.shutdown()
    }
}

extension RouterPath {
    init(_ pattern: String) {
        self.init(stringLiteral: pattern)
    }
}

extension DemoData {
    /// Seeds the server's stores (see `seedIfEmpty(_: Stores)`), hashing with its hasher.
    public static func seedIfEmpty(_ dependencies: AppDependencies, now: Date = Date()) async throws -> [Account] {
        let passwords = dependencies.passwords
        return try await seedIfEmpty(Stores(
            users: dependencies.users, organisations: dependencies.organisations, communities: dependencies.communities,
            patients: dependencies.patients, care: dependencies.care, meetings: dependencies.meetings, cases: dependencies.cases,
            followUps: dependencies.followUps, hashPassword: { try await passwords.hash($0) }), now: now)
    }
}
