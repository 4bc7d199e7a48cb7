import ConcertoCore
import ConcertoServices
import ConcertoStore
import ConcertoTestSupport
@testable import ConcertoWeb
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// Accounts over their life: a password that leaked is changed and the sessions opened
/// with it end; an account that must stop (someone left, a stolen laptop) is disabled and
/// its sessions end at once; a forgotten password is reset by a one-time link; admins and
/// coordinators cannot rely on a password alone.
@Suite("Security: account lifecycle") struct SecurityAccountLifecycleTests {
    @discardableResult
    func createAdmin(_ d: AppDependencies, email: String = "admin@chu.fr") async throws -> User {
        let admin = User(email: email, displayName: "Admin", role: .admin, isAdmin: true)
        try await d.users.create(admin, passwordHash: try await d.passwords.hash(testPassword))
        return admin
    }

    /// Attack: the password leaked and the thief logged in on their own machine; the owner
    /// changes the password, and the thief's session must not survive it.
    @Test func changingThePasswordNeedsTheCurrentOneAndEndsTheOtherSessions() async throws {
        try await withTestApp { owner, d in
            let user = try await createUser(d)
            let thief = owner.fresh()
            #expect(try await thief.logIn().status == .seeOther)
            #expect(try await owner.logIn().status == .seeOther)
            try await owner.get(SiteURL.account.path)

            // A borrowed session without the current password changes nothing.
            let borrowed = try await owner.post(SiteURL.accountPassword.path, form: [
                ("current_password", "not it"), ("new_password", "a brand new secret"), ("confirm_password", "a brand new secret"),
            ])
            #expect(borrowed.status == .unprocessableContent)
            #expect(borrowed.text.contains("Mot de passe actuel incorrect"))
            #expect(try await thief.get("/").status == .ok)

            let mismatch = try await owner.post(SiteURL.accountPassword.path, form: [
                ("current_password", testPassword), ("new_password", "a brand new secret"), ("confirm_password", "another one entirely"),
            ])
            #expect(mismatch.status == .unprocessableContent)
            let short = try await owner.post(SiteURL.accountPassword.path, form: [
                ("current_password", testPassword), ("new_password", "short"), ("confirm_password", "short"),
            ])
            #expect(short.status == .unprocessableContent)

            let changed = try await owner.post(SiteURL.accountPassword.path, form: [
                ("current_password", testPassword), ("new_password", "a brand new secret"), ("confirm_password", "a brand new secret"),
            ])
            #expect(changed.status == .seeOther)
            // The thief's session is gone at once; the owner's stays.
            let thrownOut = try await thief.get("/")
            #expect(thrownOut.status == .seeOther)
            #expect(thrownOut.headers[.location]?.hasPrefix(SiteURL.login.path) == true)
            #expect(try await owner.get(SiteURL.account.path).text.contains("Mot de passe changé"))
            #expect(try await owner.get("/").status == .ok)
            // The old password opens nothing any more; the new one does.
            #expect(try await owner.fresh().logIn().status == .unauthorized)
            #expect(try await owner.fresh().logIn(password: "a brand new secret").status == .seeOther)
            let events = try await d.audit.events(matching: .init()).map(\.event).filter { $0.action == "account.password_change" }
            #expect(events.map(\.outcome).sorted() == ["failure", "success"])
            #expect(events.allSatisfy { $0.resourceID == user.id.storageKey })
        }
    }

    /// Guessing the current password from a borrowed session counts against the lock.
    @Test func guessingTheCurrentPasswordLocksTheAccount() async throws {
        try await withTestApp(configure: { $0.lockout = LoginLockoutPolicy(maximumFailures: 3, lockDuration: .seconds(600)) }) { browser, d in
            try await createUser(d)
            try await browser.logIn()
            try await browser.get(SiteURL.account.path)
            for guess in 1...3 {
                let attempt = try await browser.post(SiteURL.accountPassword.path, form: [
                    ("current_password", "guess \(guess)"), ("new_password", "a brand new secret"), ("confirm_password", "a brand new secret"),
                ])
                #expect(attempt.status == .unprocessableContent)
            }
            let locked = try await browser.post(SiteURL.accountPassword.path, form: [
                ("current_password", testPassword), ("new_password", "a brand new secret"), ("confirm_password", "a brand new secret"),
            ])
            #expect(locked.status == .forbidden)
            #expect(try await browser.fresh().logIn(password: "a brand new secret").status != .seeOther)
        }
    }

