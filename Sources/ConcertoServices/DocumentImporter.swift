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

    /// What an import says to the person or system that asked; each front end words it in
    /// its language (`Localization+Documents` for the web, the API and the command line).
    public enum Message: Sendable, Equatable {
        /// The CDA reader's own words (it reports in French, with line numbers).
        case reader(String)
        case noPatient
        /// The document's INS is not the patient's.
        case otherPatientINS(documentINS: String)
        /// No INS to compare and the document's traits are another person's.
        case otherPatientTraits(document: CDAPatient?, patient: PatientIdentity)
        case incompleteHeader
        /// Another document already has this id with other content.
        case idConflict(String)
        /// Referenced studies were not looked for: the identity has no INS and no local id.
        case studiesNotSearched
        case studiesAttached(Int)
        /// Referenced studies the exchange does not hold (or, with `unavailable`, could not answer for).
        case studiesMissing(Int, unavailable: String?)
    }

    public enum Outcome: Sendable, Equatable {
        case imported(UUID, superseded: Int, warnings: [Message])
        case alreadyImported(UUID)
        /// Nothing stored; the messages say why.
        case refused([Message])
        /// No INS to compare; the traits match: a person must confirm (nothing stored yet).
        case needsConfirmation(CDAPatient?)

        public var documentID: UUID? {
            switch self {
            case .imported(let id, _, _), .alreadyImported(let id): id
            case .refused, .needsConfirmation: nil
            }
        }
    }

    public func read(_ bytes: Data) -> CDAReport { CDAReader.read(bytes, options: options) }

    /// Why no target was found; `rawValue` is the code the API answers with.
    public enum TargetProblem: String, Error, Sendable, CaseIterable {
        /// No such case in this community (one of another community answers the same).
        case unknownCase = "unknown_case"
        /// No case named and the document has no valid INS: no matching on traits without a person.
        case patientNotIdentified = "patient_not_identified"
        case unknownPatient = "unknown_patient"
        /// Several records of the community have the INS: an administrator merges them first.
        case severalPatients = "several_patients"
    }

    /// For systems without a person to confirm (API, batch import): the named case of the
    /// community, or else the community's one patient with the document's INS.
    public func target(for document: CDADocument, community: UUID, caseParameter: String?, cases: CaseStore) async throws -> Result<Target, TargetProblem> {
        if let caseParameter {
            // A case of another community answers like one that does not exist.
            guard let caseID = UUID(storageKey: caseParameter), let record = try await cases.find(id: caseID), record.communityID == community,
                  let patient = try await patients.find(id: record.patientID) else {
                return .failure(.unknownCase)
            }
            return .success(Target(patient: patient, communityID: community, caseID: record.id))
        }
        guard let ins = document.patient?.ins, ins.isValid else {
            return .failure(.patientNotIdentified)
        }
        let found = try await documents.patients(withINS: ins.value.uppercased(), inCommunity: community)
        guard found.count == 1, let patient = try await patients.find(id: found[0]) else {
            return .failure(found.isEmpty ? .unknownPatient : .severalPatients)
        }
        return .success(Target(patient: patient, communityID: community, caseID: nil))
    }

    /// Reads and files `bytes`. `confirmedTraits` is the person's answer to a previous
    /// `.needsConfirmation` for the same file.
    public func importDocument(_ bytes: Data, into target: Target, confirmedTraits: Bool, source: DocumentImport.Source,
                               audit: AuditDraft, at now: Date = Date()) async throws -> Outcome {
        let report = read(bytes)
        guard let document = report.document, report.ok else { return .refused(report.errors.map(Message.reader)) }
        return try await file(document, bytes: bytes, warnings: report.warnings.map(Message.reader), into: target, confirmedTraits: confirmedTraits,
                              source: source, audit: audit, at: now)
    }

    public func file(_ document: CDADocument, bytes: Data, warnings: [Message], into target: Target, confirmedTraits: Bool,
              source: DocumentImport.Source, audit: AuditDraft, at now: Date) async throws -> Outcome {
        switch DocumentPatientCheck.check(document.patient, against: target.patient.identity) {
        case .sameINS:
            break
        case .traitsNeedConfirmation:
            if !confirmedTraits {
                return .needsConfirmation(document.patient)
            }
        case .otherPatient(let mismatch):
            let refusal: Message = switch mismatch {
            case .noPatient: .noPatient
            case .differentINS: .otherPatientINS(documentINS: document.patient?.ins?.value ?? "?")
            case .differentTraits: .otherPatientTraits(document: document.patient, patient: target.patient.identity)
            }
            return .refused([refusal])
        }
        guard let id = document.id, let type = document.type, let time = document.effectiveTime else {
            return .refused([.incompleteHeader])
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
            return .refused([.idConflict(id.key)])
        }
    }

    /// An imaging report filed on a fiche attaches the studies it references that the
    /// exchange holds for this patient. Returns what happened, for the person or system that
    /// imported it; a missing or unavailable exchange never refuses the report.
    func attachReferencedStudies(_ studyUIDs: [String], document: UUID, into target: Target, audit: AuditDraft, at now: Date) async throws -> [Message] {
        guard let caseID = target.caseID, !studyUIDs.isEmpty, let imaging, let imagingStudies, imaging.isConfigured else { return [] }
        let identifiers = try await ImagingService.identifiers(of: target.patient, patients: patients)
        guard !identifiers.isEmpty else {
            return [.studiesNotSearched]
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
            if case .attached = try await imagingStudies.attach(reference, toCase: caseID, note: nil, documentID: document,
                                                                by: audit.actorID, audit: draft, at: now) {
                attached += 1
            }
        }
        var notes: [Message] = []
        if attached > 0 { notes.append(.studiesAttached(attached)) }
        if missing > 0 { notes.append(.studiesMissing(missing, unavailable: unavailable)) }
        return notes
    }
}
