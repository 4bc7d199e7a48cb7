import ConcertoCore
import Foundation

/// An HL7 instance identifier (`II`): an OID or UUID root, and an optional extension.
public struct InstanceIdentifier: Sendable, Hashable, Codable {
    public var root: String
    public var `extension`: String?

    public init(root: String, extension: String? = nil) {
        self.root = root
        self.extension = `extension`
    }

    /// `root^extension`, or the root alone: one string that names the identifier.
    public var key: String { `extension`.map { "\(root)^\($0)" } ?? root }
}

/// A coded value (`CD`/`CE`): code, code system and the display name the author gave.
public struct CodedValue: Sendable, Hashable, Codable {
    public var code: String
    public var codeSystem: String?
    public var displayName: String?

    public init(code: String, codeSystem: String? = nil, displayName: String? = nil) {
        self.code = code
        self.codeSystem = codeSystem
        self.displayName = displayName
    }
}

/// A person named in the header (author, legal authenticator).
public struct CDAPerson: Sendable, Equatable, Codable {
    public var id: InstanceIdentifier?
    public var family: String?
    public var given: String?
    public var prefix: String?
    /// The RPPS number when the id's root is the RPPS OID.
    public var rpps: String?
    public var specialty: CodedValue?
    public var organisation: CDAOrganisation?
    public var time: HL7Time?

    public init(id: InstanceIdentifier? = nil, family: String? = nil, given: String? = nil, prefix: String? = nil,
                rpps: String? = nil, specialty: CodedValue? = nil, organisation: CDAOrganisation? = nil, time: HL7Time? = nil) {
        self.id = id
        self.family = family
        self.given = given
        self.prefix = prefix
        self.rpps = rpps
        self.specialty = specialty
        self.organisation = organisation
        self.time = time
    }

    /// "Dr Jean MARTIN": the way the header names the person for a reader.
    public var displayName: String {
        [prefix, given, family].compactMap { $0 }.joined(separator: " ")
    }
}

public struct CDAOrganisation: Sendable, Equatable, Codable {
    public var id: InstanceIdentifier?
    public var name: String?
    /// The FINESS number when the id's root is the FINESS OID.
    public var finess: String?

    public init(id: InstanceIdentifier? = nil, name: String? = nil, finess: String? = nil) {
        self.id = id
        self.name = name
        self.finess = finess
    }
}

/// The patient as the document identifies them.
public struct CDAPatient: Sendable, Equatable, Codable {
    public var ids: [InstanceIdentifier]
    /// The first id whose root is one of the INS OIDs.
    public var ins: DocumentINS?
    public var birthName: String?
    public var usedName: String?
    /// All first names, as given (the first entry is usually "all birth first names").
    public var given: [String]
    public var birthDate: HL7Time?
    /// M, F or U (the document's code when it is one of those, else U).
    public var sex: String?
    /// INSEE code of the birth place when given.
    public var birthPlaceCode: String?

    public init(ids: [InstanceIdentifier] = [], ins: DocumentINS? = nil, birthName: String? = nil, usedName: String? = nil,
                given: [String] = [], birthDate: HL7Time? = nil, sex: String? = nil, birthPlaceCode: String? = nil) {
        self.ids = ids
        self.ins = ins
        self.birthName = birthName
        self.usedName = usedName
        self.given = given
        self.birthDate = birthDate
        self.sex = sex
        self.birthPlaceCode = birthPlaceCode
    }

    /// Ids that are not the INS: IPPs and other local identifiers.
    public var localIDs: [InstanceIdentifier] { ids.filter { INSKind(oid: $0.root) == nil } }

    /// The first birth first name: the one the INS traits keep.
    public var firstName: String? {
        guard let all = given.first else { return nil }
        return all.split(separator: " ").first.map(String.init)
    }
}

/// An INS found in a document, kind told by its OID. `isValid` says whether the key checks.
public struct DocumentINS: Sendable, Equatable, Codable {
    public var value: String
    public var kind: INSKind
    public var isValid: Bool

    public init(value: String, kind: INSKind, isValid: Bool) {
        self.value = value
        self.kind = kind
        self.isValid = isValid
    }

    public var oid: String { kind.oid }

    /// The kind as the inspect contract names it.
    public var contractKind: String {
        switch kind {
        case .nir: "NIR"
        case .nia: "NIA"
        case .test: "NIR-test"
        case .demo: "NIR-demo"
        }
    }
}