    /// A physician left the hospital (or their laptop was stolen while logged in): the
    /// admin disables the account, and its open sessions end at once, not at their expiry.
    @Test func disablingAnAccountEndsItsSessionsAtOnceAndBarsLogin() async throws {
        try await withTestApp { browser, d in
            let user = try await createUser(d)
            try await createAdmin(d)
            let laptop = browser.fresh()
            try await laptop.logIn()
            #expect(try await laptop.get("/").status == .ok)

            let admin = browser.fresh()
            #expect(try await admin.logIn(email: "admin@chu.fr").status == .seeOther)
            let directory = try await admin.get(SiteURL.adminProfessionals.path)
            #expect(directory.status == .ok, "\(directory.headers[.location] ?? "")")
            #expect(directory.text.contains(SiteURL.adminProfessionalDisable(user: user.id).path))
            let disabled = try await admin.post(SiteURL.adminProfessionalDisable(user: user.id).path, form: [])
            #expect(disabled.status == .seeOther)

            #expect(try await laptop.get("/").status == .seeOther)
            // The right password says the account is disabled; a wrong one says nothing more than usual.
            let refused = try await browser.fresh().logIn()
            #expect(refused.status == .forbidden)
            #expect(refused.text.contains("désactivé"))
            #expect(try await browser.fresh().logIn(password: "not it").status == .unauthorized)
            #expect(try await admin.get(SiteURL.adminProfessionals.path).text.contains("désactivé"))

            // Enabled again: the password works again; nothing of the old sessions comes back.
            try await admin.get(SiteURL.adminProfessionals.path)
            #expect(try await admin.post(SiteURL.adminProfessionalEnable(user: user.id).path, form: []).status == .seeOther)
            #expect(try await laptop.get("/").status == .seeOther)
            #expect(try await browser.fresh().logIn().status == .seeOther)
            let actions = try await d.audit.events(matching: .init()).map(\.event.action)
            #expect(actions.contains("account.disable") && actions.contains("account.enable"))
        }
    }

    @Test func onlyAdminsDisableAccountsAndNeverTheirOwn() async throws {
        try await withTestApp { browser, d in
            let user = try await createUser(d)
            let admin = try await createAdmin(d)
            let coordinator = try await createUser(d, email: "coord@chu.fr", role: .coordinator)
            let peer = browser.fresh()
            try await peer.logIn(email: "coord@chu.fr")
            try await peer.get("/")
            #expect(try await peer.post(SiteURL.adminProfessionalDisable(user: user.id).path, form: []).status == .forbidden)
            #expect(try await d.users.find(id: user.id)?.isDisabled == false)

            try await browser.logIn(email: "admin@chu.fr")
            let page = try await browser.get(SiteURL.adminProfessionals.path)
            #expect(!page.text.contains(SiteURL.adminProfessionalDisable(user: admin.id).path))
            let own = try await browser.post(SiteURL.adminProfessionalDisable(user: admin.id).path, form: [])
            #expect(own.status == .conflict)
            #expect(try await d.users.find(id: admin.id)?.isDisabled == false)
            #expect(try await browser.post(SiteURL.adminProfessionalDisable(user: UUID()).path, form: []).status == .notFound)
            _ = coordinator
        }
    }

