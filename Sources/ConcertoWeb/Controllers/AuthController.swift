import ConcertoCore
import ConcertoStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdAuth
import Mustache
import ProSanteConnect

/// Login (password, then TOTP when enrolled), logout (at Pro Santé Connect too for a PSC login).
struct AuthController: Sendable {
    let users: UserStore
    let audit: AuditLog
    let passwords: PasswordHasher
    let lockout: LoginLockoutPolicy
    let loginSessions: LoginSessions
    let communities: CommunityStore
    /// Pro Santé Connect, when configured: its button, its requirement, its logout.
    let psc: PSCClient?
    let renderer: Renderer
    /// Attempts per client address (password and second factor together).
    let rateLimiter: AttemptRateLimiter
    /// How long the second-factor step may take after the password was accepted.
    let pendingLoginTimeout: TimeInterval = 300

    func addRoutes(to router: some RouterMethods<AppRequestContext>) {
        router.get(SiteURL.route(.login), use: showLogin)
        router.post(SiteURL.route(.login), use: submitLogin)
        router.get(SiteURL.route(.loginTOTP), use: showTOTP)
        router.post(SiteURL.route(.loginTOTP), use: submitTOTP)
        router.post(SiteURL.route(.logout), use: logout)
    }

    struct LoginContent: Sendable, PageModel {
        let email, next: String
        let error, info: String?
        /// The Pro Santé Connect button's address (nil: not configured here).
        let pscURL: String?
    }

    struct TOTPContent: Sendable, PageModel {
        let next: String
        let error: String?
    }

    @Sendable func showLogin(_ request: Request, context: AppRequestContext) async throws -> Response {
        if context.user != nil {
            return .redirect(to: SiteURL.home.path, type: .normal)
        }
        let next = request.uri.queryParameters["next"].map(String.init)
        let pages = PageBuilder(request: request, context: context)
        let info = next.map { _ in pages.text("flash_login_required") }
        let content = LoginContent(email: "", next: SafeRedirect.keep(next), error: nil, info: info, pscURL: pscURL(next: next))
        return try renderer.html("login", pages.page(content))
    }

    /// The 429 answer once an address has used its attempts for the minute.
    private func slowDown(_ retryAfter: Int, context: AppRequestContext, render: (String) throws -> Response, pages: PageBuilder) throws -> Response {
        context.logger.notice("login attempts rate-limited")
        var response = try render(pages.text("login_error_too_many", ["seconds": String(retryAfter)]))
        response.headers[.retryAfter] = String(retryAfter)
        return response
    }

