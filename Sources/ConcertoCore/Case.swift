import Foundation

/// Where a fiche RCP stands. `toRepresent` sends it back to a later meeting (quorum not met,
/// file incomplete, meeting cancelled).
public enum CaseStatus: String, Sendable, CaseIterable, Codable {
    case draft, registered, discussed, validated
    case toRepresent = "to_represent"

    /// CI-SIS `JDV_StatutCasPresente` code for exports, where one applies.
    public var presentedStatusCode: String? {
        switch self {
        case .registered: "ORG-128"
        case .discussed, .validated: "ORG-134"
        case .draft, .toRepresent: nil
        }
    }
}

public enum PresentationReason: String, Sendable, CaseIterable, Codable {
    case diagnosticOpinion = "diagnostic_opinion"
    case initialTreatment = "initial_treatment"
    case treatmentChange = "treatment_change"
    case relapse
    case followUp = "follow_up"
    case standardRecord = "standard_record"
}

public enum DiscoveryMode: String, Sendable, CaseIterable, Codable {
    case symptoms, screening, incidental, surveillance, other
}

/// The decision's proposal types; where the CI-SIS `JDV_TypeTraitement_FRCP` has a code it
/// is the exported one.
public enum ProposalType: String, Sendable, CaseIterable, Codable {
    case surgery, chemotherapy, radiotherapy, hormoneTherapy = "hormone_therapy", targetedTherapy = "targeted_therapy"
    case immunotherapy, activeSurveillance = "active_surveillance", furtherInvestigations = "further_investigations"
    case supportiveCare = "supportive_care", palliativeCare = "palliative_care", recoursReferral = "recours_referral"

    public var treatmentTypeCode: String? {
        switch self {
        case .surgery: "387713003"
        case .chemotherapy: "C15632"
        case .radiotherapy: "C15313"
        case .hormoneTherapy: "C547"
        case .targetedTherapy: "C93352"
        case .immunotherapy: "C15262"
        case .activeSurveillance: "MED-227"
        case .supportiveCare: "C15747"
        case .palliativeCare: "C15252"
        case .furtherInvestigations, .recoursReferral: nil
        }
    }
}

/// TNM staging as written by the clinician (`T2a`, `N1`, `M0`, `Tx`...), with its edition.
public struct TNM: Sendable, Hashable, Codable {
    public var cT: String?, cN: String?, cM: String?, pT: String?, pN: String?
    public var edition: Int?

    public init(cT: String? = nil, cN: String? = nil, cM: String? = nil, pT: String? = nil, pN: String? = nil, edition: Int? = nil) {
        self.cT = cT; self.cN = cN; self.cM = cM; self.pT = pT; self.pN = pN; self.edition = edition
    }

    /// `T`, `N` or `M` then a stage: digits with an optional letter/suffix, `x`, `is`, `a`...
    public static func isValid(_ value: String, axis: Character) -> Bool {
        let pattern = #"^[TNM](x|X|is|[0-4][a-d]?(\([a-z0-9+-]+\))?|a)?$"#
        guard value.first == axis, value.count <= 16 else { return false }
        return value.range(of: pattern, options: .regularExpression) != nil
    }

    public var summary: String {
        [cT.map { "c\($0)" }, cN.map { "c\($0)" }, cM.map { "c\($0)" }, pT.map { "p\($0)" }, pN.map { "p\($0)" }]
            .compactMap { $0 }.joined(separator: " ")
    }
}

/// The clinical content of a fiche RCP, following the CI-SIS model's sections.
public struct CaseContent: Sendable, Hashable, Codable {
    public var presentationReason: PresentationReason?
    public var discoveryMode: DiscoveryMode?
    public var tumourSiteCode: String?
    public var morphology: String?
    public var lateralityCode: String?
    public var tnm: TNM
    public var performanceStatusCode: String?
    public var history: String?
    public var comorbidities: String?
    public var phaseCode: String?
    public var previousTreatments: String?
    public var summary: String?
    public var question: String?

