import ConcertoCore
import ConcertoStore
import ConcertoTestSupport
import ConcertoWeb
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdOTP
import HummingbirdTesting
import Testing

@Suite struct LoginTests {
    @Test func loginShowsTheDashboardAndRotatesTheSessionId() async throws {
        try await withTestApp { browser, dependencies in
            try await createUser(dependencies)
            try await browser.get("/login")
            let anonymousSession = try #require(browser.sessionCookie)
            let response = try await browser.post("/login", form: [("email", "Dr.Martin@chu.fr "), ("password", testPassword)])
            #expect(response.status == .seeOther)
            #expect(response.headers[.location] == "/")
            let loggedInSession = try #require(browser.sessionCookie)
            #expect(loggedInSession != anonymousSession)
            let dashboard = try await browser.get("/")
            #expect(dashboard.status == .ok)
            #expect(dashboard.text.contains("Bonjour Dr Martin"))

            // The pre-login session id is worth nothing now.
            let planted = browser.fresh()
            planted.cookies["concerto_session"] = anonymousSession
            let attempt = try await planted.get("/")
            #expect(attempt.status == .seeOther)
            #expect(attempt.headers[.location] == "/login")
        }
    }

    @Test func wrongPasswordAndUnknownEmailGetTheSameFrenchError() async throws {
        try await withTestApp { browser, dependencies in
            try await createUser(dependencies)
            let wrong = try await browser.logIn(password: "not the password")
            #expect(wrong.status == .unauthorized)
            #expect(wrong.text.contains("Adresse e-mail ou mot de passe incorrect."))
            let unknown = try await browser.logIn(email: "nobody@chu.fr")
            #expect(unknown.status == .unauthorized)
            #expect(unknown.text.contains("Adresse e-mail ou mot de passe incorrect."))
            #expect(try await browser.get("/").status == .seeOther)
        }
    }

    @Test func missingFieldsAreExplained() async throws {
        try await withTestApp { browser, _ in
            try await browser.get("/login")
            let response = try await browser.post("/login", form: [("email", "")])
            #expect(response.status == .badRequest)
            #expect(response.text.contains("Saisissez votre adresse e-mail et votre mot de passe."))
        }
    }

    @Test func accountLocksAfterRepeatedFailuresThenOpensAgain() async throws {
        // A lock long enough that a loaded machine (suite start on 2 cores) does not see it
        // run out between the locking attempt and the next one.
        try await withTestApp(configure: { $0.lockout = LoginLockoutPolicy(maximumFailures: 3, lockDuration: .seconds(12)) }) { browser, dependencies in
            try await createUser(dependencies)
            for _ in 1...2 {
                #expect(try await browser.logIn(password: "wrong password").status == .unauthorized)
            }
            let locking = try await browser.logIn(password: "wrong password")
            #expect(locking.status == .forbidden)
            #expect(locking.text.contains("Ce compte est verrouillé après 3 tentatives de connexion infructueuses"))
            // Even the right password is refused while locked.
            let refused = try await browser.logIn()
            #expect(refused.status == .forbidden)
            #expect(refused.text.contains("verrouillé"))
            try await Task.sleep(for: .milliseconds(12_100))
            let accepted = try await browser.logIn()
            #expect(accepted.status == .seeOther)
            #expect(try await browser.get("/").status == .ok)
        }
    }

    @Test func logoutEndsTheSession() async throws {
        try await withTestApp { browser, dependencies in
            try await createUser(dependencies)
            try await browser.logIn()
            let sessionBefore = browser.sessionCookie
            try await browser.get("/")
            let logout = try await browser.post("/logout", form: [])
            #expect(logout.status == .seeOther)
            #expect(logout.headers[.location] == "/login")
            let page = try await browser.follow(logout)
            #expect(page.text.contains("Vous êtes déconnecté·e."))
            #expect(try await browser.get("/").status == .seeOther)
            // Replaying the old cookie does not bring the session back.
            let replay = browser.fresh()
            replay.cookies["concerto_session"] = sessionBefore
            #expect(try await replay.get("/").status == .seeOther)
        }
    }

    @Test func protectedPagesRedirectToLoginAndBack() async throws {
        try await withTestApp { browser, dependencies in
            try await createUser(dependencies)
            let response = try await browser.get("/account")
            #expect(response.status == .seeOther)
            #expect(response.headers[.location] == "/login?next=/account")
            let login = try await browser.follow(response)
            #expect(login.text.contains("Connectez-vous pour accéder à cette page."))
            let submitted = try await browser.post("/login", form: [
                ("email", "dr.martin@chu.fr"), ("password", testPassword), ("next", "/account"),
            ])
            #expect(submitted.headers[.location] == "/account")
        }
    }

