import Foundation

/// A professional Pro Santé Connect vouched for (their RPPS is proven) but who has no
/// account: admins, or coordinators of the communities of the sites they practise at,
/// approve the request with a role, or refuse it.
public struct AccountRequest: Sendable, Equatable, Identifiable {
    public enum Status: String, Sendable, CaseIterable {
        case pending
        case approved
        case refused
    }

    /// Why a request is refused: chosen from a list (the requester is told), never free text.
    public enum Refusal: String, Sendable, CaseIterable {
        /// Not a member of this region's boards.
        case notConcerned = "not_concerned"
        /// Already has an account under another identity: an admin links it instead.
        case existingAccount = "existing_account"
        case other
    }

    public typealias Site = PracticeSite

    public var id: UUID
    public var rpps: RPPSNumber
    public var displayName: String
    public var specialtyCode: String?
    public var contactEmail: String?
    public var status: Status
    public var sites: [Site]
    public var createdAt: Date
    public var lastAttemptAt: Date
    public var refusal: Refusal?
    /// The account made on approval.
    public var userID: UUID?

    public init(id: UUID = UUID(), rpps: RPPSNumber, displayName: String, specialtyCode: String?, contactEmail: String? = nil,
                status: Status = .pending, sites: [Site], createdAt: Date, lastAttemptAt: Date, refusal: Refusal? = nil, userID: UUID? = nil) {
        self.id = id
        self.rpps = rpps
        self.displayName = displayName
        self.specialtyCode = specialtyCode
        self.contactEmail = contactEmail
        self.status = status
        self.sites = sites
        self.createdAt = createdAt
        self.lastAttemptAt = lastAttemptAt
        self.refusal = refusal
        self.userID = userID
    }
}

/// A site where a professional practises, as the national directory lists it (PSC's
/// `numeroFinessSite` and `raisonSocialeSite`).
public struct PracticeSite: Sendable, Equatable, Codable {
    public var finess: String
    public var name: String

    public init(finess: String, name: String) {
        self.finess = finess
        self.name = name
    }
}

/// How a session was opened, as the audit trail records it.
public enum AuthenticationMethod: String, Codable, Sendable {
    case password
    case passwordAndTOTP = "password+totp"
    case proSanteConnect = "psc"

    /// The login event's `reason`: `password`, `password+totp`, `psc:eidas1`.
    public func auditReason(acr: String? = nil) -> String {
        switch self {
        case .proSanteConnect: "psc:" + (acr ?? "")
        default: rawValue
        }
    }

    /// PSC's `eidas1` is a strong authentication (CPS card, e-CPS): it stands for the
    /// second factor the password login asks of admins and coordinators.
    public var isStrong: Bool { self != .password }
}

extension User {
    /// Who decides the account requests of unknown professionals: platform administrators
    /// and coordinators.
    public var mayDecideAccountRequests: Bool { isPlatformAdmin || role == .coordinator }

    /// Platform roles a decider may give: a coordinator cannot make coordinators.
    public var grantableRoles: [ProfessionalRole] {
        isPlatformAdmin ? [.physician, .secretary, .coordinator] : [.physician, .secretary]
    }
}
