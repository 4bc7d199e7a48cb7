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
    /// Street line (number and street) and postal code; with `city`, the postal address the
    /// fiche RCP's header gives for the structure that manages a board.
    public var street: String?
    public var postalCode: String?
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

    public var postalAddress: PostalAddress? {
        guard let street, let postalCode else { return nil }
        return PostalAddress(street: street, postalCode: postalCode, city: city)
    }
}

/// A postal address as the fiche RCP's header gives it.
public struct PostalAddress: Sendable, Equatable, Codable {
    public var street: String
    public var postalCode: String
    public var city: String

    public init(street: String, postalCode: String, city: String) {
        self.street = street
        self.postalCode = postalCode
        self.city = city
    }

    /// French postal codes: five digits.
    public static func isValidPostalCode(_ text: String) -> Bool {
        text.count == 5 && text.allSatisfy { $0.isASCII && $0.isNumber }
    }
}

/// What a community and its boards record for the fiche RCP's header (CI-SIS FRCP,
/// `componentOf`): the regional cancer network (RRC) with its national id, and for each
/// board (a meeting series; the community's values for meetings outside a series) its
/// national id in the regional RCP directory and the structure that manages it.
public struct BoardRegistration: Sendable, Equatable {
    public var networkName: String?
    public var networkID: String?
    public var boardID: String?
    public var managerID: UUID?

    public init(networkName: String? = nil, networkID: String? = nil, boardID: String? = nil, managerID: UUID? = nil) {
        self.networkName = networkName
        self.networkID = networkID
        self.boardID = boardID
        self.managerID = managerID
    }

    /// What is missing before a fiche can be validated, in the order a form asks for it.
    public enum Missing: String, Sendable, CaseIterable, Equatable {
        case networkName = "network_name"
        case networkID = "network_id"
        case boardID = "board_id"
        case manager
        /// The managing structure has no postal address.
        case managerAddress = "manager_address"
    }

    public func missing(manager: Organisation?) -> [Missing] {
        var missing: [Missing] = []
        if networkName == nil { missing.append(.networkName) }
        if networkID == nil { missing.append(.networkID) }
        if boardID == nil { missing.append(.boardID) }
        if managerID == nil || manager == nil {
            missing.append(.manager)
        } else if manager?.postalAddress == nil {
            missing.append(.managerAddress)
        }
        return missing
    }

    /// National directory identifiers: 1 to 30 letters, digits, '.', '-' or '_'.
    public static func isValidIdentifier(_ text: String) -> Bool {
        (1...30).contains(text.count) && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_") }
    }
}
