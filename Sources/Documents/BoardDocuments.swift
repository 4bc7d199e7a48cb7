import ConcertoCore
import Foundation

/// A meeting as its minutes tell it: who attended, whether the quorum was met, and every
/// case on the agenda (decided or not).
public struct MeetingMinutes: Sendable {
    public struct Attendee: Sendable, Equatable {
        public var name: String
        public var specialty: String?
        public var status: String
        public init(name: String, specialty: String?, status: String) {
            self.name = name
            self.specialty = specialty
            self.status = status
        }
    }

    public var meeting: FicheRCPExport.Meeting
    public var chairName: String?
    public var attendees: [Attendee]
    public var quorumMet: Bool
    public var quorumDetail: String
    public var fiches: [FicheRCPExport]

    public init(meeting: FicheRCPExport.Meeting, chairName: String?, attendees: [Attendee], quorumMet: Bool, quorumDetail: String, fiches: [FicheRCPExport]) {
        self.meeting = meeting
        self.chairName = chairName
        self.attendees = attendees
        self.quorumMet = quorumMet
        self.quorumDetail = quorumDetail
        self.fiches = fiches
    }
}

/// The printed fiche RCP and meeting minutes, as PDF blocks.
public enum BoardDocuments {
    static func yesNo(_ value: Bool) -> String { value ? "oui" : "non" }

    static func identity(_ patient: PatientIdentity) -> [(String, String?)] {
        [("Patient", patient.displayName), ("Né(e) le", patient.birthDate.french),
         ("Sexe", patient.sex == .female ? "F" : patient.sex == .male ? "M" : "indéterminé"),
         // The INS is shown as an identifier only once the identity is qualified.
         ("INS", patient.status == .qualified ? patient.ins.map { "\($0.matricule) (\($0.kind.rawValue))" } : nil),
         ("Identité", patient.status.frenchLabel)]
    }

    static func contentFields(_ content: CaseContent) -> [(String, String?)] {
        let tnm = content.tnm
        return [
            ("Motif", content.presentationReason?.frenchLabel),
            ("Découverte", content.discoveryMode?.frenchLabel),
            ("Localisation", content.tumourSiteCode.map { "\($0) — \(Terminology.tumourSites.concept($0)?.label ?? "")" }),
            ("Histologie", content.morphology),
            ("Latéralité", content.lateralityCode.flatMap { Terminology.lateralities.concept($0)?.label }),
            ("TNM", tnm.summary.isEmpty ? nil : tnm.summary + (tnm.edition.map { " (édition \($0))" } ?? "")),
            ("État général", content.performanceStatusCode.flatMap { Terminology.performanceStatuses.concept($0)?.label }),
            ("Phase", content.phaseCode.flatMap { Terminology.cancerPhases.concept($0)?.label }),
            ("Antécédents", content.history), ("Comorbidités", content.comorbidities), ("Traitements antérieurs", content.previousTreatments),
        ]
    }

    static func decisionBlocks(_ decision: CaseDecision?) -> [PDFBlock] {
        guard let decision else { return [.note("Pas de proposition enregistrée pour ce dossier.")] }
        return [
            .fields([
                ("Types", decision.proposalTypes.map(\.frenchLabel).joined(separator: ", ")),
                ("Conforme au référentiel", yesNo(decision.followsGuidelines) + (decision.guidelinesDeviationReason.map { " — \($0)" } ?? "")),
                ("Essai clinique", yesNo(decision.trialProposed) + (decision.trialReference.map { " — \($0)" } ?? "")),
                ("Dossier complet", yesNo(decision.fileComplete)),
                ("Quorum", decision.quorumMet ? "atteint" : "non atteint" + (decision.recordedWithoutQuorum ? " (décision enregistrée sans quorum)" : "")),
            ]),
            .paragraph(decision.proposal),
        ]
    }

    static func caseBlocks(_ fiche: FicheRCPExport) -> [PDFBlock] {
        [
            .fields(identity(fiche.patient) + contentFields(fiche.content)),
            .paragraph("Synthèse : " + (fiche.content.summary ?? "non renseignée")),
            .paragraph("Question posée : " + (fiche.content.question ?? "non renseignée")),
            .heading("Proposition de la RCP"),
        ] + decisionBlocks(fiche.decision)
    }

    static func meetingFields(_ meeting: FicheRCPExport.Meeting) -> [(String, String?)] {
        [("Communauté", meeting.communityName), ("Réunion", meeting.title), ("Date", ParisCalendar.frenchDateTime(meeting.startsAt)),
         ("Lieu", meeting.place)]
    }

    /// One fiche RCP: identity, the case, the proposal, the validation and signature.
    public static func fiche(_ fiche: FicheRCPExport, documentID: String, generatedAt: Date) -> PDFDocumentSpec {
        var blocks: [PDFBlock] = [.title("Fiche RCP — \(fiche.patient.displayName)")]
        if let meeting = fiche.meeting { blocks.append(.fields(meetingFields(meeting))) }
        blocks.append(.heading("Dossier présenté"))
        blocks += caseBlocks(fiche)
        blocks.append(.note(fiche.validatedAt.map { "Fiche validée le \(ParisCalendar.frenchDateTime($0)) par \(fiche.legalAuthenticator?.displayName ?? "—"), version \(fiche.version)." }
            ?? "Fiche non validée (version \(fiche.version))."))
        blocks.append(.signatures([fiche.legalAuthenticator?.displayName ?? "Président de séance"]))
        return PDFDocumentSpec(header: fiche.meeting.map { "\($0.communityName) — \($0.title)" } ?? "Concerto", kind: "Fiche RCP",
                               documentID: documentID, generatedAt: generatedAt, blocks: blocks)
    }

    /// The minutes: the meeting, attendance and quorum, then each case with its proposal.
    public static func minutes(_ minutes: MeetingMinutes, documentID: String, generatedAt: Date) -> PDFDocumentSpec {
        let meeting = minutes.meeting
        var blocks: [PDFBlock] = [
            .title("Compte rendu de RCP — \(meeting.title)"),
            .fields(meetingFields(meeting) + [("Président de séance", minutes.chairName), ("Dossiers", String(minutes.fiches.count)),
                                              ("Quorum", (minutes.quorumMet ? "atteint" : "non atteint") + " — " + minutes.quorumDetail)]),
            .heading("Participants"),
            .table(PDFTable(columns: [("Nom", 0.4), ("Spécialité", 0.4), ("Présence", 0.2)],
                            rows: minutes.attendees.map { [$0.name, $0.specialty ?? "—", $0.status] })),
        ]
        for (index, fiche) in minutes.fiches.enumerated() {
            blocks.append(.heading("\(index + 1). \(fiche.patient.displayName) — né(e) le \(fiche.patient.birthDate.french)"))
            blocks += caseBlocks(fiche)
            blocks.append(.spacer(6))
        }
        blocks.append(.heading("Signatures"))
        blocks.append(.signatures([minutes.chairName.map { "\($0), président de séance" } ?? "Président de séance", "Coordination de la RCP"]))
        return PDFDocumentSpec(header: "\(meeting.communityName) — \(meeting.title)", kind: "Compte rendu de RCP", documentID: documentID,
                               generatedAt: generatedAt, blocks: blocks)
    }
}

extension IdentityStatus {
    var frenchLabel: String {
        switch self {
        case .provisional: "provisoire"
        case .retrieved: "récupérée"
        case .validated: "validée"
        case .qualified: "qualifiée"
        }
    }
}
