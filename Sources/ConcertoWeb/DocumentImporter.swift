import CDA
import ConcertoCore
import ConcertoStore
import DICOMweb
import Foundation

/// Files one CDA document for a patient: read it safely, check that it is about that
/// patient, then store the original bytes with the header values. Shared by the upload
/// page, the hospital API and `concerto cda import`, so all three refuse the same things.
public struct DocumentImporter: Sendable {
    public let documents: DocumentStore
    public let patients: PatientStore
    public let options: CDAReadOptions
    /// Where the studies an imaging report references are looked up and attached.
    public let imaging: ImagingService?
    public let imagingStudies: ImagingStore?

    public init(documents: DocumentStore, patients: PatientStore, options: CDAReadOptions, imaging: ImagingService? = nil, imagingStudies: ImagingStore? = nil) {
        self.documents = documents
        self.patients = patients
        self.options = options
        self.imaging = imaging
        self.imagingStudies = imagingStudies
    }

    /// Where the document goes: a patient held by a community, optionally through a case.
    public struct Target: Sendable {
        public var patient: PatientRecord
        public var communityID: UUID
        public var caseID: UUID?

        public init(patient: PatientRecord, communityID: UUID, caseID: UUID?) {
            self.patient = patient
            self.communityID = communityID
            self.caseID = caseID
        }
    }

    public enum Outcome: Sendable, Equatable {
        case imported(UUID, superseded: Int, warnings: [String])
        case alreadyImported(UUID)
        /// Nothing stored; the messages say why, in French.
        case refused([String])
        /// No INS to compare; the traits match: a person must confirm (nothing stored yet).
        case needsConfirmation(String)

        public var documentID: UUID? {
            switch self {
            case .imported(let id, _, _), .alreadyImported(let id): id
            case .refused, .needsConfirmation: nil
            }
        }
    }

    public func read(_ bytes: Data) -> CDAReport { CDAReader.read(bytes, options: options) }

    public struct TargetProblem: Error, Sendable {
        public let code: String
        public let message: String
    }

    /// For systems without a person to confirm (API, batch import): the named case of the
    /// community, or else the community's one patient with the document's INS.
    public func target(for document: CDADocument, community: UUID, caseParameter: String?, cases: CaseStore) async throws -> Result<Target, TargetProblem> {
        if let caseParameter {
            // A case of another community answers like one that does not exist.
            guard let caseID = UUID(storageKey: caseParameter), let record = try await cases.find(id: caseID), record.communityID == community,
                  let patient = try await patients.find(id: record.patientID) else {
                return .failure(TargetProblem(code: "unknown_case", message: "Fiche RCP inconnue dans cette communauté."))
            }
            return .success(Target(patient: patient, communityID: community, caseID: record.id))
        }
        guard let ins = document.patient?.ins, ins.isValid else {
            return .failure(TargetProblem(code: "patient_not_identified", message:
                "Sans fiche RCP désignée, le patient est trouvé par son INS : le document n'en porte pas de valide. Aucun rapprochement sur les traits n'est fait sans confirmation humaine : déposez-le depuis la fiche RCP."))
        }
        let found = try await documents.patients(withINS: ins.value.uppercased(), inCommunity: community)
        guard found.count == 1, let patient = try await patients.find(id: found[0]) else {
            return .failure(TargetProblem(code: "unknown_patient", message: found.isEmpty
                ? "Aucun patient de la communauté ne porte cet INS."
                : "Plusieurs dossiers portent cet INS : un administrateur doit d'abord les fusionner."))
        }
        return .success(Target(patient: patient, communityID: community, caseID: nil))
    }

    /// Reads and files `bytes`. `confirmedTraits` is the person's answer to a previous
    /// `.needsConfirmation` for the same file.
    public func importDocument(_ bytes: Data, into target: Target, confirmedTraits: Bool, source: DocumentImport.Source,
                               audit: AuditDraft, at now: Date = Date()) async throws -> Outcome {
        let report = read(bytes)
        guard let document = report.document, report.ok else { return .refused(report.errors) }
        return try await file(document, bytes: bytes, warnings: report.warnings, into: target, confirmedTraits: confirmedTraits,
                              source: source, audit: audit, at: now)
    }