    @Test func loginNeverRedirectsToAnotherSite() async throws {
        try await withTestApp { browser, dependencies in
            try await createUser(dependencies)
            try await browser.get("/login")
            for target in ["//evil.example/", "https://evil.example/", "/\\evil.example"] {
                let fresh = browser.fresh()
                try await fresh.get("/login")
                let response = try await fresh.post("/login", form: [
                    ("email", "dr.martin@chu.fr"), ("password", testPassword), ("next", target),
                ])
                #expect(response.headers[.location] == "/")
            }
        }
    }
}

@Suite struct TwoFactorTests {
    /// Reads the base32 key shown on the enrolment page back into the shared secret.
    static func secret(fromDisplayKey key: String) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var bits = 0, buffer = 0
        var bytes: [UInt8] = []
        for character in key where character != " " {
            buffer = (buffer << 5) | alphabet.firstIndex(of: character)!
            bits += 5
            if bits >= 8 {
                bytes.append(UInt8((buffer >> (bits - 8)) & 0xFF))
                bits -= 8
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func code(_ secret: String, at date: Date = Date()) -> String {
        String(format: "%06d", TOTP(secret: secret).compute(date: date))
    }

    @Test func enrolThenLogInWithACodeThatCannotBeReplayed() async throws {
        try await withTestApp { browser, dependencies in
            let user = try await createUser(dependencies)
            try await browser.logIn()
            let enrolment = try await browser.get("/account/totp")
            #expect(enrolment.status == .ok)
            let keyStart = try #require(enrolment.text.range(of: #"data-test="totp-key">"#))
            let key = String(enrolment.text[keyStart.upperBound...].prefix { $0 != "<" })
            let secret = Self.secret(fromDisplayKey: key)
            #expect(secret.count == 20)

            let wrong = try await browser.post("/account/totp", form: [("code", "000000")])
            #expect(wrong.status == .unprocessableContent)
            #expect(try await dependencies.users.find(id: user.id)?.totpEnabled == false)

            // The code of the previous step is accepted too (clock drift).
            let confirmed = try await browser.post("/account/totp", form: [("code", Self.code(secret, at: Date().addingTimeInterval(-30)))])
            #expect(confirmed.status == .seeOther)
            #expect(try await browser.follow(confirmed).text.contains("Double authentification activée."))
            #expect(try await dependencies.users.find(id: user.id)?.totpEnabled == true)
            try await browser.post("/logout", form: [])

            // Password alone is not enough any more.
            let password = try await browser.logIn()
            #expect(password.headers[.location] == "/login/totp")
            #expect(try await browser.get("/").status == .seeOther)
            try await browser.get("/login/totp")
            let badCode = try await browser.post("/login/totp", form: [("code", "123456")])
            #expect(badCode.status == .unauthorized)
            #expect(badCode.text.contains("Code incorrect ou expiré."))
            let code = Self.code(secret)
            let ok = try await browser.post("/login/totp", form: [("code", code)])
            #expect(ok.status == .seeOther)
            #expect(try await browser.get("/").status == .ok)
            try await browser.post("/logout", form: [])

            // The same code a second time is refused.
            try await browser.logIn()
            try await browser.get("/login/totp")
            #expect(try await browser.post("/login/totp", form: [("code", code)]).status == .unauthorized)
            #expect(try await browser.get("/").status == .seeOther)
        }
    }

    @Test func theSecondStepIsNotReachableWithoutThePassword() async throws {
        try await withTestApp { browser, _ in
            #expect(try await browser.get("/login/totp").headers[.location] == "/login")
            try await browser.get("/login")
            let response = try await browser.post("/login/totp", form: [("code", "123456")])
            #expect(response.headers[.location] == "/login")
        }
    }
}

@Suite struct SessionTests {
    @Test func twoAppInstancesOnOneDatabaseShareSessions() async throws {
        try await TestDatabase.withFreshURL { url in
            let config = testConfiguration(url)
            let first = try await AppDependencies.make(config, logger: TestDatabase.quietLogger)
            let second = try await AppDependencies.make(config, logger: TestDatabase.quietLogger)
            try await createUser(first)
            let appA = Application(router: buildRouter(first), logger: TestDatabase.quietLogger)
            let appB = Application(router: buildRouter(second), logger: TestDatabase.quietLogger)
            try await appA.test(.router) { clientA in
                let browserA = TestBrowser(clientA)
                try await browserA.logIn()
                let cookie = try #require(browserA.sessionCookie)
                try await appB.test(.router) { clientB in
                    let browserB = TestBrowser(clientB)
                    browserB.cookies["concerto_session"] = cookie
                    let page = try await browserB.get("/")
                    #expect(page.status == .ok)
                    #expect(page.text.contains("Dr Martin"))
                    // Logging out on B ends the session on A too.
                    try await browserB.post("/logout", form: [])
                }
                browserA.cookies["concerto_session"] = cookie
                #expect(try await browserA.get("/").status == .seeOther)
            }
            await first.database.shutdown()
            await second.database.shutdown()
        }
    }

    @Test func sessionsExpireAtTheAbsoluteLimit() async throws {
        try await withTestApp(configure: {
            $0.sessionLifetime = SessionLifetimePolicy(idleTimeout: .seconds(600), absoluteTimeout: .seconds(8), activityResolution: .seconds(60))
        }) { browser, dependencies in
            // Seconds of margin: a loaded CI machine must not expire the session before the first page.
            try await createUser(dependencies)
            try await browser.logIn()
            #expect(try await browser.get("/").status == .ok)
            try await Task.sleep(for: .milliseconds(8100))
            let expired = try await browser.get("/")
            #expect(expired.status == .seeOther)
            let login = try await browser.follow(expired)
            #expect(login.text.contains("Votre session a expiré"))
        }
    }

    @Test func idleSessionsExpire() async throws {
        try await withTestApp(configure: {
            $0.sessionLifetime = SessionLifetimePolicy(idleTimeout: .seconds(8), absoluteTimeout: .seconds(3600), activityResolution: .seconds(60))
        }) { browser, dependencies in
            try await createUser(dependencies)
            try await browser.logIn()
            #expect(try await browser.get("/").status == .ok)
            try await Task.sleep(for: .milliseconds(9100))
            #expect(try await browser.get("/").status == .seeOther)
        }
    }

    @Test func sessionCookieIsHttpOnlyAndSameSite() async throws {
        try await withTestApp(configure: { $0.secureCookies = true }) { browser, _ in
            let response = try await browser.get("/login")
            let cookie = try #require(response.headers[values: .setCookie].first { $0.hasPrefix("concerto_session=") })
            #expect(cookie.contains("HttpOnly"))
            #expect(cookie.contains("SameSite=Lax"))
            #expect(cookie.contains("Secure"))
            #expect(response.headers[.strictTransportSecurity] != nil)
        }
    }
}

@Suite struct AccountChangesReachOpenSessionsTests {
    @Test func profileChangesAndRemovalShowWithinTheActivityResolution() async throws {
        try await withTestApp(configure: {
            $0.sessionLifetime = SessionLifetimePolicy(idleTimeout: .seconds(600), absoluteTimeout: .seconds(3600), activityResolution: .seconds(1))
        }) { browser, dependencies in
            let user = try await createUser(dependencies)
            try await browser.logIn()
            #expect(try await browser.get("/").text.contains("Bonjour Dr Martin"))
            try await dependencies.database.write { sql in
                try await sql.raw("UPDATE users SET display_name = 'Dr Martin-Durand' WHERE id = \(bind: user.id.storageKey)").run()
            }
            try await Task.sleep(for: .milliseconds(1100))
            #expect(try await browser.get("/").text.contains("Bonjour Dr Martin-Durand"))
            try await dependencies.database.write { sql in
                try await sql.raw("DELETE FROM users WHERE id = \(bind: user.id.storageKey)").run()
            }
            try await Task.sleep(for: .milliseconds(1100))
            #expect(try await browser.get("/").status == .seeOther)
        }
    }
}

@Suite struct SecondFactorGuessingTests {
    @Test func thePasswordAloneDoesNotResetGuessesAtTheCode() async throws {
        try await withTestApp(configure: { $0.lockout = LoginLockoutPolicy(maximumFailures: 3, lockDuration: .seconds(600)) }) { browser, dependencies in
            let user = try await createUser(dependencies)
            try await dependencies.users.setTOTPSecret(id: user.id, secret: "ABCDEFGHIJKLMNOPQRST")
            // Two wrong codes, the password again, one more wrong code: locked.
            for attempt in 1...3 {
                #expect(try await browser.logIn().headers[.location] == "/login/totp")
                try await browser.get("/login/totp")
                let wrong = try await browser.post("/login/totp", form: [("code", "000000")])
                if attempt < 3 {
                    #expect(wrong.status == .unauthorized)
                } else {
                    #expect(wrong.status == .forbidden || wrong.text.contains("verrouillé"))
                }
            }
            #expect(try await browser.logIn().status == .forbidden)
        }
    }
}
