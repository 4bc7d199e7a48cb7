import ConcertoCore
import ConcertoStore
import ConcertoTestSupport
@testable import ConcertoWeb
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// Attacks on login: guessing from one address across accounts, and turning the second
/// factor off from a borrowed session.
@Suite("Security: login and second factor") struct SecurityLoginTests {
    @Test func oneAddressGetsTwentyAttemptsAMinuteThen429WithRetryAfter() async throws {
        try await withTestApp { browser, dependencies in
            try await createUser(dependencies)
            try await browser.get("/login")
            for index in 1...20 {
                let attempt = try await browser.post("/login", form: [("email", "guess\(index)@chu.fr"), ("password", "not the password")])
                #expect(attempt.status == .unauthorized, "attempt \(index)")
            }
            let slowed = try await browser.post("/login", form: [("email", "dr.martin@chu.fr"), ("password", testPassword)])
            #expect(slowed.status == .tooManyRequests)
            let retryAfter = try #require(slowed.headers[.retryAfter].flatMap(Int.init))
            #expect((1...60).contains(retryAfter))
            #expect(slowed.text.contains("Trop de tentatives"))
            // Not logged in: the right password was not even checked.
            #expect(try await browser.get("/").status == .seeOther)
        }
    }

    /// A hospital's clinicians reach the platform through one address (its NAT): their
    /// logins that succeed must not use up the budget meant for guesses. (The browser suite
    /// logging in a few dozen times a minute from 127.0.0.1 was refused with 429.)
    @Test func loginsThatSucceedDoNotUseUpTheAddressBudget() async throws {
        try await withTestApp(configure: { $0.loginAttemptsPerMinute = 3 }) { browser, dependencies in
            try await createUser(dependencies)
            for index in 1...8 {
                #expect(try await browser.fresh().logIn().status == .seeOther, "login \(index)")
            }
            for index in 1...3 {
                #expect(try await browser.fresh().logIn(password: "not the password").status == .unauthorized, "guess \(index)")
            }
            #expect(try await browser.fresh().logIn().status == .tooManyRequests)
        }
    }

    /// Attack: 30 wrong passwords at once each read the failure count before any wrote it.
    @Test func thirtyParallelWrongPasswordsGetNoMoreChecksThanThirtyInARow() async throws {
        try await withTestApp(configure: { $0.loginAttemptsPerMinute = 1000 }) { browser, dependencies in
            let user = try await createUser(dependencies)
            try await browser.get("/login")
            let cookie = "concerto_session=\(try #require(browser.sessionCookie))", token = try #require(browser.lastCSRFToken)
            let client = browser.client
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for index in 0..<30 {
                    group.addTask {
                        let body = "email=dr.martin%40chu.fr&password=wrong\(index)&_csrf=\(token)"
                        return try await client.executeRequest(uri: "/login", method: .post,
                                                               headers: [.contentType: "application/x-www-form-urlencoded", .cookie: cookie],
                                                               body: ByteBuffer(string: body)).status
                    }
                }
                return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
            }
            #expect(statuses.count == 30)
            let failures = try await dependencies.audit.events(matching: .init(actorID: user.id, action: "login.failure"), limit: 100).map(\.event)
            // As in a row: five passwords checked (the default lock), every other attempt refused as locked.
            #expect(failures.filter { $0.reason == "wrong_password" }.count == 5)
            #expect(failures.filter { $0.reason == "locked" }.count == 25)
            let lockout = try #require(try await dependencies.users.credentials(id: user.id)?.lockout)
            #expect(LoginLockoutPolicy().isLocked(lockout, at: Date()))
            #expect(try await browser.logIn().status == .forbidden)
        }
    }

    @Test func theLimiterForgetsAttemptsOlderThanItsWindow() {
        let limiter = AttemptRateLimiter(limit: 2, window: 60)
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(limiter.take("a", at: start) == nil)
        #expect(limiter.take("a", at: start.addingTimeInterval(1)) == nil)
        #expect(limiter.take("a", at: start.addingTimeInterval(2)) == 58)
        #expect(limiter.take("b", at: start.addingTimeInterval(2)) == nil) // per address
        #expect(limiter.take("a", at: start.addingTimeInterval(60)) == nil)
        #expect(limiter.take("c", at: start) == nil)
        #expect(limiter.take("c", at: start.addingTimeInterval(1)) == nil)
        limiter.giveBack("c", takenAt: start.addingTimeInterval(1)) // that attempt succeeded
        #expect(limiter.take("c", at: start.addingTimeInterval(2)) == nil)
        #expect(limiter.take("c", at: start.addingTimeInterval(3)) == 57)
        let small = AttemptRateLimiter(limit: 1, window: 60, capacity: 3)
        for index in 0..<10 { #expect(small.take("k\(index)", at: start) == nil) }
    }

    let secret = "ABCDEFGHIJKLMNOPQRST"

    /// An account with TOTP, logged in with its password and a current code.
    func loggedInWithSecondFactor(_ browser: TestBrowser, _ dependencies: AppDependencies) async throws -> User {
        let user = try await createUser(dependencies)
        try await dependencies.users.setTOTPSecret(id: user.id, secret: secret)
        try await browser.logIn()
        try await browser.get("/login/totp")
        _ = try await browser.post("/login/totp", form: [("code", TwoFactorTests.code(secret))])
        return user
    }

    @Test func turningTheSecondFactorOffNeedsThePasswordAndRespectsTheLock() async throws {
        try await withTestApp(configure: { $0.lockout = LoginLockoutPolicy(maximumFailures: 3, lockDuration: .seconds(600)) }) { browser, dependencies in
            let user = try await loggedInWithSecondFactor(browser, dependencies)
            #expect(try await browser.get("/").status == .ok)
            // Someone at the unlocked screen has the session and can read the code off a phone, not the password.
            try await browser.get("/account")
            let noPassword = try await browser.post("/account/totp/disable", form: [("code", TwoFactorTests.code(secret, at: Date().addingTimeInterval(30)))])
            #expect(noPassword.status == .unprocessableContent)
            #expect(try await dependencies.users.find(id: user.id)?.totpEnabled == true)
            for _ in 1...2 {
                _ = try await browser.post("/account/totp/disable", form: [("password", "guess"), ("code", TwoFactorTests.code(secret))])
            }
            // Locked now: even the right password and code are refused.
            let locked = try await browser.post("/account/totp/disable", form: [("password", testPassword), ("code", TwoFactorTests.code(secret, at: Date().addingTimeInterval(60)))])
            #expect(locked.status == .forbidden)
            #expect(locked.text.contains("verrouillé"))
            #expect(try await dependencies.users.find(id: user.id)?.totpEnabled == true)
        }
    }

    @Test func thePasswordAndACurrentCodeTurnItOff() async throws {
        try await withTestApp { browser, dependencies in
            let user = try await loggedInWithSecondFactor(browser, dependencies)
            try await browser.get("/account")
            let off = try await browser.post("/account/totp/disable", form: [("password", testPassword), ("code", TwoFactorTests.code(secret, at: Date().addingTimeInterval(30)))])
            #expect(off.status == .seeOther)
            #expect(try await dependencies.users.find(id: user.id)?.totpEnabled == false)
        }
    }
}
