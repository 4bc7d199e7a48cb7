import ConcertoCore
import ConcertoServices
import ConcertoStore
import ConcertoTestSupport
import ConcertoWeb
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

@Suite struct CSRFTests {
    @Test func loginWithoutOrWithAWrongTokenIsRefusedAndChangesNothing() async throws {
        try await withTestApp { browser, dependencies in
            try await createUser(dependencies)
            try await browser.get("/login")
            let sessionBefore = browser.sessionCookie
            for choice in [TestBrowser.CSRFChoice.none, .value("0000"), .value(String(repeating: "a", count: 64))] {
                let response = try await browser.post("/login", form: [("email", "dr.martin@chu.fr"), ("password", testPassword)], csrf: choice)
                #expect(response.status == .forbidden)
                #expect(response.text.contains("Le formulaire a expiré ou n&#39;est pas valide"))
            }
            #expect(browser.sessionCookie == sessionBefore)
            #expect(try await browser.get("/").status == .seeOther)
        }
    }

    @Test func aTokenFromAnotherSessionDoesNotWork() async throws {
        try await withTestApp { browser, dependencies in
            try await createUser(dependencies)
            let other = browser.fresh()
            try await other.get("/login")
            let foreignToken = try #require(other.lastCSRFToken)
            try await browser.get("/login")
            let response = try await browser.post("/login", form: [("email", "dr.martin@chu.fr"), ("password", testPassword)], csrf: .value(foreignToken))
            #expect(response.status == .forbidden)
        }
    }

    @Test func stateChangesWhileLoggedInNeedTheToken() async throws {
        try await withTestApp { browser, dependencies in
            let user = try await createUser(dependencies)
            try await browser.logIn()
            try await browser.get("/")
            #expect(try await browser.post("/logout", form: [], csrf: .none).status == .forbidden)
            #expect(try await browser.post("/language", form: [("language", "en")], csrf: .none).status == .forbidden)
            #expect(try await dependencies.users.find(id: user.id)?.locale == nil)
            #expect(try await browser.get("/").status == .ok)
            // The header form of the token is accepted as well.
            let token = try #require(browser.lastCSRFToken)
            var headers = HTTPFields()
            headers[.contentType] = "application/x-www-form-urlencoded"
            headers[HTTPField.Name("X-CSRF-Token")!] = token
            headers[.cookie] = "concerto_session=\(browser.sessionCookie!)"
            let response = try await browser.client.executeRequest(uri: "/language", method: .post, headers: headers, body: ByteBuffer(string: "language=en"))
            #expect(response.status == .seeOther)
            #expect(try await dependencies.users.find(id: user.id)?.locale == .en)
        }
    }
}

@Suite struct HeadersAndErrorPagesTests {
    static let requiredHeaders: [(HTTPField.Name, String)] = [
        (.contentSecurityPolicy, "frame-ancestors 'none'"),
        (.xContentTypeOptions, "nosniff"),
        (HTTPField.Name("Referrer-Policy")!, "same-origin"),
        (HTTPField.Name("X-Frame-Options")!, "DENY"),
    ]

    func expectSecurityHeaders(_ response: TestResponse) {
        for (name, expected) in Self.requiredHeaders {
            #expect(response.headers[name]?.contains(expected) == true, "\(name) on \(response.status)")
        }
        #expect(response.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
        #expect(response.headers[.contentSecurityPolicy]?.contains("unsafe-inline") == false)
    }

    @Test func pagesErrorsAndStaticFilesCarrySecurityHeaders() async throws {
        try await withTestApp { browser, _ in
            expectSecurityHeaders(try await browser.get("/login"))
            expectSecurityHeaders(try await browser.get("/no/such/page"))
            let css = try await browser.get("/css/concerto.css")
            #expect(css.status == .ok)
            expectSecurityHeaders(css)
            let page = try await browser.get("/login")
            #expect(page.headers[.cacheControl] == "no-store")
            #expect(page.headers[HTTPField.Name("X-Request-Id")!] != nil)
            #expect(!page.text.contains("<script>"))
        }
    }

    @Test func notFoundIsAFrenchPageOrEnglishWhenAsked() async throws {
        try await withTestApp { browser, _ in
            let french = try await browser.get("/no/such/page")
            #expect(french.status == .notFound)
            #expect(french.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(french.text.contains("Page introuvable"))
            #expect(french.text.contains(#"<html lang="fr">"#))
            let english = try await browser.get("/no/such/page", headers: [.acceptLanguage: "en-GB,en;q=0.9"])
            #expect(english.text.contains("Page not found"))
        }
    }

    @Test func malformedFormIsABadRequest() async throws {
        try await withTestApp { browser, _ in
            try await browser.get("/login")
            let response = try await browser.postRaw("/login", body: "email=%zz&password=%")
            #expect(response.status == .badRequest)
            #expect(response.text.contains("Requête invalide"))
        }
    }