/// documentationOf/serviceEvent: for an imaging report, the study itself.
public struct ServiceEvent: Sendable, Equatable, Codable {
    public var ids: [InstanceIdentifier]
    public var code: CodedValue?
    public var start: HL7Time?
    public var end: HL7Time?
    /// Modalities coded as translations in the DCM code system (CT, MR...).
    public var modalities: [String]

    public init(ids: [InstanceIdentifier] = [], code: CodedValue? = nil, start: HL7Time? = nil, end: HL7Time? = nil, modalities: [String] = []) {
        self.ids = ids
        self.code = code
        self.start = start
        self.end = end
        self.modalities = modalities
    }
}

/// inFulfillmentOf/order: the order number and, for imaging, the accession number.
public struct FulfilledOrder: Sendable, Equatable, Codable {
    public var ids: [InstanceIdentifier]
    public var accessionNumbers: [InstanceIdentifier]
}

/// A section of the structured body, with its narrative already made safe.
public struct CDASection: Sendable, Equatable, Codable {
    public var code: CodedValue?
    public var title: String?
    public var templateIDs: [String]
    /// The narrative block as HTML built from an allow-list: safe to insert in a page.
    public var narrativeHTML: String
    public var subsections: [CDASection]

    public init(code: CodedValue? = nil, title: String? = nil, templateIDs: [String] = [], narrativeHTML: String = "", subsections: [CDASection] = []) {
        self.code = code
        self.title = title
        self.templateIDs = templateIDs
        self.narrativeHTML = narrativeHTML
        self.subsections = subsections
    }

    /// This section and every nested one, depth first.
    public var flattened: [CDASection] { [self] + subsections.flatMap(\.flattened) }
}

/// Clinical and pathological TNM as coded in entries (values such as "T1b", "N0").
public struct TNMEntries: Sendable, Equatable, Codable {
    public var cT: String?
    public var cN: String?
    public var cM: String?
    public var pT: String?
    public var pN: String?
    public var pM: String?

    public init(cT: String? = nil, cN: String? = nil, cM: String? = nil, pT: String? = nil, pN: String? = nil, pM: String? = nil) {
        self.cT = cT
        self.cN = cN
        self.cM = cM
        self.pT = pT
        self.pN = pN
        self.pM = pM
    }

    public var isEmpty: Bool { [cT, cN, cM, pT, pN, pM].allSatisfy { $0 == nil } }

    /// Records a staged value under its LOINC code (clinical 2190x, pathological
    /// 21899-0/21900-6/21901-4); the first value of each wins. False for other codes.
    mutating func record(loinc: String, value: String) -> Bool {
        func keep(_ slot: inout String?) { if slot == nil { slot = value } }
        switch loinc {
        case "21905-5": keep(&cT)
        case "21906-3": keep(&cN)
        case "21907-1": keep(&cM)
        case "21899-0": keep(&pT)
        case "21900-6": keep(&pN)
        case "21901-4": keep(&pM)
        default: return false
        }
        return true
    }

    static let loincCodes: Set<String> = ["21905-5", "21906-3", "21907-1", "21899-0", "21900-6", "21901-4"]
}

/// A study listed in a DICOM object catalog section (DCM 121181).
public struct CatalogStudy: Sendable, Equatable, Codable {
    public var uid: String
    public var series: [CatalogSeries]
}

public struct CatalogSeries: Sendable, Equatable, Codable {
    public var uid: String
    public var modality: String?
    public var instanceUIDs: [String]
}

/// What a fiche RCP (34794-8) says the board decided.
public struct BoardOutcome: Sendable, Equatable, Codable {
    /// The care plan section's narrative as plain text (the board's proposal).
    public var proposal: String?
    /// ORG-126 (met) or ORG-133 (not met), from the ORG-125 observation.
    public var quorumCode: String?
    /// GEN-100 "dossier complet".
    public var fileComplete: Bool?
}

public enum CDABody: Sendable, Equatable {
    case structured([CDASection])
    /// nonXMLBody: media type and the decoded bytes (a PDF for the N1 documents).
    case nonXML(mediaType: String?, data: Data?)
    case missing
}

/// An attachment carried inside a structured document (the FR-Document-PDF-copie section).
public struct EmbeddedFile: Sendable, Equatable {
    public var mediaType: String
    public var data: Data
}

/// Everything Concerto reads from one CDA R2 document.
public struct CDADocument: Sendable, Equatable {
    /// How the file carried the document: a plain ClinicalDocument, or one embedded in an
    /// XSLT stylesheet ("auto-présentable").
    public enum Presentation: String, Sendable, Equatable {
        case plain
        case selfPresenting = "self_presenting"
    }

