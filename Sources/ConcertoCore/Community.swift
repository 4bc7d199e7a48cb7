import Foundation

/// A sharing community (communauté de partage) of health structures and professionals.
/// Issue 3 grows this into the full directory; the foundation needs names and membership.
public struct Community: Codable, Sendable, Equatable, Identifiable {
    public var id: UUID
    public var name: String
    public var region: String

    public init(id: UUID = UUID(), name: String, region: String) {
        self.id = id
        self.name = name
        self.region = region
    }
}
