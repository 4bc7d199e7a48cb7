import ConcertoCore
import Foundation
import Hummingbird

/// An account whose role requires a second factor and that has none may, once its
/// password is accepted, do one thing: enrol one. Every other page behind login sends it
/// to the enrolment page (logging out and switching language stay open: they are not
/// behind login).
struct SecondFactorMiddleware: RouterMiddleware {
    typealias Context = AuthenticatedContext
    let requirement: SecondFactorRequirement

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // A Pro Santé Connect login (CPS card or e-CPS, eidas1) is itself a strong authentication.
        let strong = context.sessions.session?.authMethod?.isStrong ?? false
        guard !strong, requirement.mustEnrol(context.user), request.uri.path != SiteURL.accountTOTP.path else {
            return try await next(request, context)
        }
        return context.sessions.redirect(to: SiteURL.accountTOTP, flash: .info, "second_factor_required")
    }
}
