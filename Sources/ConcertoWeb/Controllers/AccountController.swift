import ConcertoCore
import ConcertoStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdAuth
import Mustache

/// The user's own account: profile, password, TOTP enrolment.
struct AccountController: Sendable {
    let users: UserStore
    let audit: AuditLog
    let lockout: LoginLockoutPolicy
    let passwords: PasswordHasher
    let sessionStorage: SessionStorage<WebSession>
    let renderer: Renderer

    func addRoutes(to group: some RouterMethods<AuthenticatedContext>) {
        group.get(SiteURL.route(.account), use: show)
        group.get(SiteURL.route(.accountTOTP), use: showEnrolment)
        group.post(SiteURL.route(.accountTOTP), use: confirmEnrolment)
        group.post(SiteURL.route(.accountTOTPDisable), use: disable)
        group.post(SiteURL.route(.accountPassword), use: changePassword)
    }

    struct AccountContent: Sendable, PageModel {
        let displayName, email: String
        let rppsNumber, specialty: String?
        let roleLabel: String
        let totpEnabled: Bool
        let error: String?
        var passwordError: String? = nil
    }

    struct EnrolmentContent: Sendable, PageModel {
        let displayKey, authenticatorURL: String
        let error: String?
    }

    /// Read afresh: this page shows what was just changed (second factor).
    @Sendable func show(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try renderAccount(request: request, context: context, user: try await users.find(id: context.user.id) ?? context.user, error: nil)
    }

    private func renderAccount(request: Request, context: AuthenticatedContext, user: User, error: String?, passwordError: String? = nil,
                               status: HTTPResponse.Status = .ok) throws -> Response {
        let pages = PageBuilder(request: request, context: context)
        return try renderer.html("account", pages.page(AccountContent(
            displayName: user.displayName, email: user.email, rppsNumber: user.rppsNumber, specialty: user.specialtyLabel,
            roleLabel: pages.text("role_\(user.role.rawValue)"), totpEnabled: user.totpEnabled, error: error, passwordError: passwordError
        )), status: status)
    }

    /// The current password is asked (a borrowed session cannot change it) and counts
    /// against the lock like a login; every other session of the account ends, this one
    /// stays.
    @Sendable func changePassword(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let form = try context.requiredForm
        let pages = PageBuilder(request: request, context: context)
        let now = Date()
        func refuse(_ key: String, status: HTTPResponse.Status) async throws -> Response {
            try await refuse(message: pages.text(key), status: status)
        }
        func refuse(message: String, status: HTTPResponse.Status) async throws -> Response {
            let user = try await users.find(id: context.user.id) ?? context.user
            return try renderAccount(request: request, context: context, user: user, error: nil, passwordError: message, status: status)
        }
        guard let credentials = try await users.credentials(id: context.user.id) else { throw AppError.notAuthenticated }
        let attempt = try await users.reserveLoginAttempt(id: context.user.id, policy: lockout, at: now)
        if lockout.isLocked(attempt, at: now) {
            return try await refuse(message: lockout.lockedMessage(attempt, pages: pages, at: now), status: .forbidden)
        }
        guard let current = form["current_password"], !current.isEmpty, try await passwords.verify(current, hash: credentials.passwordHash) else {
            _ = try await users.recordFailedLogin(id: context.user.id, attempt: attempt, policy: lockout, at: now)
            try await audit.record(context.auditDraft(.passwordChange, resourceType: "user", resourceID: context.user.id.storageKey,
                                                      outcome: .failure, reason: "wrong_password"))
            return try await refuse("password_error_current", status: .unprocessableContent)
        }
        try await users.releaseLoginAttempt(id: context.user.id)
        let new = form["new_password"] ?? ""
        switch PasswordRules.problem(with: new) {
        case .tooShort: return try await refuse("password_error_short", status: .unprocessableContent)
        case .tooLong: return try await refuse("password_error_long", status: .unprocessableContent)
        case nil: break
        }
        guard form["confirm_password"] == new else { return try await refuse("password_error_mismatch", status: .unprocessableContent) }
        let keep = sessionStorage.getId(request: request).map { SessionCookie.keyPrefix + $0 }
        try await users.setPassword(id: context.user.id, hash: try await passwords.hash(new), keepingSession: keep, at: now)
        // This session proved the password just now: it outlives the end of the others.
        context.sessions.withLockedSession { data in
            data?.authenticatedAt = now
            data?.flash = Flash(kind: .success, messageKey: "flash_password_changed")
        }
        try await audit.record(context.auditDraft(.passwordChange, resourceType: "user", resourceID: context.user.id.storageKey, outcome: .success))
        return .redirect(to: SiteURL.account.path, type: .normal)
    }