    /// A request in flight when the account was disabled would write its session back
    /// (Hummingbird saves a changed session after the handler): it must not be stored again.
    @Test func aSessionWrittenBackAfterItsAccountWasDisabledIsNotStoredAgain() async throws {
        try await withTestApp { _, d in
            let user = try await createUser(d)
            var session = WebSession()
            session.userID = user.id
            session.authenticatedAt = Date().addingTimeInterval(-60)
            try await d.sessions.set(key: "s.in-flight", value: session, expires: .seconds(600))
            #expect(try await d.sessions.get(key: "s.in-flight", as: WebSession.self) != nil)
            try await d.users.setDisabled(id: user.id, at: Date())
            #expect(try await d.sessions.get(key: "s.in-flight", as: WebSession.self) == nil)
            session.lastSeenAt = Date()
            try await d.sessions.set(key: "s.in-flight", value: session, expires: .seconds(600))
            #expect(try await d.sessions.get(key: "s.in-flight", as: WebSession.self) == nil)
            // Same after the sessions were ended by a password change, for a session older than it.
            try await d.users.setDisabled(id: user.id, at: nil)
            try await d.users.endSessions(id: user.id, at: Date())
            try await d.sessions.set(key: "s.in-flight", value: session, expires: .seconds(600))
            #expect(try await d.sessions.get(key: "s.in-flight", as: WebSession.self) == nil)
            // Anonymous sessions and sessions logged in afterwards are stored as ever.
            try await d.sessions.set(key: "s.anonymous", value: WebSession(), expires: .seconds(600))
            #expect(try await d.sessions.get(key: "s.anonymous", as: WebSession.self) != nil)
            session.authenticatedAt = Date().addingTimeInterval(2)
            try await d.sessions.set(key: "s.later", value: session, expires: .seconds(600))
            #expect(try await d.sessions.get(key: "s.later", as: WebSession.self) != nil)
        }
    }

    /// `concerto user reset-password` prints a link that works once, within its lifetime,
    /// lifts the lock and ends every session of the account.
    @Test func aPasswordLinkWorksOnceAndEndsEverySession() async throws {
        try await withTestApp { browser, d in
            let user = try await createUser(d)
            let stale = browser.fresh()
            try await stale.logIn()
            for _ in 1...5 { try await browser.fresh().logIn(password: "forgotten") }
            #expect(try await browser.fresh().logIn().status == .forbidden) // locked

            let issued = try #require(try await PasswordResetLinks.issue(email: "DR.MARTIN@chu.fr", users: d.users, audit: d.audit, linkBase: "https://rcp.example.fr"))
            #expect(issued.user.id == user.id)
            #expect(issued.link.hasPrefix("https://rcp.example.fr/password-reset/"))
            let path = String(issued.link.dropFirst("https://rcp.example.fr".count))
            #expect(RequestLogMiddleware<AppRequestContext>.loggablePath(path) == "/password-reset/[token]")

            let page = try await browser.get(path)
            #expect(page.status == .ok)
            #expect(page.text.contains("dr.martin@chu.fr"))
            #expect(page.headers[HTTPField.Name("Referrer-Policy")!] == "no-referrer")
            let mismatch = try await browser.post(path, form: [("new_password", "a brand new secret"), ("confirm_password", "not the same")])
            #expect(mismatch.status == .unprocessableContent)
            let done = try await browser.post(path, form: [("new_password", "a brand new secret"), ("confirm_password", "a brand new secret")])
            #expect(done.status == .seeOther)
            #expect(done.headers[.location] == SiteURL.login.path)

            #expect(try await stale.get("/").status == .seeOther)
            #expect(try await browser.fresh().logIn(password: "a brand new secret").status == .seeOther) // lock lifted
            // Once only, and a forged token opens nothing.
            #expect(try await browser.get(path).status == .gone)
            #expect(try await browser.post(path, form: [("new_password", "a third secret!!"), ("confirm_password", "a third secret!!")]).status == .gone)
            #expect(try await browser.get(SiteURL.passwordReset(token: "forged").path).status == .gone)
            #expect(try await PasswordResetLinks.issue(email: "nobody@chu.fr", users: d.users, audit: d.audit, linkBase: "") == nil)
            let actions = try await d.audit.events(matching: .init()).map(\.event.action)
            #expect(actions.contains("account.password_reset_issue") && actions.contains("account.password_reset"))
        }
    }

