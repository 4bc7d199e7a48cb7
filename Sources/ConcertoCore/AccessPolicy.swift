import Foundation

/// What a request wants to do with a patient's data.
public enum AccessAction: String, Sendable, CaseIterable {
    /// Identity and scheduling: who the patient is, which boards hold their cases.
    case readAdministrative
    /// Clinical content: cases, reports, images, care team, decisions.
    case readClinical
    /// Changing clinical content.
    case writeClinical
    /// Recording administrative facts: local ids, the patient's oppositions.
    case writeAdministrative
    /// Declaring a care relationship (self-attested by a physician, traced).
    case declareCare
    /// Reading who accessed the patient's data.
    case readAuditTrail
}

/// How an access was obtained, as recorded in the audit trail.
public enum AccessMode: String, Sendable, Codable, CaseIterable {
    case normal
    case breakTheGlass = "bris_de_glace"
}

/// A care relationship (équipe de soins) between a professional or a whole organisation
/// and a patient, valid from `start` to `end` (open-ended when nil).
public struct CareLink: Sendable, Equatable {
    public enum Party: Sendable, Equatable {
        case professional(UUID)
        case organisation(UUID)
    }
    public var party: Party
    public var start: Date
    public var end: Date?

    public init(party: Party, start: Date, end: Date? = nil) {
        self.party = party
        self.start = start
        self.end = end
    }

    public func isActive(at now: Date) -> Bool { start <= now && (end.map { now < $0 } ?? true) }
}

/// A patient's opposition to sharing with a community or an organisation, active from
/// `recordedAt` until withdrawn.
public struct OppositionScope: Sendable, Equatable {
    public enum Target: Sendable, Equatable {
        case community(UUID)
        case organisation(UUID)
    }
    public var target: Target
    public var recordedAt: Date
    public var withdrawnAt: Date?

    public init(target: Target, recordedAt: Date, withdrawnAt: Date? = nil) {
        self.target = target
        self.recordedAt = recordedAt
        self.withdrawnAt = withdrawnAt
    }

    public func isActive(at now: Date) -> Bool { recordedAt <= now && (withdrawnAt.map { now < $0 } ?? true) }
}

/// The user is a registered participant of a meeting, in `communityID`, where a case of
/// the patient is on the agenda.
public struct MeetingParticipation: Sendable, Equatable {
    public var communityID: UUID
    public var startsAt: Date
    public var endsAt: Date

    public init(communityID: UUID, startsAt: Date, endsAt: Date) {
        self.communityID = communityID
        self.startsAt = startsAt
        self.endsAt = endsAt
    }
}

/// A break-the-glass grant on one patient, until `expiresAt`.
public struct EmergencyGrant: Sendable, Equatable {
    public var grantedAt: Date
    public var expiresAt: Date
    /// Granted over an active opposition, after the second confirmation.
    public var overridesOpposition: Bool

    public init(grantedAt: Date, expiresAt: Date, overridesOpposition: Bool = false) {
        self.grantedAt = grantedAt
        self.expiresAt = expiresAt
        self.overridesOpposition = overridesOpposition
    }

    public func isActive(at now: Date) -> Bool { grantedAt <= now && now < expiresAt }
}

/// Everything the policy needs to know about one user and one patient, loaded in one go
/// by the store. Kept free of I/O so the rule can be tested exhaustively.
public struct AccessFacts: Sendable, Equatable {
    public var userID: UUID
    public var isPlatformAdmin: Bool
    /// The user's profession is physician, with a valid RPPS number: only then does the
    /// community role *physician* count (writing clinical data, declaring care) and may
    /// break-the-glass be used.
    public var isPhysician: Bool
    public var organisationID: UUID?
    /// The user's memberships (any status); only those in `caseCommunities` count.
    public var memberships: [UUID: (role: CommunityRole, status: MembershipStatus)]
    /// Communities holding at least one case of the patient.
    public var caseCommunities: Set<UUID>
    /// The patient's care relationships (the user's own, or their organisation's, count).
    public var careLinks: [CareLink]
    public var oppositions: [OppositionScope]
    public var meetings: [MeetingParticipation]
    public var grants: [EmergencyGrant]

