import ConcertoCore
import ConcertoStore
import Foundation
import Hummingbird
import HummingbirdAuth

/// Reads who is logged in from the request's session cookie, with the checks the session
/// middlewares make (lifetimes, account still active, second factor), without changing the
/// session: for routes outside the session middleware chain.
///
/// The live séance's event stream is one: its connection lives as long as the follower,
/// and a task keeps the memory of the deepest call it made; the middleware chain would make
/// each follower cost twice what it does (docs/benchmarks.md, memory per follower).
struct SessionReader: Sendable {
    let storage: SessionStorage<WebSession>
    let users: UserStore
    let lifetime: SessionLifetimePolicy
    let secondFactor: SecondFactorRequirement

    func authenticatedUser(_ request: Request, at now: Date = Date()) async throws -> User? {
        guard let session = try await storage.load(request: request), let userID = session.userID else { return nil }
        let verdict = lifetime.check(authenticatedAt: session.authenticatedAt ?? .distantPast, lastSeenAt: session.lastSeenAt ?? .distantPast, now: now)
        guard verdict != .expired, let user = try await users.find(id: userID), !user.isDisabled else { return nil }
        // A Pro Santé Connect login counts as the second factor (SecondFactorMiddleware).
        if !(session.authMethod?.isStrong ?? false), secondFactor.mustEnrol(user) { return nil }
        return user
    }
}
