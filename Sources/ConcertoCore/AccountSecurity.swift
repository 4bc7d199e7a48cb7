import Foundation

/// Locks an account after repeated failed logins so a password cannot be guessed online.
public struct LoginLockoutPolicy: Sendable {
    public var maximumFailures: Int
    public var lockDuration: Duration

    public init(maximumFailures: Int = 5, lockDuration: Duration = .seconds(15 * 60)) {
        self.maximumFailures = maximumFailures
        self.lockDuration = lockDuration
    }

    /// The state of an account's login counters.
    public struct State: Sendable, Equatable {
        public var failedAttempts: Int
        public var lockedUntil: Date?

        public init(failedAttempts: Int, lockedUntil: Date?) {
            self.failedAttempts = failedAttempts
            self.lockedUntil = lockedUntil
        }
    }

    public func isLocked(_ state: State, at now: Date) -> Bool {
        guard let until = state.lockedUntil else { return false }
        return until > now
    }

    /// The counters after one more failure: the failure that reaches the maximum locks.
    public func recordingFailure(_ state: State, at now: Date) -> State {
        // A lock that has run out starts a fresh count.
        let previous = (state.lockedUntil.map { $0 <= now } ?? false) ? 0 : state.failedAttempts
        let failures = previous + 1
        if failures >= maximumFailures {
            return State(failedAttempts: failures, lockedUntil: now.addingTimeInterval(lockDuration.seconds))
        }
        return State(failedAttempts: failures, lockedUntil: nil)
    }

    /// Minutes left before a locked account opens again, rounded up for display.
    public func minutesRemaining(_ state: State, at now: Date) -> Int {
        guard let until = state.lockedUntil, until > now else { return 0 }
        return Int((until.timeIntervalSince(now) / 60).rounded(.up))
    }
}

/// Idle and absolute lifetimes of a logged-in session.
public struct SessionLifetimePolicy: Sendable {
    public var idleTimeout: Duration
    public var absoluteTimeout: Duration
    /// Activity is written back at most this often, so browsing does not write on every request.
    public var activityResolution: Duration

    public init(
        idleTimeout: Duration = .seconds(30 * 60),
        absoluteTimeout: Duration = .seconds(12 * 3600),
        activityResolution: Duration = .seconds(60)
    ) {
        self.idleTimeout = idleTimeout
        self.absoluteTimeout = absoluteTimeout
        self.activityResolution = activityResolution
    }

    public enum Verdict: Sendable, Equatable {
        case valid
        case refreshActivity
        case expired
    }

    public func check(authenticatedAt: Date, lastSeenAt: Date, now: Date) -> Verdict {
        if now.timeIntervalSince(authenticatedAt) >= absoluteTimeout.seconds { return .expired }
        let idle = now.timeIntervalSince(lastSeenAt)
        if idle >= idleTimeout.seconds { return .expired }
        if idle >= activityResolution.seconds { return .refreshActivity }
        return .valid
    }
}

extension Duration {
    /// Whole and fractional seconds, for `Date` arithmetic.
    public var seconds: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}

/// Who must log in with a second factor: accounts that administer the platform or run a
/// community (they reach every community's configuration, members and audit) cannot rely
/// on a password alone.
public struct SecondFactorRequirement: Sendable, Equatable {
    public var roles: Set<ProfessionalRole>

    public init(roles: Set<ProfessionalRole> = [.admin, .coordinator]) {
        self.roles = roles
    }

    public static let nobody = SecondFactorRequirement(roles: [])

    public func applies(to user: User) -> Bool {
        roles.contains(user.role) || (user.isAdmin && roles.contains(.admin))
    }

    /// Logged in with a password only while a second factor is required: the account may
    /// do nothing but enrol one.
    public func mustEnrol(_ user: User) -> Bool {
        applies(to: user) && !user.totpEnabled
    }
}

/// What a platform admin may do to an account.
public enum AccountAdministration {
    public enum Refusal: Error, Equatable, Sendable {
        /// An admin disabling their own account would lock the platform's door from inside.
        case ownAccount
    }

    public static func mayDisable(_ target: User, by admin: User) -> Refusal? {
        target.id == admin.id ? .ownAccount : nil
    }
}

/// One-time password links printed by `concerto user reset-password`.
public struct PasswordResetPolicy: Sendable {
    /// Long enough to reach the person by another channel, short enough to be of little use
    /// if the link leaks later.
    public var lifetime: Duration

    public init(lifetime: Duration = .seconds(24 * 3600)) {
        self.lifetime = lifetime
    }
}
