import Foundation

/// What happened, as recorded in the audit trail.
public enum AuditAction: String, Sendable, Codable, CaseIterable {
    case loginSucceeded = "login.success"
    case loginFailed = "login.failure"
    case logout
    case patientRead = "patient.read"
    /// A list showing several patients' identities (community list, duplicate check).
    case patientList = "patient.list"
    case patientCreate = "patient.create"
    case patientUpdate = "patient.update"
    case patientMerge = "patient.merge"
    /// The identity desk recorded the identity document checked (VALI).
    case identityValidate = "patient.identity_validate"
    /// The identity desk verified the INS with the national service (QUAL), or tried.
    case identityQualify = "patient.identity_qualify"
    case patientLocalID = "patient.local_id"
    case careLinkAdd = "care.add"
    case careLinkEnd = "care.end"
    case oppositionRecord = "opposition.record"
    case oppositionWithdraw = "opposition.withdraw"
    case emergencyAccessGrant = "emergency_access.grant"
    case accessReport = "patient.access_report"
    case communityCreate = "community.create"
    /// The fiche header's national identifiers of a community or a series (network, board, manager).
    case communityRegistration = "community.registration"
    /// An organisation's postal address.
    case organisationAddress = "organisation.address"
    case communityOrganisationAdd = "community.organisation.add"
    case memberInvite = "community.member.invite"
    case memberAccept = "community.member.accept"
    case memberApprove = "community.member.approve"
    case memberSuspend = "community.member.suspend"
    case organisationCreate = "organisation.create"
    /// A platform admin trusted an organisation for identities, or stopped trusting it.
    case organisationIdentityTrust = "organisation.identity_trust"
    case professionalCreate = "professional.create"
    case passwordChange = "account.password_change"
    /// A platform admin disabled an account (its sessions ended) or enabled it again.
    case accountDisable = "account.disable"
    case accountEnable = "account.enable"
    /// Pro Santé Connect vouched for a professional without an account: a request was filed;
    /// an admin or coordinator approved it (the account was opened) or refused it.
    case accountRequest = "account.request"
    case accountRequestApprove = "account.request_approve"
    case accountRequestRefuse = "account.request_refuse"
    /// A community started or stopped requiring Pro Santé Connect of its physicians.
    case communityPSCRequirement = "community.psc_requirement"
    /// `concerto user reset-password` issued a one-time link; the link was used.
    case passwordResetIssue = "account.password_reset_issue"
    case passwordReset = "account.password_reset"
    case auditRead = "audit.read"
    case caseRead = "case.read"
    case caseCreate = "case.create"
    case caseUpdate = "case.update"
    case caseRegister = "case.register"
    case caseWithdraw = "case.withdraw"
    case caseDecision = "case.decision"
    case caseValidate = "case.validate"
    case caseSendBack = "case.send_back"
    /// The referring physician recorded what became of a validated decision.
    case caseFollowUp = "case.follow_up"
    case caseSearch = "case.search"
    case seriesCreate = "meeting_series.create"
    case meetingCreate = "meeting.create"
    case meetingMove = "meeting.move"
    case meetingCancel = "meeting.cancel"
    case meetingChair = "meeting.chair"
    case meetingAgendaReorder = "meeting.agenda.reorder"
    case meetingAttendance = "meeting.attendance"
    /// The chair designated who types the decision during the séance.
    case meetingRecorder = "meeting.recorder"
    case documentImport = "document.import"
    case documentRead = "document.read"
    case documentDownload = "document.download"
    /// A physician confirmed which fiche RCP a personalised care plan carries out.
    case documentCarePlanLink = "document.care_plan_link"
    case apiTokenCreate = "api_token.create"
    case caseExport = "case.export"
    case activityExport = "community.activity_export"
    /// A coordinator downloaded the 3C's indicators (CSV or annual report).
    case indicatorsExport = "community.indicators_export"
    /// A coordinator exported the pseudonymised research extract (or was refused it).
    case researchExtract = "community.research_extract"
    case minutesExport = "meeting.minutes_export"
    case imagingSearch = "imaging.search"
    case imagingAttach = "imaging.attach"
    case imagingDetach = "imaging.detach"
    case imagingView = "imaging.view"
    case imagingViewer = "imaging.viewer"
    /// The chain was bound to its key (the first keyed link of a migrated trail).
    case auditKeyBound = "audit.key_bound"
}