    @Test func anExpiredLinkAndALinkSupersededByAnotherUseAreRefused() async throws {
        try await withTestApp { browser, d in
            let user = try await createUser(d)
            let old = try await d.users.createPasswordReset(id: user.id, policy: PasswordResetPolicy(lifetime: .seconds(3600)), at: Date().addingTimeInterval(-7200))
            #expect(try await browser.get(SiteURL.passwordReset(token: old).path).status == .gone)
            let first = try await d.users.createPasswordReset(id: user.id, policy: PasswordResetPolicy())
            let second = try await d.users.createPasswordReset(id: user.id, policy: PasswordResetPolicy())
            #expect(try await d.users.redeemPasswordReset(token: second, hash: try await d.passwords.hash("a brand new secret")) == user.id)
            #expect(try await browser.get(SiteURL.passwordReset(token: first).path).status == .gone)
        }
    }

    /// Admins and coordinators without a second factor get, after their password, nothing
    /// but the enrolment page; physicians are not forced; the setting can widen or lift it.
    @Test func adminsAndCoordinatorsMustEnrolASecondFactor() async throws {
        try await withTestApp(configure: { $0.secondFactorSetting = nil }) { browser, d in
            let coordinator = try await createUser(d, email: "coord@chu.fr", role: .coordinator)
            try await createUser(d)
            #expect(try await browser.logIn(email: "coord@chu.fr").status == .seeOther)
            for path in ["/", SiteURL.meetings.path, SiteURL.account.path, SiteURL.adminProfessionals.path] {
                let page = try await browser.get(path)
                #expect(page.status == .seeOther, "\(path)")
                #expect(page.headers[.location] == SiteURL.accountTOTP.path, "\(path)")
            }
            let enrolment = try await browser.get(SiteURL.accountTOTP.path)
            // Forms behind login are refused the same way (the page's CSRF token is valid).
            #expect(try await browser.post(SiteURL.accountPassword.path, form: []).headers[.location] == SiteURL.accountTOTP.path)
            #expect(enrolment.status == .ok)
            #expect(enrolment.text.contains("exige la double authentification"))
            let secret = try #require(try await browser.sessionValue(d)?.enrolmentSecret)
            #expect(try await browser.post(SiteURL.accountTOTP.path, form: [("code", TwoFactorTests.code(secret))]).status == .seeOther)
            #expect(try await browser.get("/").status == .ok)
            #expect(try await d.users.find(id: coordinator.id)?.totpEnabled == true)

            let physician = browser.fresh()
            try await physician.logIn()
            #expect(try await physician.get("/").status == .ok)
        }
        #expect(AppConfiguration().secondFactorRequirement == SecondFactorRequirement(roles: [.admin, .coordinator]))
        var demo = AppConfiguration()
        demo.seedDemoData = true
        #expect(demo.secondFactorRequirement == .nobody)
        #expect(try AppConfiguration.fromEnvironment(["CONCERTO_SECOND_FACTOR_ROLES": "admin,coordinator,physician"]).secondFactorRequirement.roles.count == 3)
        #expect(try AppConfiguration.fromEnvironment(["CONCERTO_SECOND_FACTOR_ROLES": "none"]).secondFactorRequirement == .nobody)
        #expect(throws: ConfigurationError.self) { try AppConfiguration.fromEnvironment(["CONCERTO_SECOND_FACTOR_ROLES": "admin,chef"]) }
    }
}

extension TestBrowser {
    /// This browser's session as stored (to read what the page shows, e.g. an enrolment key).
    func sessionValue(_ d: AppDependencies) async throws -> WebSession? {
        guard let id = sessionCookie else { return nil }
        return try await d.sessions.get(key: SessionCookie.keyPrefix + id, as: WebSession.self)
    }
}
