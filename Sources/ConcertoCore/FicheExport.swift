import Foundation

/// Everything an exported fiche RCP says, already resolved from the stores (patient, people
/// with RPPS and specialty, the meeting and who attended, content and decision): the CDA
/// writer and the PDF builders only lay it out.
public struct FicheRCPExport: Sendable {
    public struct Organisation: Sendable, Equatable {
        public var finess: String?
        public var name: String
        public var address: PostalAddress?
        public init(finess: String?, name: String, address: PostalAddress? = nil) {
            self.finess = finess
            self.name = name
            self.address = address
        }
    }

    /// The national identifiers of the board the fiche was discussed at (header,
    /// `componentOf`): regional cancer network, managing structure, board.
    public struct Registration: Sendable, Equatable {
        public var networkID: String
        public var boardID: String
        /// The structure that manages the board: its FINESS is the manager's identifier, and
        /// its name and address the board's location.
        public var manager: Organisation
        public init(networkID: String, boardID: String, manager: Organisation) {
            self.networkID = networkID
            self.boardID = boardID
            self.manager = manager
        }
    }

    public struct Person: Sendable, Equatable {
        public var rpps: String?
        public var displayName: String
        public var specialtyCode: String?
        public var specialtyLabel: String?
        public var organisation: Organisation?
        public init(rpps: String?, displayName: String, specialtyCode: String?, specialtyLabel: String?, organisation: Organisation?) {
            self.rpps = rpps
            self.displayName = displayName
            self.specialtyCode = specialtyCode
            self.specialtyLabel = specialtyLabel
            self.organisation = organisation
        }
    }

    /// How the model codes a meeting participant.
    public enum Role: String, Sendable {
        /// Médecin coordonnateur (participant RESP).
        case coordinator
        /// PS présentateur (participant PRF).
        case presenter
        /// Participant du quorum (PRF, fonction 353).
        case quorumMember
        /// Participant hors quorum (PRF, fonction CORRE).
        case otherParticipant
    }

    public struct Participant: Sendable, Equatable {
        public var person: Person
        public var role: Role
        public init(person: Person, role: Role) {
            self.person = person
            self.role = role
        }
    }

    public struct Meeting: Sendable, Equatable {
        public var id: UUID
        public var title: String
        public var communityName: String
        public var startsAt: Date
        public var place: String?
        /// ORG-117 organ-based, ORG-132 transversal.
        public var transversal: Bool
        /// Nil only for fiches of communities not yet registered (minutes drafts); a fiche
        /// is not validated without it.
        public var registration: Registration?
        public init(id: UUID, title: String, communityName: String, startsAt: Date, place: String?, transversal: Bool,
                    registration: Registration? = nil) {
            self.id = id
            self.title = title
            self.communityName = communityName
            self.startsAt = startsAt
            self.place = place
            self.transversal = transversal
            self.registration = registration
        }
    }

    public var caseID: UUID
    /// The patient record on the platform: always given as an identifier, so a fiche of a
    /// patient without qualified INS or IPP still names its patient.
    public var patientID: UUID
    /// Export version: the fiche's edition (an amendment after validation is a new one).
    public var version: Int
    public var generatedAt: Date
    public var patient: PatientIdentity
    public var localIDs: [(finess: String, ipp: String)]
    public var author: Person
    public var custodian: Organisation
    public var legalAuthenticator: Person?
    public var validatedAt: Date?
    public var participants: [Participant]
    public var meeting: Meeting?
    public var content: CaseContent
    public var decision: CaseDecision?
    /// A PDF copy to embed (section FR-Document-PDF-copie).
    public var pdf: Data?

    public init(caseID: UUID, patientID: UUID, version: Int, generatedAt: Date, patient: PatientIdentity, localIDs: [(finess: String, ipp: String)], author: Person,
                custodian: Organisation, legalAuthenticator: Person?, validatedAt: Date?, participants: [Participant], meeting: Meeting?,
                content: CaseContent, decision: CaseDecision?, pdf: Data? = nil) {
        self.caseID = caseID
        self.patientID = patientID
        self.version = version
        self.generatedAt = generatedAt
        self.patient = patient
        self.localIDs = localIDs
        self.author = author
        self.custodian = custodian
        self.legalAuthenticator = legalAuthenticator
        self.validatedAt = validatedAt
        self.participants = participants
        self.meeting = meeting
        self.content = content
        self.decision = decision
        self.pdf = pdf
    }
}

/// French labels for printed and exported documents (the pages use the localization tables).
extension PresentationReason {
    public var frenchLabel: String {
        switch self {
        case .diagnosticOpinion: "Avis diagnostique"
        case .initialTreatment: "Proposition de traitement initial"
        case .treatmentChange: "Modification de traitement"
        case .relapse: "Rechute"
        case .followUp: "Surveillance"
        case .standardRecord: "Dossier standard (enregistrement)"
        }
    }
}

extension DiscoveryMode {
    public var frenchLabel: String {
        switch self {
        case .symptoms: "Symptômes"
        case .screening: "Dépistage"
        case .incidental: "Découverte fortuite"
        case .surveillance: "Surveillance"
        case .other: "Autre"
        }
    }
}

extension ProposalType {
    public var frenchLabel: String {
        switch self {
        case .surgery: "Chirurgie"
        case .chemotherapy: "Chimiothérapie"
        case .radiotherapy: "Radiothérapie"
        case .hormoneTherapy: "Hormonothérapie"
        case .targetedTherapy: "Thérapie ciblée"
        case .immunotherapy: "Immunothérapie"
        case .activeSurveillance: "Surveillance active"
        case .furtherInvestigations: "Examens complémentaires"
        case .supportiveCare: "Soins de support"
        case .palliativeCare: "Soins palliatifs"
        case .recoursReferral: "Avis d'une RCP de recours"
        }
    }
}

extension AttendanceStatus {
    public var frenchLabel: String {
        switch self {
        case .present: "présent"
        case .excused: "excusé"
        case .absent: "absent"
        }
    }
}

extension Specialty.Discipline {
    public var frenchLabel: String {
        switch self {
        case .medicalOncology: "oncologie médicale"
        case .surgery: "chirurgie"
        case .radiotherapy: "radiothérapie"
        case .radiology: "radiologie"
        case .nuclearMedicine: "médecine nucléaire"
        case .pathology: "anatomopathologie"
        case .haematology: "hématologie"
        case .organSpecialist: "spécialiste d'organe"
        case .generalPractice: "médecine générale"
        case .nursing: "soins infirmiers"
        case .coordination: "coordination"
        }
    }
}
