import ConcertoCore
import ConcertoStore
import ConcertoTestSupport
@testable import ConcertoWeb
import Documents
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SQLKit
import Testing

/// Secrets and operations: what a copy of the database, a log, a scraper from elsewhere, a
/// spreadsheet or a forged Host header could get.
@Suite("Security: secrets and operations") struct SecuritySecretsTests {
    @Test func sessionIdsAreStoredOnlyAsTheirHash() async throws {
        try await withTestApp { browser, d in
            try await createUser(d)
            try await browser.logIn()
            let cookie = try #require(browser.sessionCookie)
            let keys = try await d.database.read { sql in
                try await sql.raw("SELECT session_key FROM sessions").all().map { try $0.decode(column: "session_key", as: String.self) }
            }
            #expect(!keys.isEmpty)
            #expect(keys.allSatisfy { !$0.contains(cookie) && $0.count == 64 && $0.allSatisfy(\.isHexDigit) })
            // What a copy of the table holds opens nothing.
            for key in keys {
                let thief = browser.fresh()
                thief.cookies["concerto_session"] = key
                #expect(try await thief.get("/").status == .seeOther)
            }
            #expect(try await browser.get("/").status == .ok)
        }
    }

    @Test func calendarTokensStayOutOfRequestLogs() {
        #expect(RequestLogMiddleware<AppRequestContext>.loggablePath("/calendar/0123456789abcdef0123456789abcdef.ics") == "/calendar/[token].ics")
        #expect(RequestLogMiddleware<AppRequestContext>.loggablePath("/meetings") == "/meetings")
    }

    @Test func metricsAreForThisMachineOrABearerOfTheToken() async throws {
        let token = "metrics-token-0123456789abcdef"
        try await withTestApp(configure: { $0.metricsToken = token }) { browser, _ in
            // The router test client has no peer address: as if from elsewhere.
            #expect(try await browser.get("/metrics").status == .notFound)
            #expect(try await browser.get("/metrics", headers: [.authorization: "Bearer wrong-token-0123456789abcdef"]).status == .notFound)
            let scraped = try await browser.get("/metrics", headers: [.authorization: "Bearer \(token)"])
            #expect(scraped.status == .ok)
            #expect(scraped.text.contains("concerto_http_requests_total"))
        }
        // Over a real loopback connection, the machine's own scraper needs no token.
        try await TestDatabase.withFreshURL { url in
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("concerto-metrics-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: folder) }
            var config = testConfiguration(url)
            config.auditKeyFile = folder.appendingPathComponent("audit.key").path
            let dependencies = try await AppDependencies.make(config, logger: TestDatabase.quietLogger)
            do {
                let app = Application(router: buildRouter(dependencies), configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                                      logger: TestDatabase.quietLogger)
                try await app.test(.live) { client in
                    let response = try await client.executeRequest(uri: "/metrics", method: .get, headers: [:], body: nil)
                    #expect(response.status == .ok)
                }
            } catch {
                await dependencies.database.shutdown()
                throw error
            }
            await dependencies.database.shutdown()
        }
    }

    @Test func csvCellsStartingWithATabOrACarriageReturnAreNeutralised() {
        for formula in ["\t=HYPERLINK(\"x\")", "\r=1+1", "=1", "+1", "-1", "@SUM(A1)"] {
            let cell = AuditPresentation.csvField(formula)
            #expect(cell.hasPrefix("'") || cell.hasPrefix("\"'"), "\(formula.debugDescription) -> \(cell.debugDescription)")
            #expect(ActivityCSV.quoted(formula, separator: ",").hasPrefix("'") || ActivityCSV.quoted(formula, separator: ",").hasPrefix("\"'"))
        }
        #expect(AuditPresentation.csvField("Dupont") == "Dupont")
    }

    @Test func cookiesAreSecureWheneverTheServerIsNotOnLoopback() async throws {
        var config = AppConfiguration()
        #expect(!config.secureCookies) // 127.0.0.1: `make run` over plain HTTP
        config.host = "0.0.0.0"
        #expect(config.secureCookies)
        config.secureCookies = false // said explicitly (CONCERTO_SECURE_COOKIES=false)
        #expect(!config.secureCookies)
        #expect(try AppConfiguration.fromEnvironment(["CONCERTO_HOST": "10.0.0.5"]).secureCookies)
        #expect(try !AppConfiguration.fromEnvironment(["CONCERTO_HOST": "10.0.0.5", "CONCERTO_SECURE_COOKIES": "false"]).secureCookies)
        try await withTestApp(configure: { $0.host = "0.0.0.0" }) { browser, _ in
            let login = try await browser.get("/login")
            let cookie = try #require(login.headers[values: .setCookie].first { $0.hasPrefix("concerto_session=") })
            #expect(cookie.contains("Secure"))
            #expect(login.headers[.strictTransportSecurity] != nil)
        }
    }

    /// The links are built from configuration only (the code no longer reads the Host
    /// header, which whoever sends the request chooses).
    @Test func absoluteLinksComeFromThePublicURLNeverFromTheHostHeader() async throws {
        try await withTestApp(configure: { $0.publicURL = "https://rcp.example.fr/" }) { browser, d in
            let world = try await AccessWorld.make(d)
            let meetingID = UUID()
            try await d.meetings.create(id: meetingID, communityID: world.south.id, title: "RCP", startsAt: Date().addingTimeInterval(86_400),
                                        endsAt: Date().addingTimeInterval(90_000), place: "Salle", deadlineHours: 0)
            try await browser.logIn(email: "sud@t.fr")
            let ics = try await browser.get(SiteURL.meetingICS(meetingID).path)
            #expect(ics.text.contains("URL:https://rcp.example.fr/meetings/\(meetingID.storageKey)"))
        }
        var config = AppConfiguration()
        #expect(config.linkBase == "http://127.0.0.1:8080")
        config.publicURL = "https://rcp.example.fr"
        #expect(config.linkBase == "https://rcp.example.fr")
        #expect(throws: ConfigurationError.self) { try AppConfiguration.fromEnvironment(["CONCERTO_PUBLIC_URL": "javascript:alert(1)"]) }
        #expect(throws: ConfigurationError.self) { try AppConfiguration.fromEnvironment(["CONCERTO_METRICS_TOKEN": "short"]) }
    }
}
