import ConcertoCore
import ConcertoStore
import Foundation
import HTTPTypes
import Hummingbird
import Mustache
import ProSanteConnect

/// Login with Pro Santé Connect (OpenID Connect, authorisation code with PKCE): the
/// professional is found by the RPPS PSC proves; one unknown here files an access request.
struct PSCController: Sendable {
    let client: PSCClient
    let users: UserStore
    let requests: AccountRequestStore
    let audit: AuditLog
    let loginSessions: LoginSessions
    let renderer: Renderer

    func addRoutes(to router: some RouterMethods<AppRequestContext>) {
        router.get(SiteURL.route(.loginPSC), use: start)
        router.get(SiteURL.route(.loginPSCCallback), use: callback)
        router.get(SiteURL.route(.loginPSCRequest), use: showRequest)
        router.post(SiteURL.route(.loginPSCRequest), use: saveContact)
    }

    /// A page that says what went wrong and what to do (never the provider's own words).
    struct ProblemContent: Sendable, PageModel {
        let message, retryURL: String
    }

    private func problem(_ key: String, status: HTTPResponse.Status, request: Request, context: AppRequestContext) throws -> Response {
        let pages = PageBuilder(request: request, context: context)
        return try renderer.html("psc_problem", pages.page(ProblemContent(message: pages.text(key), retryURL: SiteURL.loginPSC.path)), status: status)
    }

    /// Step 1: new state, nonce and PKCE verifier in this browser's session, then off to PSC.
    @Sendable func start(_ request: Request, context: AppRequestContext) async throws -> Response {
        let next = SafeRedirect.target(request.uri.queryParameters["next"].map(String.init))
        let pending = PendingAuthorization.make(next: next)
        let url: String
        do {
            url = try await client.authorizationURL(for: pending)
        } catch {
            context.logger.warning("PSC login could not start", metadata: ["reason": .string(error.auditReason)])
            return try problem("psc_error_unavailable", status: .serviceUnavailable, request: request, context: context)
        }
        if context.sessions.session == nil {
            context.sessions.createSession(WebSession(language: context.language))
        }
        context.sessions.withLockedSession { data in data?.pscPending = pending }
        return .redirect(to: url, type: .normal)
    }

    /// Step 2: PSC sends the browser back with a code; the code is redeemed, the ID token
    /// and userinfo checked, and the professional found by RPPS.
    @Sendable func callback(_ request: Request, context: AppRequestContext) async throws -> Response {
        let started = ContinuousClock.now
        let query = request.uri.queryParameters
        // One use: whatever happens next, this attempt is over (a replayed callback finds nothing).
        let pending = context.sessions.session?.pscPending
        if pending != nil { context.sessions.withLockedSession { data in data?.pscPending = nil } }
        func refuse(_ reason: String, _ key: String, status: HTTPResponse.Status = .badRequest) async throws -> Response {
            try await audit.record(context.auditDraft(.loginFailed, actor: nil, resourceType: "session", outcome: .failure, reason: reason))
            context.logger.notice("PSC login refused", metadata: ["reason": .string(reason)])
            return try problem(key, status: status, request: request, context: context)
        }
        guard let pending, !pending.isExpired(at: Date()), let state = query["state"],
              ConstantTime.equals(String(state), pending.state) else {
            return try await refuse("psc_state", "psc_error_state")
        }
        if query["error"] != nil {
            // The user cancelled at PSC, or PSC refused: nothing to redeem.
            return try await refuse("psc_cancelled", "psc_error_cancelled", status: .unauthorized)
        }
        guard let code = query["code"], !code.isEmpty else { return try await refuse("psc_state", "psc_error_state") }
        let login: PSCLogin
        do {
            login = try await client.complete(code: String(code), pending: pending)
        } catch .providerUnavailable {
            return try await refuse(PSCLoginError.providerUnavailable.auditReason, "psc_error_unavailable", status: .serviceUnavailable)
        } catch .userinfo(.notAnRPPSIdentity) {
            return try await refuse(PSCLoginError.userinfo(.notAnRPPSIdentity).auditReason, "psc_error_not_rpps", status: .forbidden)
        } catch {
            return try await refuse(error.auditReason, "psc_error_rejected", status: .unauthorized)
        }
        let professional = login.professional
        let accounts = try await users.find(rpps: professional.rpps)
        guard accounts.count <= 1 else {
            // Two accounts with one RPPS: an admin must say which is theirs; no guess.
            return try await refuse("psc_ambiguous_rpps", "psc_error_ambiguous", status: .conflict)
        }
        guard let account = accounts.first else {
            return try await fileRequest(for: professional, request: request, context: context)
        }
        guard !account.isDisabled else {
            try await audit.record(context.auditDraft(.loginFailed, actor: account, resourceType: "session", outcome: .failure, reason: "disabled"))
            return try problem("login_error_disabled", status: .forbidden, request: request, context: context)
        }
        // The national directory is the reference for names and specialty.
        var user = account
        if user.displayName != professional.displayName || (professional.specialtyCode != nil && user.specialtyCode != professional.specialtyCode) {
            try await users.refreshIdentity(id: user.id, displayName: professional.displayName, specialtyCode: professional.specialtyCode)
            user.displayName = professional.displayName
            user.specialtyCode = professional.specialtyCode ?? user.specialtyCode
        }
        try await loginSessions.complete(user, method: .proSanteConnect, acr: login.acr, request: request, context: context, now: Date()) { session in
            session.pscIDToken = login.idToken
        }
        var response = Response.redirect(to: pending.next, type: .normal)
        // Concerto's own time and the provider's, for the login bench (docs/benchmarks.md).
        let total = started.duration(to: .now)
        response.headers[HTTPField.Name("Server-Timing")!] =
            "psc;desc=\"provider\";dur=\(Self.milliseconds(login.providerTime)), total;dur=\(Self.milliseconds(total))"
        return response
    }