    public init(
        presentationReason: PresentationReason? = nil, discoveryMode: DiscoveryMode? = nil, tumourSiteCode: String? = nil,
        morphology: String? = nil, lateralityCode: String? = nil, tnm: TNM = TNM(), performanceStatusCode: String? = nil,
        history: String? = nil, comorbidities: String? = nil, phaseCode: String? = nil, previousTreatments: String? = nil,
        summary: String? = nil, question: String? = nil
    ) {
        self.presentationReason = presentationReason; self.discoveryMode = discoveryMode; self.tumourSiteCode = tumourSiteCode
        self.morphology = morphology; self.lateralityCode = lateralityCode; self.tnm = tnm
        self.performanceStatusCode = performanceStatusCode; self.history = history; self.comorbidities = comorbidities
        self.phaseCode = phaseCode; self.previousTreatments = previousTreatments; self.summary = summary; self.question = question
    }

    public enum Problem: String, Sendable, Error, CaseIterable {
        case unknownTumourSite = "unknown_tumour_site", unknownLaterality = "unknown_laterality"
        case unknownPerformanceStatus = "unknown_performance_status", unknownPhase = "unknown_phase"
        case invalidTNM = "invalid_tnm", invalidTNMEdition = "invalid_tnm_edition", tooLong = "too_long"
    }

    /// Codes must come from their value sets; stages must look like stages.
    public func problems() -> [Problem] {
        var found: [Problem] = []
        if let tumourSiteCode, !Terminology.tumourSites.contains(tumourSiteCode) { found.append(.unknownTumourSite) }
        if let lateralityCode, !Terminology.lateralities.contains(lateralityCode) { found.append(.unknownLaterality) }
        if let performanceStatusCode, !Terminology.performanceStatuses.contains(performanceStatusCode) { found.append(.unknownPerformanceStatus) }
        if let phaseCode, !Terminology.cancerPhases.contains(phaseCode) { found.append(.unknownPhase) }
        let stages: [(String?, Character)] = [(tnm.cT, "T"), (tnm.cN, "N"), (tnm.cM, "M"), (tnm.pT, "T"), (tnm.pN, "N")]
        if stages.contains(where: { value, axis in value.map { !TNM.isValid($0, axis: axis) } ?? false }) { found.append(.invalidTNM) }
        if let edition = tnm.edition, !(5...9).contains(edition) { found.append(.invalidTNMEdition) }
        let texts = [morphology, history, comorbidities, previousTreatments, summary, question].compactMap { $0 }
        if texts.contains(where: { $0.count > 20_000 }) { found.append(.tooLong) }
        return found
    }

    /// What the board needs before the case can be registered.
    public var isReadyForRegistration: Bool {
        tumourSiteCode != nil && !(question ?? "").isEmpty && !(summary ?? "").isEmpty
    }
}

/// The board's proposal for a case.
public struct CaseDecision: Sendable, Hashable, Codable {
    public var proposalTypes: [ProposalType]
    public var proposal: String
    public var followsGuidelines: Bool
    public var guidelinesDeviationReason: String?
    public var trialProposed: Bool
    public var trialReference: String?
    public var fileComplete: Bool
    /// Filled from attendance when the decision is recorded, never typed.
    public var quorumMet: Bool
    /// The chair's explicit record that the board decided without quorum.
    public var recordedWithoutQuorum: Bool

    public init(
        proposalTypes: [ProposalType], proposal: String, followsGuidelines: Bool, guidelinesDeviationReason: String? = nil,
        trialProposed: Bool, trialReference: String? = nil, fileComplete: Bool, quorumMet: Bool, recordedWithoutQuorum: Bool = false
    ) {
        self.proposalTypes = ProposalType.allCases.filter(proposalTypes.contains)
        self.proposal = proposal; self.followsGuidelines = followsGuidelines; self.guidelinesDeviationReason = guidelinesDeviationReason
        self.trialProposed = trialProposed; self.trialReference = trialReference; self.fileComplete = fileComplete
        self.quorumMet = quorumMet; self.recordedWithoutQuorum = recordedWithoutQuorum
    }

    public enum Problem: String, Sendable, Error {
        case noProposalType = "no_proposal_type", noProposal = "no_proposal"
        case deviationWithoutReason = "deviation_without_reason", trialWithoutReference = "trial_without_reference"
    }

    public func problems() -> [Problem] {
        var found: [Problem] = []
        if proposalTypes.isEmpty { found.append(.noProposalType) }
        if proposal.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { found.append(.noProposal) }
        if !followsGuidelines, (guidelinesDeviationReason ?? "").isEmpty { found.append(.deviationWithoutReason) }
        if trialProposed, (trialReference ?? "").isEmpty { found.append(.trialWithoutReference) }
        return found
    }