    @Test func oversizedBodiesAreRefusedWithNothingStored() async throws {
        try await withTestApp(configure: { $0.maxRequestBodyBytes = 1024 }) { browser, dependencies in
            try await createUser(dependencies)
            try await browser.get("/login")
            let body = "email=dr.martin%40chu.fr&password=\(String(repeating: "x", count: 4096))&_csrf=\(browser.lastCSRFToken!)"
            let response = try await browser.postRaw("/login", body: body)
            #expect(response.status == .contentTooLarge)
            #expect(response.text.contains("Contenu trop volumineux"))
            // The refused attempt did not count as a failed login.
            #expect(try await dependencies.users.credentials(id: (try await dependencies.users.findWithCredentials(email: "dr.martin@chu.fr"))!.user.id)?.lockout.failedAttempts == 0)
        }
    }

    @Test func unexpectedErrorsShowA500PageWithoutInternals() async throws {
        try await withTestApp { browser, dependencies in
            try await createUser(dependencies)
            try await browser.logIn()
            #expect(try await browser.get("/").status == .ok)
            // Drop a table the dashboard reads: the query fails inside the handler.
            try await dependencies.database.write { try await $0.raw("DROP TABLE community_members").run() }
            let response = try await browser.get("/")
            #expect(response.status == .internalServerError)
            #expect(response.text.contains("Erreur interne"))
            #expect(!response.text.lowercased().contains("community_members"))
            #expect(!response.text.contains("SQL"))
        }
    }

    @Test func wrongMethodIsAnErrorPage() async throws {
        try await withTestApp { browser, _ in
            try await browser.get("/login")
            let response = try await browser.post("/healthz", form: [])
            #expect(response.status.code >= 400)
            #expect(response.headers[.contentType]?.hasPrefix("text/html") == true)
        }
    }
}

@Suite struct LanguageTests {
    @Test func acceptLanguageThenUserChoice() async throws {
        try await withTestApp { browser, dependencies in
            let user = try await createUser(dependencies)
            browser.acceptLanguage = "en-US,en;q=0.9"
            let login = try await browser.get("/login")
            #expect(login.text.contains(#"<html lang="en">"#))
            #expect(login.text.contains("Log in with your professional account."))
            try await browser.post("/login", form: [("email", "dr.martin@chu.fr"), ("password", testPassword)])
            // Choosing French is stored on the account and beats the browser's preference.
            try await browser.get("/")
            let switched = try await browser.post("/language", form: [("language", "fr"), ("return_to", "/account")])
            #expect(switched.headers[.location] == "/account")
            #expect(try await browser.get("/account").text.contains("Mon compte"))
            #expect(try await dependencies.users.find(id: user.id)?.locale == .fr)
        }
    }

    @Test func unknownLanguageIsABadRequest() async throws {
        try await withTestApp { browser, _ in
            try await browser.get("/login")
            #expect(try await browser.post("/language", form: [("language", "xx")]).status == .badRequest)
        }
    }

    @Test func everyTemplateStringExistsInBothLanguages() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Repository.templates.path).filter { $0.hasSuffix(".mustache") }
        #expect(!files.isEmpty)
        let pattern = try Regex(#"\{\{\s*t\.([a-z0-9_]+)\s*\}\}"#)
        for file in files {
            let text = try String(contentsOf: Repository.templates.appendingPathComponent(file), encoding: .utf8)
            for match in text.matches(of: pattern) {
                let key = String(text[match.range].dropFirst(2).dropLast(2)).trimmingCharacters(in: .whitespaces).dropFirst(2)
                for language in AppLanguage.allCases {
                    #expect(Localization.table(language)[String(key)]?.isEmpty == false, "\(file): t.\(key) missing in \(language)")
                }
            }
        }
    }
}

@Suite struct OperationsTests {
    @Test func healthzChecksTheDatabase() async throws {
        try await withTestApp { browser, dependencies in
            let healthy = try await browser.get("/healthz")
            #expect(healthy.status == .ok)
            #expect(healthy.text.contains(#""database":"ok""#))
            await dependencies.database.shutdown()
            let down = try await browser.get("/healthz")
            #expect(down.status == .serviceUnavailable)
        }
    }

    @Test func metricsCountRequestsByRoute() async throws {
        let token = "scraper-token-0123456789abcdef"
        try await withTestApp(configure: { $0.metricsToken = token }) { browser, _ in
            try await browser.get("/login")
            try await browser.get("/ping")
            // The router test client has no peer address: the scraper presents its token.
            let metrics = try await browser.get("/metrics", headers: [.authorization: "Bearer \(token)"])
            #expect(metrics.status == .ok)
            #expect(metrics.text.contains(#"concerto_http_requests_total{method="GET",route="/login",status="200"} 1"#))
            #expect(metrics.text.contains("concerto_http_request_duration_seconds_bucket"))
        }
    }

    @Test func pingIsPlainText() async throws {
        try await withTestApp { browser, _ in
            let response = try await browser.get("/ping")
            #expect(response.text == "pong\n")
            #expect(response.headers[.setCookie] == nil)
        }
    }
}

