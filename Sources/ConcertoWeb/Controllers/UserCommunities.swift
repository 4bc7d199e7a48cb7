import ConcertoCore
import ConcertoStore
import Foundation

/// The user's memberships, loaded once per request: which communities they act in and how.
struct UserCommunities: Sendable {
    let entries: [(community: Community, membership: Membership)]

    static func load(_ store: CommunityStore, user: UUID) async throws -> UserCommunities {
        UserCommunities(entries: try await store.communities(ofUser: user))
    }

    var active: [(community: Community, membership: Membership)] { entries.filter { $0.membership.status == .active } }
    var activeIDs: [UUID] { active.map(\.community.id) }

    func role(in communityID: UUID) -> CommunityRole? {
        active.first { $0.community.id == communityID }?.membership.role
    }

    func isMember(of communityID: UUID) -> Bool { role(in: communityID) != nil }
    func isCoordinator(of communityID: UUID) -> Bool { role(in: communityID) == .coordinator }
    var coordinated: [Community] { active.filter { $0.membership.role == .coordinator }.map(\.community) }
    func ids(withRoles roles: Set<CommunityRole>) -> [UUID] { active.filter { roles.contains($0.membership.role) }.map(\.community.id) }
}

/// The pages of a community's coordination (indicators, research extract).
enum CoordinatorAccess {
    /// The community named in the route, for its active coordinators. Another member (or a
    /// platform admin) is refused with 403, after `refused` ran (to audit it); anyone else
    /// is told the community does not exist.
    static func community(_ context: AuthenticatedContext, communities: CommunityStore,
                          refused: (UUID) async throws -> Void = { _ in }) async throws -> Community {
        let id = try context.parameters.uuid(.community)
        guard let community = try await communities.find(id: id) else { throw AppError.notFound }
        let membership = try await communities.membership(userID: context.user.id, in: id)
        guard membership != nil || context.user.isAdmin else { throw AppError.notFound }
        guard membership?.role == .coordinator, membership?.status == .active else {
            try await refused(id)
            throw AppError.forbidden
        }
        return community
    }
}