public enum AuditOutcome: String, Sendable, Codable, CaseIterable {
    case allowed
    case denied
    case success
    case failure
}

/// One event to append; the log gives it its sequence number, time and hashes.
public struct AuditDraft: Sendable, Equatable {
    public var actorID: UUID?
    public var organisationID: UUID?
    public var action: AuditAction
    public var resourceType: String
    public var resourceID: String?
    public var patientID: UUID?
    public var mode: AccessMode
    public var outcome: AuditOutcome
    /// A code (`AccessReason` raw value or similar), never free text typed by someone,
    /// except the break-the-glass justification which is evidence by design.
    public var reason: String?
    public var clientAddress: String?
    public var requestID: String?

    public init(
        actorID: UUID?, organisationID: UUID? = nil, action: AuditAction, resourceType: String, resourceID: String? = nil,
        patientID: UUID? = nil, mode: AccessMode = .normal, outcome: AuditOutcome, reason: String? = nil,
        clientAddress: String? = nil, requestID: String? = nil
    ) {
        self.actorID = actorID
        self.organisationID = organisationID
        self.action = action
        self.resourceType = resourceType
        self.resourceID = resourceID
        self.patientID = patientID
        self.mode = mode
        self.outcome = outcome
        self.reason = reason
        self.clientAddress = clientAddress
        self.requestID = requestID
    }
}

/// A recorded event: the draft, its place in the chain and when it happened.
public struct AuditEvent: Sendable, Equatable {
    public var sequence: Int64
    /// ISO 8601 UTC with milliseconds, hashed exactly as stored.
    public var recordedAt: String
    public var actorID: String?
    public var organisationID: String?
    public var action: String
    public var resourceType: String
    public var resourceID: String?
    public var patientID: String?
    public var mode: String
    public var outcome: String
    public var reason: String?
    public var clientAddress: String?
    public var requestID: String?
    public var previousHash: String
    public var hash: String

    public init(
        sequence: Int64, recordedAt: String, actorID: String?, organisationID: String?, action: String,
        resourceType: String, resourceID: String?, patientID: String?, mode: String, outcome: String,
        reason: String?, clientAddress: String?, requestID: String?, previousHash: String, hash: String
    ) {
        self.sequence = sequence
        self.recordedAt = recordedAt
        self.actorID = actorID
        self.organisationID = organisationID
        self.action = action
        self.resourceType = resourceType
        self.resourceID = resourceID
        self.patientID = patientID
        self.mode = mode
        self.outcome = outcome
        self.reason = reason
        self.clientAddress = clientAddress
        self.requestID = requestID
        self.previousHash = previousHash
        self.hash = hash
    }

    /// The first event's previous hash.
    public static let genesisHash = String(repeating: "0", count: 64)

    /// The bytes hashed for this event: every field, each length-prefixed so that no
    /// two different events encode alike ("ab"+"c" vs "a"+"bc"), absent fields marked
    /// distinctly from empty ones, preceded by the previous hash. Keyed links (HMAC)
    /// encode under another label than the plain SHA-256 links of older events.
    public func canonicalEncoding(keyed: Bool) -> [UInt8] {
        var writer = CanonicalWriter()
        for field in [keyed ? "concerto-audit-v2" : "concerto-audit-v1", previousHash, String(sequence), recordedAt, actorID, organisationID,
                      action, resourceType, resourceID, patientID, mode, outcome, reason, clientAddress, requestID] {
            writer.append(field)
        }
        return writer.bytes
    }

    /// Length-prefixed fields ("3:abc"), "-" for an absent one: the encoding hashed for
    /// events and for sequenced batches.
    public struct CanonicalWriter: Sendable {
        public private(set) var bytes: [UInt8] = []

        public init() {
            bytes.reserveCapacity(512)
        }

        public mutating func append(_ value: String?) {
            guard let value else {
                bytes.append(0x2D) // "-"
                return
            }
            let utf8 = value.utf8
            bytes.append(contentsOf: String(utf8.count).utf8)
            bytes.append(0x3A) // ":"
            bytes.append(contentsOf: utf8)
        }
    }
}
