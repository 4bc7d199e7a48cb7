import ConcertoCore
import Foundation
import SQLKit

public enum StoreError: Error, Equatable, CustomStringConvertible {
    case duplicateEmail
    case duplicateFINESS
    case duplicateLocalID
    /// An IPP outside the strict syntax (`LocalPatientID`).
    case invalidLocalID
    /// Another live record already carries this INS (the id of that record).
    case duplicateINS(UUID)
    /// The community role physician for an account whose profession is not physician with an RPPS number.
    case physicianRoleNeedsRPPS
    case alreadyMember
    case duplicateCommunityName
    case notFound
    /// Someone saved the case since this form was loaded; nothing was written.
    case staleRevision
    /// The case or meeting changed status meanwhile; nothing was written.
    case statusChanged

    public var description: String {
        switch self {
        case .duplicateEmail: "an account already uses this e-mail address"
        case .duplicateFINESS: "an organisation already has this FINESS number"
        case .duplicateLocalID: "this local patient id is already used in this organisation"
        case .invalidLocalID: "a local patient id is 1 to 20 letters, digits, '-', '_' or '.'"
        case .duplicateINS: "another patient record already carries this INS"
        case .physicianRoleNeedsRPPS: "the physician role in a community is for physicians with an RPPS number"
        case .alreadyMember: "already a member of this community"
        case .duplicateCommunityName: "a community already has this name"
        case .notFound: "not found"
        case .staleRevision: "the case was saved by someone else since it was loaded"
        case .statusChanged: "the status changed meanwhile"
        }
    }
}

/// What login needs besides the public profile; never rendered.
public struct Credentials: Sendable, Equatable {
    public var passwordHash: String
    public var totpSecret: String?
    public var totpLastStep: Int64?
    public var lockout: LoginLockoutPolicy.State
}

/// Accounts: profiles, password hashes, lockout counters, TOTP secrets.
public struct UserStore: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    struct Row: Decodable {
        var id: String
        var email: String
        var displayName: String
        var passwordHash: String
        var rppsNumber: String?
        var specialty: String?
        var specialtyCode: String?
        var organisationID: String?
        var role: String
        var locale: String?
        var isAdmin: Bool
        var totpSecret: String?
        var totpLastStep: Int64?
        var failedLogins: Int64
        var lockedUntil: Int64?
        var disabledAt: String?

        // Spelled out: SQLKit's convertFromSnakeCase strategy re-converts every key of every row.
        enum CodingKeys: String, CodingKey {
            case id, email, role, locale, specialty
            case displayName = "display_name"
            case passwordHash = "password_hash"
            case rppsNumber = "rpps_number"
            case specialtyCode = "specialty_code"
            case organisationID = "organisation_id"
            case isAdmin = "is_admin"
            case totpSecret = "totp_secret"
            case totpLastStep = "totp_last_step"
            case failedLogins = "failed_logins"
            case lockedUntil = "locked_until"
            case disabledAt = "disabled_at"
        }

        var user: User? {
            guard let id = UUID(storageKey: id), let role = ProfessionalRole(rawValue: role) else { return nil }
            return User(
                id: id, email: email, displayName: displayName, rppsNumber: rppsNumber, specialty: specialty,
                specialtyCode: specialtyCode, organisationID: organisationID.flatMap(UUID.init(storageKey:)), role: role, locale: locale.flatMap(AppLanguage.init(rawValue:)), isAdmin: isAdmin,
                totpEnabled: totpSecret != nil, disabledAt: disabledAt.flatMap { Timestamp.date(iso8601: $0) }
            )
        }

