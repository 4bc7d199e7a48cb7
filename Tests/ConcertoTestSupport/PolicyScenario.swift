import ConcertoCore
import Foundation

/// One combination of the facts the access policy reads, for one user, one patient and
/// one community, with the decision the rule in docs/security.md gives for it, stated
/// independently of `AccessPolicy` so the matrix tests can catch a wrong implementation.
public struct PolicyScenario: Sendable, CustomStringConvertible {
    public enum Membership: CaseIterable, Sendable { case none, coordinator, physician, secretary, observer, invited, suspended }
    public enum Care: CaseIterable, Sendable { case none, professional, organisation, ended, notYetStarted }
    public enum Opposition: CaseIterable, Sendable { case none, thisCommunity, userOrganisation, otherCommunity, withdrawn }
    public enum Meeting: CaseIterable, Sendable { case none, inWindow, past, otherCommunity }
    public enum Grant: CaseIterable, Sendable { case none, active, expired, activeOverridingOpposition }
    /// The account's profession: a physician with a valid RPPS number, or anything else
    /// (a secretary, a coordinator, a physician's account without RPPS).
    public enum Profession: CaseIterable, Sendable { case physician, other }

    public var membership: Membership
    public var care: Care
    public var opposition: Opposition
    public var meeting: Meeting
    public var grant: Grant
    public var platformAdmin: Bool
    public var overrideAllowed: Bool
    public var profession: Profession

    public init(membership: Membership, care: Care, opposition: Opposition, meeting: Meeting, grant: Grant, platformAdmin: Bool, overrideAllowed: Bool,
                profession: Profession = .physician) {
        self.membership = membership
        self.care = care
        self.opposition = opposition
        self.meeting = meeting
        self.grant = grant
        self.platformAdmin = platformAdmin
        self.overrideAllowed = overrideAllowed
        self.profession = profession
    }

    public var description: String {
        "\(membership)/\(profession)/care:\(care)/opposition:\(opposition)/meeting:\(meeting)/grant:\(grant)\(platformAdmin ? "/admin" : "")\(overrideAllowed ? "/override-allowed" : "")"
    }

    public var role: CommunityRole? {
        switch membership {
        case .coordinator: .coordinator
        case .physician, .invited, .suspended: .physician
        case .secretary: .secretary
        case .observer: .observer
        case .none: nil
        }
    }

    public struct Expected: Equatable, Sendable, CustomStringConvertible {
        public var allowed: Bool
        public var reason: AccessReason
        public var mode: AccessMode
        public var description: String { "\(allowed ? "allow" : "deny") \(reason.rawValue) \(mode.rawValue)" }
    }

    /// The rule, written out plainly.
    public func expected(_ action: AccessAction) -> Expected {
        func allow(_ reason: AccessReason, _ mode: AccessMode = .normal) -> Expected { Expected(allowed: true, reason: reason, mode: mode) }
        func deny(_ reason: AccessReason) -> Expected { Expected(allowed: false, reason: reason, mode: .normal) }
        let activeMember = [.coordinator, .physician, .secretary, .observer].contains(membership)
        // The community's physician role counts for a physician by profession only; so does a grant.
        let sitsAsPhysician = role == .physician && profession == .physician
        let grantCounts = profession == .physician
        guard activeMember else {
            if platformAdmin, action == .readAdministrative || action == .readAuditTrail { return allow(.platformAdministration) }
            return deny(.notInCommunity)
        }
        switch action {
        case .readAdministrative: return allow(.communityMember)
        case .writeAdministrative: return role == .observer ? deny(.readOnlyRole) : allow(.communityMember)
        case .declareCare: return sitsAsPhysician ? allow(.communityPhysician) : deny(.physicianRoleRequired)
        case .readAuditTrail:
            if platformAdmin { return allow(.platformAdministration) }
            return role == .coordinator ? allow(.communityCoordinator) : deny(.coordinatorRoleRequired)
        case .readClinical, .writeClinical:
            if action == .writeClinical, !sitsAsPhysician { return deny(.physicianRoleRequired) }
            if opposition == .thisCommunity || opposition == .userOrganisation {
                return overrideAllowed && grantCounts && grant == .activeOverridingOpposition ? allow(.breakTheGlassOverOpposition, .breakTheGlass) : deny(.opposition)
            }
            if care == .professional || care == .organisation { return allow(.careTeam) }
            if meeting == .inWindow { return allow(.meetingParticipant) }
            if grantCounts, grant == .active || grant == .activeOverridingOpposition { return allow(.breakTheGlass, .breakTheGlass) }
            return deny(.outsideCareScope)
        }
    }

    public static var all: [PolicyScenario] {
        var scenarios: [PolicyScenario] = []
        for membership in Membership.allCases {
            for care in Care.allCases {
                for opposition in Opposition.allCases {
                    for meeting in Meeting.allCases {
                        for grant in Grant.allCases {
                            for platformAdmin in [false, true] {
                                for overrideAllowed in [false, true] {
                                    for profession in Profession.allCases {
                                        scenarios.append(.init(membership: membership, care: care, opposition: opposition, meeting: meeting,
                                                               grant: grant, platformAdmin: platformAdmin, overrideAllowed: overrideAllowed, profession: profession))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return scenarios
    }

    /// The times the scenario's facts use, relative to `now`.
    public static func window(_ now: Date) -> (pastStart: Date, futureEnd: Date, recent: Date, soon: Date) {
        (now.addingTimeInterval(-30 * 86_400), now.addingTimeInterval(30 * 86_400), now.addingTimeInterval(-3600), now.addingTimeInterval(3600))
    }
}