    private func hasSecondFactor(_ context: AuthenticatedContext) async throws -> Bool {
        try await users.credentials(id: context.user.id)?.totpSecret != nil
    }

    @Sendable func showEnrolment(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        if try await hasSecondFactor(context) { return .redirect(to: SiteURL.account.path, type: .normal) }
        // Keep the secret across reloads of the page until it is confirmed.
        let secret = context.sessions.withLockedSession { data -> String in
            if let existing = data?.enrolmentSecret { return existing }
            let secret = TwoFactor.newSecret()
            data?.enrolmentSecret = secret
            return secret
        }
        return try renderEnrolment(request: request, context: context, secret: secret, error: nil)
    }

    private func renderEnrolment(request: Request, context: AuthenticatedContext, secret: String, error: String?, status: HTTPResponse.Status = .ok) throws -> Response {
        let pages = PageBuilder(request: request, context: context)
        return try renderer.html("totp_enrol", pages.page(EnrolmentContent(
            displayKey: TwoFactor.displayKey(secret: secret),
            authenticatorURL: TwoFactor.authenticatorURL(secret: secret, account: context.user.email),
            error: error
        )), status: status)
    }

    @Sendable func confirmEnrolment(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        guard try await !hasSecondFactor(context) else { return .redirect(to: SiteURL.account.path, type: .normal) }
        guard let secret = context.sessions.session?.enrolmentSecret else {
            return .redirect(to: SiteURL.accountTOTP.path, type: .normal)
        }
        let now = Date()
        guard let step = TwoFactor.matchingStep(code: context.form?["code"] ?? "", secret: secret, at: now) else {
            let pages = PageBuilder(request: request, context: context)
            return try renderEnrolment(request: request, context: context, secret: secret, error: pages.text("totp_error_invalid"), status: .unprocessableContent)
        }
        try await users.setTOTPSecret(id: context.user.id, secret: secret)
        _ = try await users.consumeTOTPStep(id: context.user.id, step: step)
        context.sessions.withLockedSession { data in
            data?.enrolmentSecret = nil
            data?.flash = Flash(kind: .success, messageKey: "flash_totp_enabled")
        }
        context.sessions.updateUser { $0.totpEnabled = true }
        context.logger.info("totp enabled", metadata: ["user_id": .string(context.user.id.storageKey)])
        return .redirect(to: SiteURL.account.path, type: .normal)
    }

    /// Turning the second factor off needs the password and a current code, so a borrowed
    /// session cannot; each try counts against the account's lock like a login.
    @Sendable func disable(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        guard let credentials = try await users.credentials(id: context.user.id), let secret = credentials.totpSecret else {
            return .redirect(to: SiteURL.account.path, type: .normal)
        }
        let now = Date()
        let pages = PageBuilder(request: request, context: context)
        func refuse(_ message: String, status: HTTPResponse.Status) async throws -> Response {
            let user = try await users.find(id: context.user.id) ?? context.user
            return try renderAccount(request: request, context: context, user: user, error: message, status: status)
        }
        let attempt = try await users.reserveLoginAttempt(id: context.user.id, policy: lockout, at: now)
        if lockout.isLocked(attempt, at: now) {
            return try await refuse(lockout.lockedMessage(attempt, pages: pages, at: now), status: .forbidden)
        }
        guard let password = context.form?["password"], !password.isEmpty, try await passwords.verify(password, hash: credentials.passwordHash),
              let step = TwoFactor.matchingStep(code: context.form?["code"] ?? "", secret: secret, at: now),
              try await users.consumeTOTPStep(id: context.user.id, step: step)
        else {
            _ = try await users.recordFailedLogin(id: context.user.id, attempt: attempt, policy: lockout, at: now)
            return try await refuse(pages.text("totp_error_disable"), status: .unprocessableContent)
        }
        try await users.resetFailedLogins(id: context.user.id)
        try await users.setTOTPSecret(id: context.user.id, secret: nil)
        context.sessions.updateUser { $0.totpEnabled = false }
        context.sessions.flash(.success, "flash_totp_disabled")
        context.logger.info("totp disabled", metadata: ["user_id": .string(context.user.id.storageKey)])
        return .redirect(to: SiteURL.account.path, type: .normal)
    }
}