        var credentials: Credentials {
            Credentials(
                passwordHash: passwordHash, totpSecret: totpSecret, totpLastStep: totpLastStep,
                lockout: .init(failedAttempts: Int(failedLogins), lockedUntil: lockedUntil.map(Timestamp.date(epochSeconds:)))
            )
        }
    }

    static let columns = """
        id, email, display_name, password_hash, rpps_number, specialty, specialty_code, organisation_id, role, locale, is_admin,
        totp_secret, totp_last_step, failed_logins, locked_until, disabled_at
        """

    /// `columns` of the `users` table aliased `u`.
    static let qualifiedColumns = columns.split(separator: ",").map { "u." + $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        .joined(separator: ", ")

    public func create(_ user: User, passwordHash: String, at now: Date = Date()) async throws {
        try await database.write { sql in try await Self.insert(user, passwordHash: passwordHash, on: sql, at: now) }
    }

    static func insert(_ user: User, passwordHash: String, on sql: any SQLDatabase, at now: Date) async throws {
        let existing = try await sql.raw("SELECT id FROM users WHERE email = \(bind: user.email)").first()
        guard existing == nil else { throw StoreError.duplicateEmail }
        try await sql.raw("""
            INSERT INTO users (id, email, display_name, password_hash, rpps_number, specialty, specialty_code, organisation_id,
                               role, locale, is_admin, created_at)
            VALUES (\(bind: user.id.storageKey), \(bind: user.email), \(bind: user.displayName), \(bind: passwordHash),
                    \(bind: user.rppsNumber), \(bind: user.specialty), \(bind: user.specialtyCode),
                    \(bind: user.organisationID?.storageKey), \(bind: user.role.rawValue),
                    \(bind: user.locale?.rawValue), \(bind: user.isAdmin), \(bind: Timestamp.iso8601(now)))
            """).run()
    }

    /// The password hash of accounts opened through Pro Santé Connect: no password matches
    /// it (bcrypt hashes start with `$2`), until the account sets one through a reset link.
    public static let noPasswordHash = "!psc-only"

    /// The accounts carrying this RPPS number (normally one).
    public func find(rpps: RPPSNumber) async throws -> [User] {
        try await database.read { sql in
            try await sql.raw("SELECT \(unsafeRaw: Self.columns) FROM users WHERE rpps_number = \(bind: rpps.digits) ORDER BY created_at")
                .all(decoding: Row.self).compactMap(\.user)
        }
    }

    /// Name and specialty as Pro Santé Connect gives them at login (the national directory
    /// is the reference); the specialty only when PSC gives one Concerto knows.
    public func refreshIdentity(id: UUID, displayName: String, specialtyCode: String?) async throws {
        try await database.write { sql in
            try await sql.raw("""
                UPDATE users SET display_name = \(bind: displayName), specialty_code = COALESCE(\(bind: specialtyCode), specialty_code)
                WHERE id = \(bind: id.storageKey)
                """).run()
        }
    }

    private static func row(id: UUID, on sql: any SQLDatabase) async throws -> Row? {
        try await sql.raw("SELECT \(unsafeRaw: columns) FROM users WHERE id = \(bind: id.storageKey)").first(decoding: Row.self)
    }

    public func find(id: UUID) async throws -> User? {
        try await database.read { try await Self.row(id: id, on: $0)?.user }
    }

    public func findWithCredentials(email: String) async throws -> (user: User, credentials: Credentials)? {
        let email = EmailAddress.normalize(email)
        let row = try await database.read { sql in
            try await sql.raw("SELECT \(unsafeRaw: Self.columns) FROM users WHERE email = \(bind: email)")
                .first(decoding: Row.self)
        }
        guard let row, let user = row.user else { return nil }
        return (user, row.credentials)
    }

    public func credentials(id: UUID) async throws -> Credentials? {
        try await database.read { try await Self.row(id: id, on: $0)?.credentials }
    }

    /// Counts one failed login under `policy`, atomically; returns the new state.
    /// Takes one attempt at the password or the second factor, before it is checked, in
    /// one atomic UPDATE … RETURNING: parallel guesses each take their own number, so no
    /// more than `maximumFailures` of them are ever checked before the lock, as when they
    /// come one after the other. A lock that ran out starts a fresh count. The attempt is
    /// refused while the account is locked or once the allowance is used up (which locks it):
    /// the state returned is then locked. Otherwise the caller checks the secret and then
    /// calls `recordFailedLogin` or `resetFailedLogins`.
    public func reserveLoginAttempt(id: UUID, policy: LoginLockoutPolicy, at now: Date = Date()) async throws -> LoginLockoutPolicy.State {
        let nowSeconds = Timestamp.epochSeconds(now)
        let until = Timestamp.epochSeconds(now.addingTimeInterval(policy.lockDuration.seconds))
        let maximum = Int64(policy.maximumFailures)
        return try await database.write { sql -> LoginLockoutPolicy.State in
            guard let row = try await sql.raw("""
                UPDATE users SET
                    failed_logins = CASE WHEN locked_until IS NOT NULL AND locked_until <= \(bind: nowSeconds) THEN 1 ELSE failed_logins + 1 END,
                    locked_until = CASE
                        WHEN locked_until IS NOT NULL AND locked_until > \(bind: nowSeconds) THEN locked_until
                        WHEN (CASE WHEN locked_until IS NOT NULL AND locked_until <= \(bind: nowSeconds) THEN 1 ELSE failed_logins + 1 END) > \(bind: maximum)
                            THEN \(bind: until)
                        ELSE NULL END
                WHERE id = \(bind: id.storageKey)
                RETURNING failed_logins, locked_until
                """).first() else { throw StoreError.notFound }
            return LoginLockoutPolicy.State(
                failedAttempts: Int(try row.decode(column: "failed_logins", as: Int64.self)),
                lockedUntil: try row.decode(column: "locked_until", as: Int64?.self).map(Timestamp.date(epochSeconds:)))
        }
    }

    /// The attempt taken by `reserveLoginAttempt` succeeded but the login goes on (the
    /// second factor follows): it is given back, so a right password neither counts as a
    /// failure nor wipes the earlier ones.
    public func releaseLoginAttempt(id: UUID) async throws {
        try await database.write { sql in
            try await sql.raw("UPDATE users SET failed_logins = failed_logins - 1 WHERE id = \(bind: id.storageKey) AND failed_logins > 0").run()
        }
    }

    /// The attempt taken by `reserveLoginAttempt` failed: the account locks when that was
    /// the last one allowed. Returns the state to explain.
    public func recordFailedLogin(id: UUID, attempt: LoginLockoutPolicy.State, policy: LoginLockoutPolicy, at now: Date = Date()) async throws -> LoginLockoutPolicy.State {
        guard attempt.failedAttempts >= policy.maximumFailures else { return attempt }
        let until = now.addingTimeInterval(policy.lockDuration.seconds)
        try await database.write { sql in
            try await sql.raw("""
                UPDATE users SET locked_until = \(bind: Timestamp.epochSeconds(until))
                WHERE id = \(bind: id.storageKey) AND (locked_until IS NULL OR locked_until <= \(bind: Timestamp.epochSeconds(now)))
                """).run()
        }
        return LoginLockoutPolicy.State(failedAttempts: attempt.failedAttempts, lockedUntil: until)
    }

    public func resetFailedLogins(id: UUID) async throws {
        try await database.write { sql in
            try await sql.raw("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = \(bind: id.storageKey)").run()
        }
    }

    public func setTOTPSecret(id: UUID, secret: String?) async throws {
        try await database.write { sql in
            try await sql.raw("""
                UPDATE users SET totp_secret = \(bind: secret), totp_last_step = NULL WHERE id = \(bind: id.storageKey)
                """).run()
        }
    }

    /// Records that the TOTP code of time step `step` was used; false when that step
    /// (or a later one) was already used, which refuses replaying a code.
    public func consumeTOTPStep(id: UUID, step: Int64) async throws -> Bool {
        try await database.write { sql in
            try await sql.raw("""
                UPDATE users SET totp_last_step = \(bind: step)
                WHERE id = \(bind: id.storageKey) AND (totp_last_step IS NULL OR totp_last_step < \(bind: step))
                RETURNING id
                """).first() != nil
        }
    }

    /// Ends every session of the account but `keeping` (the persist key of the session
    /// that asked, when it stays): their rows go now, and one being written back by a
    /// request in flight is not stored again (`SessionStore.set`).
    public func endSessions(id: UUID, keeping sessionKey: String? = nil, at now: Date = Date()) async throws {
        try await database.write { sql in
            try await Self.endSessions(id: id, keeping: sessionKey, at: now, on: sql)
        }
    }

    static func endSessions(id: UUID, keeping sessionKey: String?, at now: Date, on sql: any SQLDatabase) async throws {
        try await sql.raw("UPDATE users SET sessions_ended_at = \(bind: Timestamp.epochSeconds(now)) WHERE id = \(bind: id.storageKey)").run()
        let kept = sessionKey.map(SessionStore.storedKey) ?? ""
        try await sql.raw("DELETE FROM sessions WHERE user_id = \(bind: id.storageKey) AND session_key <> \(bind: kept)").run()
    }

    /// A new password hash (changed by its owner); every other session ends.
    public func setPassword(id: UUID, hash: String, keepingSession sessionKey: String? = nil, at now: Date = Date()) async throws {
        try await database.write { sql in
            try await sql.raw("UPDATE users SET password_hash = \(bind: hash) WHERE id = \(bind: id.storageKey)").run()
            try await Self.endSessions(id: id, keeping: sessionKey, at: now, on: sql)
        }
    }

    /// Disables (or, with nil, enables again) an account; disabling ends its sessions.
    public func setDisabled(id: UUID, at date: Date?) async throws {
        try await database.write { sql in
            guard try await sql.raw("""
                UPDATE users SET disabled_at = \(bind: date.map(Timestamp.iso8601)) WHERE id = \(bind: id.storageKey) RETURNING id
                """).first() != nil else { throw StoreError.notFound }
            if let date { try await Self.endSessions(id: id, keeping: nil, at: date, on: sql) }
        }
    }

    /// A one-time password link's token for the account (only its SHA-256 is stored).
    public func createPasswordReset(id: UUID, policy: PasswordResetPolicy, at now: Date = Date()) async throws -> String {
        let token = SecretToken.generate()
        try await database.write { sql in
            try await sql.raw("""
                INSERT INTO password_resets (token_hash, user_id, created_at, expires_at)
                VALUES (\(bind: SecretToken.hash(token)), \(bind: id.storageKey), \(bind: Timestamp.iso8601(now)),
                        \(bind: Timestamp.epochSeconds(now.addingTimeInterval(policy.lifetime.seconds))))
                """).run()
        }
        return token
    }

    /// The account a password link opens, while it is unused and not expired.
    public func passwordResetAccount(token: String, at now: Date = Date()) async throws -> User? {
        try await database.read { sql in
            try await sql.raw("""
                SELECT \(unsafeRaw: Self.qualifiedColumns) FROM password_resets r JOIN users u ON u.id = r.user_id
                WHERE r.token_hash = \(bind: SecretToken.hash(token)) AND r.used_at IS NULL
                  AND r.expires_at > \(bind: Timestamp.epochSeconds(now))
                """).first(decoding: Row.self)?.user
        }
    }

    /// Uses a password link once: sets the password, clears the lock, ends every session,
    /// and voids the account's other links. Nil when the link is unknown, used or expired
    /// (two tabs posting the same link: one wins).
    public func redeemPasswordReset(token: String, hash: String, at now: Date = Date()) async throws -> UUID? {
        try await database.write { sql -> UUID? in
            guard let row = try await sql.raw("""
                UPDATE password_resets SET used_at = \(bind: Timestamp.iso8601(now))
                WHERE token_hash = \(bind: SecretToken.hash(token)) AND used_at IS NULL AND expires_at > \(bind: Timestamp.epochSeconds(now))
                RETURNING user_id
                """).first(), let id = UUID(storageKey: try row.decode(column: "user_id", as: String.self))
            else { return nil }
            try await sql.raw("""
                UPDATE password_resets SET used_at = \(bind: Timestamp.iso8601(now)) WHERE user_id = \(bind: id.storageKey) AND used_at IS NULL
                """).run()
            try await sql.raw("""
                UPDATE users SET password_hash = \(bind: hash), failed_logins = 0, locked_until = NULL WHERE id = \(bind: id.storageKey)
                """).run()
            try await Self.endSessions(id: id, keeping: nil, at: now, on: sql)
            return id
        }
    }

    public func setLocale(id: UUID, locale: AppLanguage?) async throws {
        try await database.write { sql in
            try await sql.raw("UPDATE users SET locale = \(bind: locale?.rawValue) WHERE id = \(bind: id.storageKey)").run()
        }
    }

    /// Every account with its organisation's name, by name (the professionals directory).
    public func all() async throws -> [(user: User, organisationName: String?)] {
        try await database.read { sql in
            try await sql.raw("""
                SELECT u.*, o.name AS organisation_name
                FROM users u LEFT JOIN organisations o ON o.id = u.organisation_id ORDER BY u.display_name
                """).all().compactMap { row -> (User, String?)? in
                guard let user = try row.decode(model: Row.self).user else { return nil }
                return (user, try row.decode(column: "organisation_name", as: String?.self))
            }
        }
    }

    public func count() async throws -> Int {
        struct Count: Decodable { var count: Int64 }
        return try await database.read { sql in
            Int(try await sql.raw("SELECT COUNT(*) AS count FROM users").first(decoding: Count.self)?.count ?? 0)
        }
    }
}