    static func milliseconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        return String(format: "%.2f", Double(seconds) * 1000 + Double(attoseconds) / 1e15)
    }

    /// No account for this RPPS: a request is filed (or the open one touched) and the
    /// professional is told what happens next. No session is opened.
    private func fileRequest(for professional: PSCProfessional, request: Request, context: AppRequestContext) async throws -> Response {
        let filed = try await requests.file(
            rpps: professional.rpps, displayName: professional.displayName, specialtyCode: professional.specialtyCode, sites: professional.sites,
            audit: context.auditDraft(.accountRequest, actor: nil, resourceType: "account_request", outcome: .success, reason: "psc_unknown_rpps"))
        context.logger.notice("PSC login of a professional without an account: access request filed")
        if context.sessions.session == nil { context.sessions.createSession(WebSession(language: context.language)) }
        context.sessions.withLockedSession { data in data?.accountRequestID = filed.id }
        return .redirect(to: SiteURL.loginPSCRequest.path, type: .normal)
    }

    struct RequestContent: Sendable, PageModel {
        let displayName, rpps: String
        let sites: [String]
        let isPending, isApproved, isRefused: Bool
        let refusal: String?
        let createdAt, contactEmail: String
        let error: String?
        let action, loginURL: String
    }

    /// The waiting page: only for the browser that filed the request.
    @Sendable func showRequest(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await renderRequest(request: request, context: context, error: nil, status: .ok)
    }

    private func renderRequest(request: Request, context: AppRequestContext, error: String?, status: HTTPResponse.Status) async throws -> Response {
        guard let id = context.sessions.session?.accountRequestID, let filed = try await requests.find(id: id) else {
            return .redirect(to: SiteURL.login.path, type: .normal)
        }
        let pages = PageBuilder(request: request, context: context)
        let content = RequestContent(
            displayName: filed.displayName, rpps: filed.rpps.digits, sites: filed.sites.map { "\($0.name) (FINESS \($0.finess))" },
            isPending: filed.status == .pending, isApproved: filed.status == .approved, isRefused: filed.status == .refused,
            refusal: filed.refusal.map { pages.text("account_request_refusal_\($0.rawValue)") },
            createdAt: DisplayFormat.dateTime(filed.createdAt),
            contactEmail: filed.contactEmail ?? "", error: error, action: SiteURL.loginPSCRequest.path, loginURL: SiteURL.loginPSC.path)
        return try renderer.html("psc_request", pages.page(content), status: status)
    }

    /// The requester leaves an address so that whoever decides can reach them.
    @Sendable func saveContact(_ request: Request, context: AppRequestContext) async throws -> Response {
        guard let id = context.sessions.session?.accountRequestID else { return .redirect(to: SiteURL.login.path, type: .normal) }
        let email = context.form?.trimmed("email") ?? ""
        guard EmailAddress.isPlausible(email) else {
            let pages = PageBuilder(request: request, context: context)
            return try await renderRequest(request: request, context: context, error: pages.text("account_request_error_email"), status: .badRequest)
        }
        try await requests.setContactEmail(EmailAddress.normalize(email), requestID: id)
        return context.sessions.redirect(to: SiteURL.loginPSCRequest, flash: .success, "flash_account_request_contact")
    }
}