    public var presentation: Presentation = .plain
    /// The items of a personalised care plan (PPS), in document order.
    public var carePlan: [CarePlanItem] = []
    public var id: InstanceIdentifier?
    public var setID: InstanceIdentifier?
    public var version: Int?
    public var type: CodedValue?
    public var templateIDs: [String]
    public var title: String?
    public var effectiveTime: HL7Time?
    public var confidentiality: CodedValue?
    public var language: String?
    public var patient: CDAPatient?
    public var authors: [CDAPerson]
    public var custodian: CDAOrganisation?
    public var legalAuthenticator: CDAPerson?
    public var serviceEvents: [ServiceEvent]
    public var orders: [FulfilledOrder]
    public var body: CDABody
    public var tnm: TNMEntries
    public var catalog: [CatalogStudy]
    public var boardOutcome: BoardOutcome?
    public var embeddedFiles: [EmbeddedFile]

    /// Top-level sections in document order (empty for a non-XML body).
    public var sections: [CDASection] {
        if case .structured(let sections) = body { return sections }
        return []
    }

    /// Study instance UIDs named by the document: service events first, then the DICOM
    /// catalog, each once, in document order.
    public var studyInstanceUIDs: [String] {
        var seen = Set<String>()
        var uids: [String] = []
        for uid in serviceEvents.flatMap({ $0.ids.filter { $0.extension == nil }.map(\.root) }) + catalog.map(\.uid)
        where DICOMUID.isValid(uid) && seen.insert(uid).inserted {
            uids.append(uid)
        }
        return uids
    }

    /// Accession numbers of the orders the document fulfils.
    public var accessionNumbers: [String] { orders.flatMap(\.accessionNumbers).compactMap(\.extension) }

    /// The PDF a reader can download: the non-XML body, or an embedded copy.
    public var pdf: Data? {
        if case .nonXML(let mediaType, let data) = body, mediaType == "application/pdf", let data { return data }
        return embeddedFiles.first { $0.mediaType == "application/pdf" }?.data
    }

    public static let ficheRCPCode = "34794-8"
    public static let imagingReportCode = "18748-4"
}

/// DICOM UIDs: digits and dots, at most 64 characters, no empty or zero-led component.
public enum DICOMUID {
    public static func isValid(_ uid: String) -> Bool {
        let utf8 = uid.utf8
        guard !utf8.isEmpty, utf8.count <= 64 else { return false }
        var componentStart = true
        var componentLeadingZero = false
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "."):
                if componentStart { return false }
                componentStart = true
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if componentStart { componentLeadingZero = byte == UInt8(ascii: "0"); componentStart = false }
                else if componentLeadingZero { return false }
            default:
                return false
            }
        }
        return !componentStart
    }
}

/// One item of a personalised care plan (Programme personnalisé de soins, CI-SIS
/// CANCER-PPS 2022.01): a treatment, a side-effect prevention, an associated measure or a
/// follow-up, done or planned, with its dates.
extension [CarePlanItem] {
    /// The days the treatments (MED-568) recorded as done started: what a care plan tells
    /// of the decision it carries out.
    public var treatmentsStarted: [CalendarDate] {
        filter { $0.done && $0.kind.code == "MED-568" }.compactMap { $0.start?.date }
    }
}

public struct CarePlanItem: Sendable, Equatable, Codable {
    /// The CI-SIS "FR-Traitement" entry the items are read from.
    public static let template = "1.2.250.1.213.1.1.3.62"
    /// The PPS document's templateId.
    public static let documentTemplate = "1.2.250.1.213.1.1.1.26"

    /// MED-568 treatment, MED-569 side-effect prevention, MED-570 associated measure, MED-571 follow-up.
    public var kind: CodedValue
    public var what: CodedValue?
    /// Carried out (moodCode EVN), else planned (INT).
    public var done: Bool
    public var start: HL7Time?
    public var end: HL7Time?
    public var plannedStart: HL7Time?
    public var plannedEnd: HL7Time?

    public init(kind: CodedValue, what: CodedValue?, done: Bool, start: HL7Time? = nil, end: HL7Time? = nil,
                plannedStart: HL7Time? = nil, plannedEnd: HL7Time? = nil) {
        self.kind = kind
        self.what = what
        self.done = done
        self.start = start
        self.end = end
        self.plannedStart = plannedStart
        self.plannedEnd = plannedEnd
    }
}

extension CDADocument {
    /// A personalised care plan (PPS): its template, or its LOINC type.
    public var isPersonalisedCarePlan: Bool {
        templateIDs.contains(CarePlanItem.documentTemplate) || type?.code == "18776-5"
    }
}
