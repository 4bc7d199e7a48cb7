import ConcertoCore
import Foundation
import Testing

@Suite struct LoginLockoutPolicyTests {
    let policy = LoginLockoutPolicy(maximumFailures: 3, lockDuration: .seconds(600))
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func locksOnTheFailureThatReachesTheMaximum() {
        var state = LoginLockoutPolicy.State(failedAttempts: 0, lockedUntil: nil)
        state = policy.recordingFailure(state, at: now)
        state = policy.recordingFailure(state, at: now)
        #expect(!policy.isLocked(state, at: now))
        state = policy.recordingFailure(state, at: now)
        #expect(policy.isLocked(state, at: now))
        #expect(state.lockedUntil == now.addingTimeInterval(600))
        #expect(policy.minutesRemaining(state, at: now) == 10)
    }

    @Test func lockRunsOutAndCountingStartsAfresh() {
        let locked = LoginLockoutPolicy.State(failedAttempts: 3, lockedUntil: now)
        let later = now.addingTimeInterval(1)
        #expect(!policy.isLocked(locked, at: later))
        let afterOneMore = policy.recordingFailure(locked, at: later)
        #expect(afterOneMore.failedAttempts == 1)
        #expect(afterOneMore.lockedUntil == nil)
    }
}

@Suite struct SessionLifetimePolicyTests {
    let policy = SessionLifetimePolicy(idleTimeout: .seconds(1800), absoluteTimeout: .seconds(43200), activityResolution: .seconds(60))
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func freshSessionIsValid() {
        #expect(policy.check(authenticatedAt: start, lastSeenAt: start, now: start.addingTimeInterval(10)) == .valid)
    }

    @Test func activityIsRefreshedAtMostOncePerResolution() {
        #expect(policy.check(authenticatedAt: start, lastSeenAt: start, now: start.addingTimeInterval(61)) == .refreshActivity)
    }

    @Test func idleSessionExpires() {
        #expect(policy.check(authenticatedAt: start, lastSeenAt: start, now: start.addingTimeInterval(1800)) == .expired)
    }

    @Test func activeSessionStillExpiresAtTheAbsoluteLimit() {
        let now = start.addingTimeInterval(43200)
        #expect(policy.check(authenticatedAt: start, lastSeenAt: now.addingTimeInterval(-5), now: now) == .expired)
    }
}

@Suite struct LanguageNegotiationTests {
    @Test func explicitPreferenceWins() {
        #expect(AppLanguage.negotiate(preference: .en, acceptLanguage: "fr-FR,fr;q=0.9") == .en)
    }

    @Test func acceptLanguageHonoursWeights() {
        #expect(AppLanguage.negotiate(preference: nil, acceptLanguage: "de-DE, en-GB;q=0.8, fr;q=0.5") == .en)
        #expect(AppLanguage.negotiate(preference: nil, acceptLanguage: "en;q=0.4, fr-CA;q=0.9") == .fr)
    }

    @Test func refusedOrUnknownLanguagesFallBackToFrench() {
        #expect(AppLanguage.negotiate(preference: nil, acceptLanguage: "en;q=0") == .fr)
        #expect(AppLanguage.negotiate(preference: nil, acceptLanguage: "de, it") == .fr)
        #expect(AppLanguage.negotiate(preference: nil, acceptLanguage: nil) == .fr)
        #expect(AppLanguage.negotiate(preference: nil, acceptLanguage: ";;,q=") == .fr)
    }
}

@Suite struct IdentityTests {
    @Test func rppsNeedsElevenDigitsWithLuhnKey() {
        #expect(RPPSNumber("10101010105")?.digits == "10101010105")
        #expect(RPPSNumber("1010101010 5")?.digits == "10101010105")
        #expect(RPPSNumber("10101010106") == nil)
        #expect(RPPSNumber("1010101010") == nil)
        #expect(RPPSNumber("1010101010a") == nil)
    }

    @Test func emailIsNormalisedAndLooselyChecked() {
        #expect(EmailAddress.normalize("  Dr.House@Hopital.FR ") == "dr.house@hopital.fr")
        #expect(EmailAddress.isPlausible("a@b.fr"))
        #expect(!EmailAddress.isPlausible("a@b"))
        #expect(!EmailAddress.isPlausible("a b@c.fr"))
        #expect(!EmailAddress.isPlausible("@c.fr"))
        #expect(!EmailAddress.isPlausible("a@@c.fr"))
    }

    @Test func passwordRules() {
        #expect(PasswordRules.problem(with: "short") == .tooShort)
        #expect(PasswordRules.problem(with: String(repeating: "é", count: 40)) == .tooLong)
        #expect(PasswordRules.problem(with: "long enough pass") == nil)
    }
}