    @Sendable func submitLogin(_ request: Request, context: AppRequestContext) async throws -> Response {
        let form = context.form ?? FormData(fields: [:])
        let pages = PageBuilder(request: request, context: context)
        let next = SafeRedirect.target(form["next"])
        func refuse(_ message: String, status: HTTPResponse.Status) throws -> Response {
            let content = LoginContent(email: form.trimmed("email") ?? "", next: SafeRedirect.keep(form["next"]), error: message, info: nil,
                                       pscURL: pscURL(next: form["next"]))
            return try renderer.html("login", pages.page(content), status: status)
        }
        let now = Date()
        let address = context.clientAddress ?? "unknown"
        if let retryAfter = rateLimiter.take(address, at: now) {
            return try slowDown(retryAfter, context: context, render: { try refuse($0, status: .tooManyRequests) }, pages: pages)
        }
        guard let email = form.trimmed("email"), let password = form["password"], !password.isEmpty else {
            return try refuse(pages.text("login_error_missing"), status: .badRequest)
        }
        guard let (user, credentials) = try await users.findWithCredentials(email: email) else {
            _ = try await passwords.verifyDecoy(password)
            try await audit.record(context.auditDraft(.loginFailed, actor: nil, resourceType: "session", outcome: .failure, reason: "unknown_account"))
            return try refuse(pages.text("login_error_invalid"), status: .unauthorized)
        }
        // The attempt is counted before the password is checked: parallel guesses cannot
        // get more checks than the lock allows.
        let attempt = try await users.reserveLoginAttempt(id: user.id, policy: lockout, at: now)
        if lockout.isLocked(attempt, at: now) {
            try await audit.record(context.auditDraft(.loginFailed, actor: user, resourceType: "session", outcome: .failure, reason: "locked"))
            return try refuse(lockout.lockedMessage(attempt, pages: pages, at: now), status: .forbidden)
        }
        guard try await passwords.verify(password, hash: credentials.passwordHash) else {
            try await audit.record(context.auditDraft(.loginFailed, actor: user, resourceType: "session", outcome: .failure, reason: "wrong_password"))
            let state = try await users.recordFailedLogin(id: user.id, attempt: attempt, policy: lockout, at: now)
            if lockout.isLocked(state, at: now) {
                context.logger.notice("account locked after failed logins")
                return try refuse(lockout.lockedMessage(state, pages: pages, at: now), status: .forbidden)
            }
            return try refuse(pages.text("login_error_invalid"), status: .unauthorized)
        }
        rateLimiter.giveBack(address, takenAt: now)
        // Said only to whoever knows the password: the state of an account is no one else's business.
        if user.isDisabled {
            try await users.releaseLoginAttempt(id: user.id)
            try await audit.record(context.auditDraft(.loginFailed, actor: user, resourceType: "session", outcome: .failure, reason: "disabled"))
            return try refuse(pages.text("login_error_disabled"), status: .forbidden)
        }
        // A community that requires PSC of its physicians: their password no longer opens
        // a session (an admin's still does, with its second factor). Only where PSC is
        // configured: otherwise the requirement would lock them out.
        if psc != nil, !user.isPlatformAdmin {
            let requiring = try await communities.communitiesRequiringPSC(ofPhysician: user.id)
            if !requiring.isEmpty {
                try await users.releaseLoginAttempt(id: user.id)
                try await audit.record(context.auditDraft(.loginFailed, actor: user, resourceType: "session", outcome: .failure, reason: "psc_required"))
                return try refuse(pages.text("login_error_psc_required", ["communities": requiring.joined(separator: ", ")]), status: .forbidden)
            }
        }
        // The failure count is reset only once the whole login succeeds: otherwise the
        // password alone would reopen unlimited guesses at the second factor.
        if credentials.totpSecret != nil {
            try await users.releaseLoginAttempt(id: user.id)
            try await loginSessions.rotate(request: request, context: context) { session in
                session.pendingUserID = user.id
                session.pendingSince = now
                session.flash = nil
            }
            return .redirect(to: SiteURL.loginTOTP.withNext(next), type: .normal)
        }
        try await loginSessions.complete(user, method: .password, request: request, context: context, now: now)
        return .redirect(to: next, type: .normal)
    }

    @Sendable func showTOTP(_ request: Request, context: AppRequestContext) async throws -> Response {
        guard pendingUserID(context) != nil else {
            return .redirect(to: SiteURL.login.path, type: .normal)
        }
        let pages = PageBuilder(request: request, context: context)
        let next = request.uri.queryParameters["next"].map(String.init)
        return try renderer.html("login_totp", pages.page(TOTPContent(next: SafeRedirect.keep(next), error: nil)))
    }

    @Sendable func submitTOTP(_ request: Request, context: AppRequestContext) async throws -> Response {
        let pages = PageBuilder(request: request, context: context)
        let now = Date()
        let address = context.clientAddress ?? "unknown"
        if let retryAfter = rateLimiter.take(address, at: now) {
            return try slowDown(retryAfter, context: context, render: {
                try renderer.html("login_totp", pages.page(TOTPContent(next: SafeRedirect.keep(context.form?["next"]), error: $0)), status: .tooManyRequests)
            }, pages: pages)
        }
        guard let userID = pendingUserID(context) else {
            return context.sessions.redirect(to: SiteURL.login, flash: .error, "totp_error_expired")
        }
        guard let user = try await users.find(id: userID), !user.isDisabled, let credentials = try await users.credentials(id: userID),
              let secret = credentials.totpSecret
        else {
            return .redirect(to: SiteURL.login.path, type: .normal)
        }
        let attempt = try await users.reserveLoginAttempt(id: userID, policy: lockout, at: now)
        if lockout.isLocked(attempt, at: now) {
            let content = TOTPContent(next: SafeRedirect.keep(context.form?["next"]), error: lockout.lockedMessage(attempt, pages: pages, at: now))
            return try renderer.html("login_totp", pages.page(content), status: .forbidden)
        }
        let code = context.form?["code"] ?? ""
        guard let step = TwoFactor.matchingStep(code: code, secret: secret, at: now),
              try await users.consumeTOTPStep(id: userID, step: step)
        else {
            try await audit.record(context.auditDraft(.loginFailed, actor: user, resourceType: "session", outcome: .failure, reason: "wrong_totp"))
            let state = try await users.recordFailedLogin(id: userID, attempt: attempt, policy: lockout, at: now)
            let message = lockout.isLocked(state, at: now)
                ? lockout.lockedMessage(state, pages: pages, at: now) : pages.text("totp_error_invalid")
            return try renderer.html("login_totp", pages.page(TOTPContent(next: SafeRedirect.keep(context.form?["next"]), error: message)), status: .unauthorized)
        }
        rateLimiter.giveBack(address, takenAt: now)
        try await loginSessions.complete(user, method: .passwordAndTOTP, request: request, context: context, now: now)
        return .redirect(to: SafeRedirect.target(context.form?["next"]), type: .normal)
    }

