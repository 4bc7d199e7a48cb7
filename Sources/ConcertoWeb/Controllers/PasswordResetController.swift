import ConcertoCore
import ConcertoStore
import Foundation
import HTTPTypes
import Hummingbird
import Mustache

/// One-time password links: `concerto user reset-password` issues one (to hand over by
/// another channel: phone, in person), the page behind it sets a new password once.
/// The token is a bearer secret in the path: kept only hashed, never logged
/// (`RequestLogMiddleware.loggablePath`), void once used, after `PasswordResetPolicy.lifetime`
/// or when another link of the account is used.
struct PasswordResetController: Sendable {
    let users: UserStore
    let audit: AuditLog
    let passwords: PasswordHasher
    let renderer: Renderer

    func addRoutes(to router: some RouterMethods<AppRequestContext>) {
        router.get(SiteURL.route(.token) { .passwordReset(token: $0) }, use: show)
        router.post(SiteURL.route(.token) { .passwordReset(token: $0) }, use: submit)
    }

    struct ResetContent: Sendable, PageModel {
        let action: String
        let email, error: String?
    }

    private func token(_ context: AppRequestContext) -> String {
        context.parameters.get(SiteURL.Parameter.token.rawValue) ?? ""
    }

    private func render(_ request: Request, context: AppRequestContext, email: String?, error: String?, status: HTTPResponse.Status) throws -> Response {
        let pages = PageBuilder(request: request, context: context)
        let content = ResetContent(action: SiteURL.passwordReset(token: token(context)).path,
                                   email: email.map { pages.text("reset_intro", ["email": $0]) }, error: error)
        var response = try renderer.html("password_reset", pages.page(content), status: status)
        // The token is in this page's address: no other site hears of it.
        response.headers[.concertoReferrerPolicy] = "no-referrer"
        return response
    }

    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> Response {
        let pages = PageBuilder(request: request, context: context)
        guard let user = try await users.passwordResetAccount(token: token(context)) else {
            return try render(request, context: context, email: nil, error: pages.text("reset_invalid"), status: .gone)
        }
        return try render(request, context: context, email: user.email, error: nil, status: .ok)
    }

    @Sendable func submit(_ request: Request, context: AppRequestContext) async throws -> Response {
        let pages = PageBuilder(request: request, context: context)
        guard let user = try await users.passwordResetAccount(token: token(context)) else {
            return try render(request, context: context, email: nil, error: pages.text("reset_invalid"), status: .gone)
        }
        let form = context.form ?? FormData(fields: [:])
        let new = form["new_password"] ?? ""
        let problem: String? = switch PasswordRules.problem(with: new) {
        case .tooShort: "password_error_short"
        case .tooLong: "password_error_long"
        case nil: form["confirm_password"] == new ? nil : "password_error_mismatch"
        }
        if let problem {
            return try render(request, context: context, email: user.email, error: pages.text(problem), status: .unprocessableContent)
        }
        guard let id = try await users.redeemPasswordReset(token: token(context), hash: try await passwords.hash(new)) else {
            return try render(request, context: context, email: nil, error: pages.text("reset_invalid"), status: .gone)
        }
        try await audit.record(context.auditDraft(.passwordReset, actor: user, resourceType: "user", resourceID: id.storageKey, outcome: .success))
        return context.sessions.redirect(to: SiteURL.login, flash: .success, "flash_password_reset")
    }
}

/// The links `concerto user reset-password` prints.
public enum PasswordResetLinks {
    /// Issues a link for the account with this e-mail address (the CLI's work, here so it is tested).
    public static func issue(
        email: String, users: UserStore, audit: AuditLog, linkBase: String, policy: PasswordResetPolicy = PasswordResetPolicy(),
        clearSecondFactor: Bool = false, at now: Date = Date()
    ) async throws -> (link: String, user: User)? {
        guard let user = try await users.findWithCredentials(email: email)?.user else { return nil }
        if clearSecondFactor { try await users.setTOTPSecret(id: user.id, secret: nil) }
        let token = try await users.createPasswordReset(id: user.id, policy: policy, at: now)
        try await audit.record(AuditDraft(actorID: nil, action: .passwordResetIssue, resourceType: "user", resourceID: user.id.storageKey,
                                          outcome: .success, reason: clearSecondFactor ? "second_factor_cleared" : "command_line"))
        return (linkBase + SiteURL.passwordReset(token: token).path, user)
    }
}