    public init(
        userID: UUID, isPlatformAdmin: Bool = false, isPhysician: Bool = false, organisationID: UUID? = nil,
        memberships: [UUID: (role: CommunityRole, status: MembershipStatus)] = [:], caseCommunities: Set<UUID> = [],
        careLinks: [CareLink] = [], oppositions: [OppositionScope] = [], meetings: [MeetingParticipation] = [],
        grants: [EmergencyGrant] = []
    ) {
        self.userID = userID
        self.isPlatformAdmin = isPlatformAdmin
        self.isPhysician = isPhysician
        self.organisationID = organisationID
        self.memberships = memberships
        self.caseCommunities = caseCommunities
        self.careLinks = careLinks
        self.oppositions = oppositions
        self.meetings = meetings
        self.grants = grants
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.userID == rhs.userID && lhs.isPlatformAdmin == rhs.isPlatformAdmin && lhs.isPhysician == rhs.isPhysician
            && lhs.organisationID == rhs.organisationID
            && lhs.memberships.mapValues { "\($0.role.rawValue)/\($0.status.rawValue)" }
                == rhs.memberships.mapValues { "\($0.role.rawValue)/\($0.status.rawValue)" }
            && lhs.caseCommunities == rhs.caseCommunities && lhs.careLinks == rhs.careLinks
            && lhs.oppositions == rhs.oppositions && lhs.meetings == rhs.meetings && lhs.grants == rhs.grants
    }
}

/// Why access was given or refused; each has a French sentence on the page and a code in the audit.
public enum AccessReason: String, Sendable, CaseIterable {
    // Allowed
    case communityMember = "community_member"
    case communityPhysician = "community_physician"
    case communityCoordinator = "community_coordinator"
    case platformAdministration = "platform_administration"
    case careTeam = "care_team"
    case meetingParticipant = "meeting_participant"
    case breakTheGlass = "break_the_glass"
    case breakTheGlassOverOpposition = "break_the_glass_over_opposition"
    // Refused
    case notInCommunity = "not_in_community"
    case opposition
    case outsideCareScope = "outside_care_scope"
    case physicianRoleRequired = "physician_role_required"
    case readOnlyRole = "read_only_role"
    case coordinatorRoleRequired = "coordinator_role_required"
}

public struct AccessDecision: Sendable, Equatable {
    public var allowed: Bool
    public var reason: AccessReason
    public var mode: AccessMode
    /// The community through which access is given (for writes, the one the case belongs to).
    public var communityID: UUID?

    public static func allow(_ reason: AccessReason, mode: AccessMode = .normal, via community: UUID? = nil) -> Self {
        .init(allowed: true, reason: reason, mode: mode, communityID: community)
    }

    public static func deny(_ reason: AccessReason) -> Self {
        .init(allowed: false, reason: reason, mode: .normal, communityID: nil)
    }

    /// A refusal that must look like "no such patient" so existence is not revealed.
    public var hidesExistence: Bool { !allowed && reason == .notInCommunity }
    /// A refusal that break-the-glass could lift.
    public var breakTheGlassMayHelp: Bool { !allowed && reason == .outsideCareScope }
}

/// The care-scope and consent rule (docs/security.md):
///
/// A user may read a patient's clinical data only if they belong (active membership) to a
/// community holding a case of that patient, AND no active opposition of the patient covers
/// that community or the user's organisation, AND (they are in the patient's care team, as
/// a person or through their organisation; OR they are a registered participant of a meeting
/// of that community where the case is on the agenda, during the meeting's window; OR they
/// hold an active break-the-glass grant). Administrative data (identity, scheduling) needs
/// only the membership; platform admins see it for every patient. Writes also need the
/// physician role in the community. A break-the-glass grant lifts an opposition only when
/// the configuration allows it and the grant was confirmed as doing so.
public struct AccessPolicy: Sendable {
    /// Participants may prepare the board before it starts and finish the minutes after.
    public var meetingLeadTime: Duration
    public var meetingTrailTime: Duration
    public var breakTheGlassMayOverrideOpposition: Bool

