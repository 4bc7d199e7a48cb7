import ConcertoCore
import ConcertoStore
import Foundation

/// The meeting a URL names (`{meeting}`), loaded once with the user's role in its
/// community: what the meeting, séance and live controllers each start from.
struct MeetingAccess: Sendable {
    let meetings: MeetingStore

    struct Loaded: Sendable {
        let meeting: MeetingRecord
        let role: CommunityRole
        var isCoordinator: Bool { role == .coordinator }
    }

    /// The meeting if the user is an active member of its community; 404 otherwise.
    func load(_ context: AuthenticatedContext) async throws -> Loaded {
        let id = try context.parameters.uuid(.meeting)
        guard let (meeting, role) = try await meetings.find(id: id, member: context.user.id) else { throw AppError.notFound }
        return Loaded(meeting: meeting, role: role)
    }

    func loadCoordinated(_ context: AuthenticatedContext) async throws -> Loaded {
        let loaded = try await load(context)
        guard loaded.isCoordinator else { throw AppError.forbidden }
        return loaded
    }
}
