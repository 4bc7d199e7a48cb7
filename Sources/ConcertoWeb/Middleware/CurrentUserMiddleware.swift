import ConcertoCore
import ConcertoStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdAuth

/// Puts the logged-in user (if any) and the interface language on the context, and
/// enforces the session's idle and absolute lifetimes.
///
/// The session keeps a snapshot of the user, re-read from the database whenever activity
/// is recorded (at most once per `activityResolution`, a minute by default): a page then
/// costs the session lookup and its own queries, and a change to an account (role,
/// removal) reaches its open sessions within that minute.
struct CurrentUserMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let users: UserStore
    let lifetime: SessionLifetimePolicy

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let session = context.sessions.session
        if let session, let userID = session.userID {
            let now = Date()
            let verdict = lifetime.check(
                authenticatedAt: session.authenticatedAt ?? .distantPast,
                lastSeenAt: session.lastSeenAt ?? .distantPast,
                now: now
            )
            switch verdict {
            case .expired:
                downgrade(context.sessions, flash: "flash_session_expired")
            case .valid where session.user?.id == userID:
                context.user = session.user
            case .refreshActivity, .valid:
                if let user = try await users.find(id: userID), !user.isDisabled {
                    context.user = user
                    context.sessions.withLockedSession { data in
                        data?.user = user
                        if verdict == .refreshActivity {
                            data?.lastSeenAt = now
                            data?.expiresIn = lifetime.idleTimeout
                        }
                    }
                } else {
                    // The account was removed or disabled while logged in.
                    downgrade(context.sessions, flash: nil)
                }
            }
        }
        context.language = AppLanguage.negotiate(
            preference: context.user?.locale ?? context.sessions.session?.language,
            acceptLanguage: request.headers[.acceptLanguage]
        )
        return try await next(request, context)
    }

    /// Turns the session back into an anonymous one with a fresh CSRF token.
    private func downgrade(_ sessions: SessionContext<WebSession>, flash: String?) {
        sessions.withLockedSession { data in
            data?.userID = nil
            data?.user = nil
            data?.authenticatedAt = nil
            data?.pendingUserID = nil
            data?.enrolmentSecret = nil
            data?.csrfToken = CSRFToken.generate()
            data?.flash = flash.map { Flash(kind: .info, messageKey: $0) }
        }
    }
}