    public init(
        meetingLeadTime: Duration = .seconds(24 * 3600), meetingTrailTime: Duration = .seconds(24 * 3600),
        breakTheGlassMayOverrideOpposition: Bool = false
    ) {
        self.meetingLeadTime = meetingLeadTime
        self.meetingTrailTime = meetingTrailTime
        self.breakTheGlassMayOverrideOpposition = breakTheGlassMayOverrideOpposition
    }

    /// Decides `action` on the patient described by `facts` at `now`; `community`
    /// restricts the decision to one community (the case's, for writes).
    public func decide(_ action: AccessAction, _ facts: AccessFacts, community: UUID? = nil, at now: Date) -> AccessDecision {
        var reachable = facts.caseCommunities.filter { facts.memberships[$0]?.status == .active }
        if let community { reachable = reachable.filter { $0 == community } }
        let sorted = reachable.sorted { $0.storageKey < $1.storageKey }
        guard !sorted.isEmpty else {
            if facts.isPlatformAdmin, action == .readAdministrative || action == .readAuditTrail { return .allow(.platformAdministration) }
            return .deny(.notInCommunity)
        }
        func role(_ community: UUID) -> CommunityRole? { facts.memberships[community]?.role }
        // A role follows a profession: the community's physician role counts for a physician only.
        func actsAsPhysician(_ community: UUID) -> Bool { role(community) == .physician && facts.isPhysician }
        switch action {
        case .readAdministrative:
            return .allow(.communityMember, via: sorted[0])
        case .writeAdministrative:
            guard let community = sorted.first(where: { role($0) != .observer }) else { return .deny(.readOnlyRole) }
            return .allow(.communityMember, via: community)
        case .declareCare:
            guard let community = sorted.first(where: actsAsPhysician) else { return .deny(.physicianRoleRequired) }
            return .allow(.communityPhysician, via: community)
        case .readAuditTrail:
            if facts.isPlatformAdmin { return .allow(.platformAdministration) }
            guard let community = sorted.first(where: { role($0) == .coordinator }) else { return .deny(.coordinatorRoleRequired) }
            return .allow(.communityCoordinator, via: community)
        case .readClinical, .writeClinical:
            break
        }

        let candidates = action == .writeClinical ? sorted.filter(actsAsPhysician) : sorted
        guard !candidates.isEmpty else { return .deny(.physicianRoleRequired) }

        let open = candidates.filter { !isOpposed(via: $0, facts, at: now) }
        // Break-the-glass is a physician's act: a grant held by anyone else opens nothing.
        let grant = facts.isPhysician ? facts.grants.first { $0.isActive(at: now) } : nil
        guard let through = open.first else {
            if breakTheGlassMayOverrideOpposition, let grant, grant.overridesOpposition {
                return .allow(.breakTheGlassOverOpposition, mode: .breakTheGlass, via: candidates[0])
            }
            return .deny(.opposition)
        }
        if isInCareTeam(facts, at: now) { return .allow(.careTeam, via: through) }
        if let meeting = open.first(where: { isInMeetingWindow(via: $0, facts, at: now) }) {
            return .allow(.meetingParticipant, via: meeting)
        }
        if grant != nil { return .allow(.breakTheGlass, mode: .breakTheGlass, via: through) }
        return .deny(.outsideCareScope)
    }

    /// True when an active opposition covers access through `community` for this user.
    public func isOpposed(via community: UUID, _ facts: AccessFacts, at now: Date) -> Bool {
        facts.oppositions.contains { opposition in
            guard opposition.isActive(at: now) else { return false }
            switch opposition.target {
            case .community(let id): return id == community
            case .organisation(let id): return id == facts.organisationID
            }
        }
    }