    @Sendable func logout(_ request: Request, context: AppRequestContext) async throws -> Response {
        // Replace the session by a fresh anonymous one so the next page can say goodbye. The
        // session is deleted from the shared store: no instance accepts it any more.
        let language = context.language
        let idToken = context.sessions.session?.pscIDToken
        if let user = context.user {
            try await audit.record(context.auditDraft(.logout, actor: user, resourceType: "session", outcome: .success))
        }
        let state = CSRFToken.generate()
        try await loginSessions.rotate(request: request, context: context) { session in
            session = WebSession(language: language)
            session.flash = Flash(kind: .success, messageKey: "flash_logged_out")
        }
        // A PSC login also ends at the provider, which sends the browser back to the login page.
        if let psc, let idToken, let endSession = await psc.logoutURL(idToken: idToken, state: state) {
            return .redirect(to: endSession, type: .normal)
        }
        return .redirect(to: SiteURL.login.path, type: .normal)
    }

    /// The PSC button's address, keeping where to go after login.
    private func pscURL(next: String?) -> String? {
        guard psc != nil else { return nil }
        guard let next, SafeRedirect.isLocal(next), next != SiteURL.home.path else { return SiteURL.loginPSC.path }
        return SiteURL.loginPSC.withNext(next)
    }

    private func pendingUserID(_ context: AppRequestContext) -> UUID? {
        guard let session = context.sessions.session, let userID = session.pendingUserID, let since = session.pendingSince,
              Date().timeIntervalSince(since) < pendingLoginTimeout
        else { return nil }
        return userID
    }
}

/// Opening a session once someone has proven who they are (password, TOTP, Pro Santé
/// Connect): shared by the login controllers.
struct LoginSessions: Sendable {
    let users: UserStore
    let audit: AuditLog
    let lifetime: SessionLifetimePolicy
    let sessionStorage: SessionStorage<WebSession>

    /// Records the login (with how it was made) and opens a fresh session for the account.
    func complete(_ user: User, method: AuthenticationMethod, acr: String? = nil, request: Request, context: AppRequestContext, now: Date,
                  _ extra: (inout WebSession) -> Void = { _ in }) async throws {
        try await users.resetFailedLogins(id: user.id)
        try await audit.record(context.auditDraft(.loginSucceeded, actor: user, resourceType: "session", outcome: .success,
                                                  reason: method.auditReason(acr: acr)))
        let language = user.locale ?? context.sessions.session?.language
        try await rotate(request: request, context: context) { session in
            session = WebSession(language: language)
            session.userID = user.id
            session.user = user
            session.authenticatedAt = now
            session.lastSeenAt = now
            session.authMethod = method
            extra(&session)
        }
        context.logger.info("login", metadata: ["user_id": .string(user.id.storageKey), "method": .string(method.rawValue)])
    }

    /// Issues a new session id (and CSRF token) whenever privileges change, deleting the
    /// old session, so a session id planted before login is worthless after it.
    func rotate(request: Request, context: AppRequestContext, _ change: (inout WebSession) -> Void) async throws {
        var session = context.sessions.session ?? WebSession()
        change(&session)
        session.csrfToken = CSRFToken.generate()
        if sessionStorage.getId(request: request) != nil {
            _ = try? await sessionStorage.delete(request: request)
        }
        context.sessions.createSession(session, expiresIn: lifetime.idleTimeout)
    }
}

extension LoginLockoutPolicy {
    /// What a locked account is told (login, second factor, and the account page's checks
    /// of the password).
    func lockedMessage(_ state: State, pages: PageBuilder, at now: Date) -> String {
        pages.text("login_error_locked", [
            "failures": String(maximumFailures),
            "minutes": String(max(1, minutesRemaining(state, at: now))),
        ])
    }
}