@Suite struct DemoDataTests {
    @Test func demoSeedsAnEmptyDatabaseOnceWithTheRolesWeNeed() async throws {
        try await TestDatabase.withFreshURL { url in
            var config = testConfiguration(url)
            config.seedDemoData = true
            let dependencies = try await AppDependencies.make(config, logger: TestDatabase.quietLogger)
            let accounts = try await DemoData.seedIfEmpty(dependencies)
            #expect(Set(accounts.map(\.role)) == [.admin, .coordinator, .physician, .secretary])
            #expect(accounts.allSatisfy { $0.line.hasPrefix("demo account: \($0.email) \($0.password) ") })
            // The two physicians are in different communities.
            var physicianCommunities: [[String]] = []
            for account in accounts where account.role == .physician {
                let user = try #require(try await dependencies.users.findWithCredentials(email: account.email)?.user)
                physicianCommunities.append(try await dependencies.communities.communities(ofUser: user.id).map(\.community.name))
            }
            #expect(physicianCommunities.count == 4)
            #expect(Set(physicianCommunities[0]).isDisjoint(with: physicianCommunities[1]))
            // The board's history: last week's meeting with validated decisions, upcoming ones from the series,
            // and before last week six months of boards for the indicators (DemoHistory).
            let communityIDs = try await dependencies.communities.all().map(\.id)
            let now = Date()
            let past = try await dependencies.meetings.meetings(inCommunities: communityIDs, from: now.addingTimeInterval(-8 * 86_400), to: now)
            #expect(past.count == 1)
            let history = try await dependencies.meetings.meetings(inCommunities: communityIDs, from: now.addingTimeInterval(-190 * 86_400),
                                                                   to: now.addingTimeInterval(-8 * 86_400), limit: 500)
            #expect(history.count >= 25 && history.allSatisfy { $0.registeredCases > 0 })
            let decided = try await dependencies.meetings.agenda(of: try #require(past.first).id)
            #expect(decided.count == 2)
            #expect(decided.allSatisfy { $0.status == .validated })
            let upcoming = try await dependencies.meetings.meetings(inCommunities: communityIDs, from: now, to: now.addingTimeInterval(92 * 86_400))
            #expect(upcoming.count > 10)
            // Today's board: Marie's and Henri's fiches (the live séance has two cases to switch between).
            #expect(upcoming.first?.registeredCases == 2)
            // Seeding again adds nothing.
            let again = try await DemoData.seedIfEmpty(dependencies)
            #expect(again == accounts)
            #expect(try await dependencies.users.count() == accounts.count)

            // And a demo account logs in through the real app.
            let app = Application(router: buildRouter(dependencies), logger: TestDatabase.quietLogger)
            let physician = try #require(accounts.first { $0.role == .physician })
            try await app.test(.router) { client in
                let browser = TestBrowser(client)
                let login = try await browser.logIn(email: physician.email, password: physician.password)
                #expect(login.status == .seeOther)
                let dashboard = try await browser.get("/")
                #expect(dashboard.text.contains("RCP Nouvelle-Aquitaine"))
            }
            await dependencies.database.shutdown()
        }
    }

    @Test func buildApplicationSeedsAndReportsTheAccounts() async throws {
        try await TestDatabase.withFreshURL { url in
            var config = testConfiguration(url)
            config.seedDemoData = true
            let reported = ReportedAccounts()
            let app = try await buildApplication(config, logger: TestDatabase.quietLogger) { reported.set($0) }
            #expect(reported.get().count == DemoData.accounts.count)
            try await app.test(.router) { client in
                let health = try await client.executeRequest(uri: "/healthz", method: .get, headers: [:], body: nil)
                #expect(health.status == .ok)
            }
        }
    }
}

final class ReportedAccounts: Sendable {
    private let storage = Mutex<[DemoData.Account]>([])
    func set(_ accounts: [DemoData.Account]) { storage.withLock { $0 = accounts } }
    func get() -> [DemoData.Account] { storage.withLock { $0 } }
}

@Suite struct PageFrameTests {
    @Test func pagesHaveTheirTitleAndMarkTheCurrentNavigationEntry() async throws {
        try await withTestApp { browser, dependencies in
            try await createUser(dependencies)
            try await browser.logIn()
            let dashboard = try await browser.get("/").text
            #expect(dashboard.contains("<title>Tableau de bord · Concerto</title>"))
            #expect(dashboard.contains(#"<a href="/" aria-current="page">Tableau de bord</a>"#))
            #expect(dashboard.contains(#"<a href="/account">Mon compte</a>"#))
            let account = try await browser.get("/account").text
            #expect(account.contains("<title>Mon compte · Concerto</title>"))
            #expect(account.contains(#"<a href="/account" aria-current="page">Mon compte</a>"#))
            #expect(account.contains(#"<option value="fr" selected>"#))
            // Error pages keep the frame but offer no forms.
            let missing = try await browser.get("/nowhere").text
            #expect(missing.contains("<title>Page introuvable · Concerto</title>"))
            #expect(!missing.contains("language-form"))
        }
    }

    @Test func aUserWithoutCommunitiesIsToldSo() async throws {
        try await withTestApp { browser, dependencies in
            try await createUser(dependencies)
            try await browser.logIn()
            let page = try await browser.get("/").text
            #expect(page.contains("Vous n&#39;appartenez à aucune communauté pour le moment."))
        }
    }
}