    public func isInCareTeam(_ facts: AccessFacts, at now: Date) -> Bool {
        facts.careLinks.contains { link in
            guard link.isActive(at: now) else { return false }
            switch link.party {
            case .professional(let id): return id == facts.userID
            case .organisation(let id): return id == facts.organisationID
            }
        }
    }

    func isInMeetingWindow(via community: UUID, _ facts: AccessFacts, at now: Date) -> Bool {
        facts.meetings.contains { meeting in
            meeting.communityID == community
                && meeting.startsAt.addingTimeInterval(-meetingLeadTime.seconds) <= now
                && now < meeting.endsAt.addingTimeInterval(meetingTrailTime.seconds)
        }
    }
}

/// Who may lift a patient's opposition: a physician of the patient's care team, or a
/// coordinator of a community holding the patient that the patient did not oppose; never
/// the community the opposition shuts out on its own say-so.
public enum OppositionRules {
    public static func mayLift(_ opposition: OppositionScope, _ facts: AccessFacts, policy: AccessPolicy, at now: Date) -> Bool {
        if facts.isPhysician, policy.isInCareTeam(facts, at: now) { return true }
        let opposedCommunities = Set(facts.oppositions.filter { $0.isActive(at: now) }.compactMap { opposition -> UUID? in
            if case .community(let id) = opposition.target { id } else { nil }
        })
        return facts.caseCommunities.contains { community in
            facts.memberships[community]?.status == .active && facts.memberships[community]?.role == .coordinator
                && !opposedCommunities.contains(community)
        }
    }
}

/// The rules of a break-the-glass request, checked before any grant is written.
public struct EmergencyAccessRules: Sendable {
    public enum ReasonCode: String, Sendable, CaseIterable {
        case lifeThreatening = "urgence_vitale"
        case continuityOfCare = "continuite_soins"
        case imminentBoard = "rcp_imminente"
        case other = "autre"
    }

    public enum Problem: Error, Equatable, Sendable {
        case justificationTooShort
        case reasonCodeMissing
        case oppositionCannotBeOverridden
        case confirmationRequired
        /// The user already has access: nothing to break.
        case notNeeded
        /// Only physicians (with an RPPS number) may break the glass.
        case physicianOnly
    }

    public var duration: Duration
    public var minimumJustificationLength = 20

    public init(duration: Duration = .seconds(4 * 3600)) {
        self.duration = duration
    }

    /// Checks a request against the current decision for clinical reading; returns the
    /// grant to record (with whether it lifts an opposition) or the problem to show.
    public func grant(
        justification: String, reasonCode: String?, confirmedOverride: Bool,
        current: AccessDecision, requesterIsPhysician: Bool, policy: AccessPolicy, at now: Date
    ) -> Result<EmergencyGrant, Problem> {
        if current.allowed { return .failure(.notNeeded) }
        guard requesterIsPhysician else { return .failure(.physicianOnly) }
        guard justification.trimmingCharacters(in: .whitespacesAndNewlines).count >= minimumJustificationLength else {
            return .failure(.justificationTooShort)
        }
        guard let reasonCode, ReasonCode(rawValue: reasonCode) != nil else { return .failure(.reasonCodeMissing) }
        var overrides = false
        switch current.reason {
        case .opposition:
            guard policy.breakTheGlassMayOverrideOpposition else { return .failure(.oppositionCannotBeOverridden) }
            guard confirmedOverride else { return .failure(.confirmationRequired) }
            overrides = true
        case .outsideCareScope:
            break
        default:
            // Not a member, or not a physician for a write: break-the-glass does not apply.
            return .failure(.notNeeded)
        }
        return .success(EmergencyGrant(grantedAt: now, expiresAt: now.addingTimeInterval(duration.seconds), overridesOpposition: overrides))
    }
}
