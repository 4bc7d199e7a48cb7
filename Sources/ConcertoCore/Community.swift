import Foundation

/// What a sharing community gathers around.
public enum CommunityKind: String, Codable, Sendable, CaseIterable {
    case organBased = "organ"
    case transversal
    case recours
    case rareCancers = "rare"
    case paediatric
}

/// A sharing community (communauté de partage) of health structures and professionals.
public struct Community: Codable, Sendable, Equatable, Identifiable {
    public var id: UUID
    public var name: String
    public var region: String
    public var kind: CommunityKind

    public init(id: UUID = UUID(), name: String, region: String, kind: CommunityKind = .transversal) {
        self.id = id
        self.name = name
        self.region = region
        self.kind = kind
    }
}

/// A member's role inside one community (not the platform role of the account).
public enum CommunityRole: String, Codable, Sendable, CaseIterable {
    case coordinator
    case physician
    case secretary
    case observer
}

/// Where a membership stands: invited by a community admin, active, or suspended.
public enum MembershipStatus: String, Codable, Sendable, CaseIterable {
    case invited
    case active
    case suspended
}

public struct Membership: Codable, Sendable, Equatable {
    public var communityID: UUID
    public var userID: UUID
    public var role: CommunityRole
    public var status: MembershipStatus

    public init(communityID: UUID, userID: UUID, role: CommunityRole, status: MembershipStatus) {
        self.communityID = communityID
        self.userID = userID
        self.role = role
        self.status = status
    }

    /// Coordinators run their community: membership, audit, emergency-access review.
    public var administersCommunity: Bool { status == .active && role == .coordinator }
}

/// A health structure (établissement) identified by its FINESS number.
public struct Organisation: Codable, Sendable, Equatable, Identifiable {
    public var id: UUID
    public var name: String
    public var finess: String
    public var city: String
    /// Its identity desk verifies INS with the national service: a document its system
    /// posts qualifies the identity it names when INS and traits agree.
    public var trustedForIdentities: Bool

    public init(id: UUID = UUID(), name: String, finess: FINESSNumber, city: String, trustedForIdentities: Bool = false) {
        self.id = id
        self.name = name
        self.finess = finess.value
        self.city = city
        self.trustedForIdentities = trustedForIdentities
    }
}
