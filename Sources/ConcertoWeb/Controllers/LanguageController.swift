import ConcertoCore
import ConcertoStore
import Foundation
import HTTPTypes
import Hummingbird

/// The language selector: remembered in the session, and on the account when logged in.
struct LanguageController: Sendable {
    let users: UserStore

    func addRoutes(to router: some RouterMethods<AppRequestContext>) {
        router.post(SiteURL.route(.language), use: change)
    }

    @Sendable func change(_ request: Request, context: AppRequestContext) async throws -> Response {
        guard let code = context.form?["language"], let language = AppLanguage(rawValue: code) else {
            throw AppError.badRequest
        }
        if let user = context.user {
            try await users.setLocale(id: user.id, locale: language)
            context.sessions.updateUser { $0.locale = language }
        }
        context.sessions.withLockedSession { data in
            data?.language = language
        }
        return .redirect(to: SafeRedirect.target(context.form?["return_to"]), type: .normal)
    }
}