    public func file(_ document: CDADocument, bytes: Data, warnings: [String], into target: Target, confirmedTraits: Bool,
              source: DocumentImport.Source, audit: AuditDraft, at now: Date) async throws -> Outcome {
        switch DocumentPatientCheck.check(document.patient, against: target.patient.identity) {
        case .sameINS:
            break
        case .traitsNeedConfirmation:
            if !confirmedTraits {
                return .needsConfirmation(Self.describe(document.patient))
            }
        case .otherPatient(let mismatch):
            return .refused([Self.explain(mismatch, document: document.patient, patient: target.patient.identity)])
        }
        guard let id = document.id, let type = document.type, let time = document.effectiveTime else {
            return .refused(["En-tête incomplet : identifiant, type ou date du document manquant."])
        }
        let setID = document.setID ?? id
        var tnm: [String: String] = [:]
        for (key, value) in [("cT", document.tnm.cT), ("cN", document.tnm.cN), ("cM", document.tnm.cM),
                             ("pT", document.tnm.pT), ("pN", document.tnm.pN), ("pM", document.tnm.pM)] {
            if let value { tnm[key] = value }
        }
        let mediaType: String? = if case .nonXML(let type, _) = document.body { type } else { nil }
        var record = DocumentImport(
            patientID: target.patient.id, communityID: target.communityID, caseID: target.caseID,
            documentRoot: id.root, documentExtension: id.extension ?? "", setRoot: setID.root, setExtension: setID.extension ?? "",
            version: document.version ?? 1, typeCode: type.code, typeLabel: type.displayName, title: document.title,
            effectiveTime: time.iso, mediaType: mediaType, hasPDF: document.pdf != nil, studyUIDs: document.studyInstanceUIDs,
            tnm: tnm, content: bytes, source: source, importedBy: audit.actorID)
        if document.isPersonalisedCarePlan {
            record.carePlanJSON = String(decoding: try JSONEncoder().encode(document.carePlan), as: UTF8.self)
            record.carePlanTreatmentsStarted = document.carePlan.treatmentsStarted
            // The fiche it carries out, when there is no doubt: the patient's one validated
            // fiche in this community up to the plan's date. Otherwise a physician confirms.
            let candidates = try await documents.carePlanCandidates(patientID: target.patient.id, communityID: target.communityID, notAfter: time.iso)
            if candidates.count == 1 { record.carriesOutCaseID = candidates[0].caseID }
        }
        var audit = audit
        audit.patientID = target.patient.id
        audit.resourceType = "document"
        switch try await documents.importDocument(record, audit: audit, at: now) {
        case .imported(let id, let superseded):
            let notes = try await attachReferencedStudies(document.studyInstanceUIDs, document: id, into: target, audit: audit, at: now)
            return .imported(id, superseded: superseded.count, warnings: warnings + notes)
        case .alreadyImported(let id): return .alreadyImported(id)
        case .conflict:
            return .refused(["Un autre document porte déjà l'identifiant \(id.key) avec un contenu différent : refusé, rien n'a été modifié. Une nouvelle version doit avoir son propre identifiant et le même setId."])
        }
    }

    /// An imaging report filed on a fiche attaches the studies it references that the
    /// exchange holds for this patient. Returns what happened, in French, for the person
    /// or system that imported it; a missing or unavailable exchange never refuses the report.
    func attachReferencedStudies(_ studyUIDs: [String], document: UUID, into target: Target, audit: AuditDraft, at now: Date) async throws -> [String] {
        guard let caseID = target.caseID, !studyUIDs.isEmpty, let imaging, let imagingStudies, imaging.isConfigured else { return [] }
        let identifiers = try await ImagingService.identifiers(of: target.patient, patients: patients)
        guard !identifiers.isEmpty else {
            return ["Examens référencés non recherchés sur l'échange d'imagerie : identité non qualifiée et sans IPP."]
        }
        var attached = 0, missing = 0, unavailable: String?
        for uid in studyUIDs where DICOMUIDSyntax.isValid(uid) {
            var reference: StudyReference?
            for exchange in imaging.directory.exchanges where reference == nil {
                guard let client = imaging.client(exchange.id) else { continue }
                do throws(DICOMwebError) {
                    if case .found(let study) = try await imaging.lookUp(studyUID: uid, identifiers: identifiers, identity: target.patient.identity, on: client) {
                        reference = study
                    }
                } catch {
                    unavailable = error.frenchMessage
                }
            }
            guard let reference else {
                missing += 1
                continue
            }
            var draft = audit
            draft.action = .imagingAttach
            draft.patientID = target.patient.id
            draft.reason = "document:\(document.storageKey)"
            if case .attached = try await imagingStudies.attach(reference, toCase: caseID, note: "Référencé par le compte rendu", documentID: document,
                                                                by: audit.actorID, audit: draft, at: now) {
                attached += 1
            }
        }
        var notes: [String] = []
        if attached > 0 { notes.append("\(attached) examen(s) d'imagerie référencé(s) attaché(s) à la fiche.") }
        if missing > 0 {
            notes.append("\(missing) examen(s) référencé(s) introuvable(s) sur l'échange d'imagerie\(unavailable.map { " (\($0))" } ?? "") : identifiants conservés sur le document.")
        }
        return notes
    }

    static func describe(_ patient: CDAPatient?) -> String {
        guard let patient else { return "" }
        let names = [patient.birthName, patient.usedName.flatMap { $0 == patient.birthName ? nil : "(usage \($0))" }, patient.firstName]
        return (names.compactMap { $0 } + [patient.birthDate.map { "né(e) le \($0.french)" }, patient.sex].compactMap { $0 }).joined(separator: " ")
    }

    static func explain(_ mismatch: DocumentPatientCheck.Mismatch, document: CDAPatient?, patient: PatientIdentity) -> String {
        switch mismatch {
        case .noPatient:
            return "Le document ne désigne aucun patient : refusé."
        case .differentINS:
            return "Le document concerne un autre patient (INS \(document?.ins?.value ?? "?") ≠ INS du patient de la fiche) : refusé, rien n'a été enregistré."
        case .differentTraits:
            return "Le document concerne un autre patient (\(describe(document))) que celui de la fiche (\(patient.displayName), né(e) le \(patient.birthDate.french)) : refusé, rien n'a été enregistré."
        }
    }
}