    /// CI-SIS `JDV_StatutQuorum` code.
    public var quorumStatusCode: String { quorumMet ? "ORG-126" : "ORG-133" }
}

/// Who is acting on a case, as far as the workflow cares.
public struct CaseActor: Sendable, Hashable {
    /// Physician of the case's community: edits and registers.
    public var isPhysician: Bool
    /// Coordinator of the case's community.
    public var isCoordinator: Bool
    /// Chair of the meeting the case is on.
    public var isChair: Bool
    /// The member the chair designated to type the decision during the séance: records it,
    /// never validates it.
    public var isRecorder: Bool

    public init(isPhysician: Bool = false, isCoordinator: Bool = false, isChair: Bool = false, isRecorder: Bool = false) {
        self.isPhysician = isPhysician; self.isCoordinator = isCoordinator; self.isChair = isChair; self.isRecorder = isRecorder
    }
}

/// The transitions of a fiche RCP and who may make them. Pure: stores apply the result.
public enum CaseWorkflow {
    public enum Event: Sendable, Hashable {
        case edit
        case register(RegistrationWindow, status: MeetingStatus, alreadyRegistered: Int)
        case withdraw
        case recordDecision(CaseDecision)
        case validate(CaseDecision)
        case sendBack
        case meetingCancelled
    }

    public enum Refusal: Error, Sendable, Hashable {
        case notAllowed
        case wrongStatus(CaseStatus)
        case registration(RegistrationWindow.Refusal)
        case incompleteCase
        case decision([CaseDecision.Problem])
        case quorumNotMet
    }

    public enum Outcome: Sendable, Hashable {
        /// The case moves to this status.
        case moveTo(CaseStatus)
        /// An edit of a validated fiche: a new edition, the previous one kept.
        case newEdition
    }

    public static func apply(_ event: Event, to status: CaseStatus, content: CaseContent, by actor: CaseActor, at now: Date) -> Result<Outcome, Refusal> {
        let boardLead = actor.isCoordinator || actor.isChair
        switch event {
        case .edit:
            if status == .validated { return boardLead || actor.isPhysician ? .success(.newEdition) : .failure(.notAllowed) }
            return actor.isPhysician || boardLead ? .success(.moveTo(status)) : .failure(.notAllowed)
        case .register(let window, let meetingStatus, let count):
            guard actor.isPhysician || actor.isCoordinator else { return .failure(.notAllowed) }
            guard status == .draft || status == .toRepresent else { return .failure(.wrongStatus(status)) }
            guard content.isReadyForRegistration else { return .failure(.incompleteCase) }
            if let refusal = window.check(status: meetingStatus, registered: count, coordinatorOverride: actor.isCoordinator, at: now) {
                return .failure(.registration(refusal))
            }
            return .success(.moveTo(.registered))
        case .withdraw:
            guard actor.isPhysician || actor.isCoordinator else { return .failure(.notAllowed) }
            guard status == .registered else { return .failure(.wrongStatus(status)) }
            return .success(.moveTo(.draft))
        case .recordDecision(let decision):
            guard boardLead || actor.isRecorder else { return .failure(.notAllowed) }
            guard status == .registered || status == .discussed else { return .failure(.wrongStatus(status)) }
            let problems = decision.problems()
            guard problems.isEmpty else { return .failure(.decision(problems)) }
            return .success(.moveTo(.discussed))
        case .validate(let decision):
            guard boardLead else { return .failure(.notAllowed) }
            guard status == .discussed else { return .failure(.wrongStatus(status)) }
            guard decision.quorumMet || decision.recordedWithoutQuorum else { return .failure(.quorumNotMet) }
            return .success(.moveTo(.validated))
        case .sendBack:
            guard boardLead else { return .failure(.notAllowed) }
            guard status == .registered || status == .discussed else { return .failure(.wrongStatus(status)) }
            return .success(.moveTo(.toRepresent))
        case .meetingCancelled:
            guard status == .registered else { return .failure(.wrongStatus(status)) }
            return .success(.moveTo(.toRepresent))
        }
    }
}

extension Result {
    /// Whether a rule's answer (`CaseWorkflow.apply`, `INS.validate`...) is a yes.
    public var isSuccess: Bool { if case .success = self { true } else { false } }
}
