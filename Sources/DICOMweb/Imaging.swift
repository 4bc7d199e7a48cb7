import ConcertoCore
import Foundation

/// Who the exchange files images under: PatientID plus its issuer (0010,0021), the INS
/// with its OID or a local IPP with the issuing organisation's assigning authority.
public struct PatientIdentifier: Sendable, Hashable {
    public var id: String
    public var issuer: String?

    public init(id: String, issuer: String?) {
        self.id = id
        self.issuer = issuer
    }
}

/// A QIDO-RS study search. Only what is set becomes a query parameter.
public struct StudyQuery: Sendable, Equatable {
    public var patient: PatientIdentifier?
    public var from: CalendarDate?
    public var to: CalendarDate?
    public var modalities: [String]
    public var accessionNumber: String?
    public var studyInstanceUID: String?
    public var limit: Int?
    public var offset: Int?

    public init(
        patient: PatientIdentifier? = nil, from: CalendarDate? = nil, to: CalendarDate? = nil, modalities: [String] = [],
        accessionNumber: String? = nil, studyInstanceUID: String? = nil, limit: Int? = nil, offset: Int? = nil
    ) {
        self.patient = patient
        self.from = from
        self.to = to
        self.modalities = modalities
        self.accessionNumber = accessionNumber
        self.studyInstanceUID = studyInstanceUID
        self.limit = limit
        self.offset = offset
    }

    /// The fields a study list shows, asked for explicitly: servers return only the
    /// required ones otherwise (counts and descriptions are optional in PS3.18).
    static let includedFields: [DICOMTag] = [
        .studyDescription, .modalitiesInStudy, .numberOfStudyRelatedSeries, .numberOfStudyRelatedInstances, .issuerOfPatientID,
        .patientBirthDate, .patientSex,
    ]

    /// DICOM matching turns `*` and `?` into wildcards and `\\` (or `,` in QIDO-RS) into
    /// lists: in an identifier or a filter they would widen the search to other patients'
    /// studies. Such a query is never sent.
    public var isSafeToSend: Bool {
        let exact = [patient?.id, patient?.issuer, accessionNumber, studyInstanceUID].compactMap { $0 }
        return exact.allSatisfy(Self.hasNoMatchingCharacters) && modalities.allSatisfy(ImagingModality.isValid)
    }

    public static func hasNoMatchingCharacters(_ value: String) -> Bool {
        !value.utf8.contains { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: ",") || $0 < 0x20 }
            && !value.isEmpty
    }

    public var queryItems: [URLQueryItem] {
        var items: [URLQueryItem] = []
        if let patient {
            items.append(URLQueryItem(name: "PatientID", value: patient.id))
            if let issuer = patient.issuer { items.append(URLQueryItem(name: DICOMTag.issuerOfPatientID.key, value: issuer)) }
        }
        if let range = DICOMDate.range(from: from, to: to) { items.append(URLQueryItem(name: "StudyDate", value: range)) }
        // Several modalities are a list of UIDs/values separated by backslash or commas;
        // PS3.18 8.3.4.1 allows repeating the key or a comma-separated list.
        if !modalities.isEmpty { items.append(URLQueryItem(name: "ModalitiesInStudy", value: modalities.joined(separator: ","))) }
        if let accessionNumber { items.append(URLQueryItem(name: "AccessionNumber", value: accessionNumber)) }
        if let studyInstanceUID { items.append(URLQueryItem(name: "StudyInstanceUID", value: studyInstanceUID)) }
        for field in Self.includedFields { items.append(URLQueryItem(name: "includefield", value: field.key)) }
        if let limit { items.append(URLQueryItem(name: "limit", value: String(limit))) }
        if let offset, offset > 0 { items.append(URLQueryItem(name: "offset", value: String(offset))) }
        return items
    }
}

/// One study as a list shows it.
public struct StudySummary: Sendable, Equatable {
    public var studyInstanceUID: String
    public var date: CalendarDate?
    public var time: String?
    public var accessionNumber: String?
    public var description: String?
    public var modalities: [String]
    public var seriesCount: Int?
    public var instanceCount: Int?
    public var patientID: String?
    public var issuer: String?
    public var patientName: PersonName?
    public var patientBirthDate: CalendarDate?
    /// DICOM's code: M, F or O.
    public var patientSex: String?

    public init(
        studyInstanceUID: String, date: CalendarDate? = nil, time: String? = nil, accessionNumber: String? = nil, description: String? = nil,
        modalities: [String] = [], seriesCount: Int? = nil, instanceCount: Int? = nil, patientID: String? = nil, issuer: String? = nil,
        patientName: PersonName? = nil, patientBirthDate: CalendarDate? = nil, patientSex: String? = nil
    ) {
        self.studyInstanceUID = studyInstanceUID
        self.date = date
        self.time = time
        self.accessionNumber = accessionNumber
        self.description = description
        self.modalities = modalities
        self.seriesCount = seriesCount
        self.instanceCount = instanceCount
        self.patientID = patientID
        self.issuer = issuer
        self.patientName = patientName
        self.patientBirthDate = patientBirthDate
        self.patientSex = patientSex
    }

    /// Nil when the data set has no usable StudyInstanceUID: such a result cannot be referenced.
    public init?(_ dataset: DICOMDataset) {
        guard let uid = dataset.string(.studyInstanceUID), DICOMUIDSyntax.isValid(uid) else { return nil }
        self.init(
            studyInstanceUID: uid, date: dataset.date(.studyDate), time: dataset.string(.studyTime),
            accessionNumber: dataset.string(.accessionNumber), description: dataset.string(.studyDescription),
            // Multi-valued CS: one value per modality, without duplicates, in the order given.
            modalities: dataset.strings(.modalitiesInStudy).reduce(into: []) { list, value in
                let modality = value.trimmedSpaces.uppercased()
                if !modality.isEmpty && !list.contains(modality) { list.append(modality) }
            },
            seriesCount: dataset.integer(.numberOfStudyRelatedSeries), instanceCount: dataset.integer(.numberOfStudyRelatedInstances),
            patientID: dataset.string(.patientID), issuer: dataset.string(.issuerOfPatientID), patientName: dataset.personName(.patientName),
            patientBirthDate: dataset.date(.patientBirthDate), patientSex: dataset.string(.patientSex)?.trimmedSpaces.uppercased()
        )
    }

    /// Why a study the exchange returned is not this patient's: exchanges match loosely
    /// (an issuer they do not index is ignored, an IPP of another hospital looks alike),
    /// so what comes back is checked before anyone sees or attaches it.
    public enum OwnershipMismatch: String, Sendable, Equatable {
        /// PatientID and IssuerOfPatientID are not exactly one of the patient's identifiers.
        case identifier = "study_identifier_mismatch"
        case birthDate = "study_birth_date_mismatch"
        case sex = "study_sex_mismatch"
    }

    /// Nil when the study is this patient's: its PatientID and issuer equal one of the
    /// patient's identifiers, and its birth date and sex, when the exchange gives them,
    /// agree with the identity (DICOM's O, other, agrees with anything).
    public func ownershipMismatch(identifiers: [PatientIdentifier], birthDate: CalendarDate, sex: AdministrativeSex) -> OwnershipMismatch? {
        guard let patientID, identifiers.contains(where: { $0.id == patientID && $0.issuer != nil && $0.issuer == issuer }) else {
            return .identifier
        }
        if let patientBirthDate, patientBirthDate != birthDate { return .birthDate }
        if let patientSex, ["M", "F"].contains(patientSex), sex != .undetermined, patientSex != sex.rawValue { return .sex }
        return nil
    }

    /// Newest first; studies without a date last, then by UID so the order is stable.
    public static func newestFirst(_ lhs: StudySummary, _ rhs: StudySummary) -> Bool {
        switch (lhs.date, rhs.date) {
        case let (left?, right?) where left != right: left > right
        case (.some, nil): true
        case (nil, .some): false
        default: (lhs.time ?? "", lhs.studyInstanceUID) > (rhs.time ?? "", rhs.studyInstanceUID)
        }
    }
}

public struct SeriesSummary: Sendable, Equatable {
    public var seriesInstanceUID: String
    public var modality: String?
    public var number: Int?
    public var description: String?
    public var instanceCount: Int?

    public init?(_ dataset: DICOMDataset) {
        guard let uid = dataset.string(.seriesInstanceUID), DICOMUIDSyntax.isValid(uid) else { return nil }
        seriesInstanceUID = uid
        modality = dataset.string(.modality)
        number = dataset.integer(.seriesNumber)
        description = dataset.string(.seriesDescription)
        instanceCount = dataset.integer(.numberOfSeriesRelatedInstances)
    }

    /// The series a thumbnail should show: image modalities before structured reports,
    /// presentation states and the like; then the one with most images, then the first.
    public static func keySeries(_ series: [SeriesSummary]) -> SeriesSummary? {
        let nonImage: Set<String> = ["SR", "PR", "KO", "DOC", "REG", "SEG", "RTSTRUCT", "RTPLAN", "RTDOSE"]
        return series.enumerated().max { lhs, rhs in
            let left = (nonImage.contains(lhs.element.modality ?? "") ? 0 : 1, lhs.element.instanceCount ?? 0, -lhs.offset)
            let right = (nonImage.contains(rhs.element.modality ?? "") ? 0 : 1, rhs.element.instanceCount ?? 0, -rhs.offset)
            return left < right
        }?.element
    }
}

public struct InstanceSummary: Sendable, Equatable {
    public var sopInstanceUID: String
    public var number: Int?

    public init?(_ dataset: DICOMDataset) {
        guard let uid = dataset.string(.sopInstanceUID), DICOMUIDSyntax.isValid(uid) else { return nil }
        sopInstanceUID = uid
        number = dataset.integer(.instanceNumber)
    }
}

/// A rendered picture from WADO-RS.
public struct RenderedImage: Sendable {
    public var bytes: Data
    public var contentType: String

    public init(bytes: Data, contentType: String) {
        self.bytes = bytes
        self.contentType = contentType
    }
}

/// UID syntax (PS3.5 9.1): digits and dots, components without leading zeros, at most 64
/// characters. Checked before a UID from a URL or a server goes into a request path.
public enum DICOMUIDSyntax {
    public static func isValid(_ uid: String) -> Bool {
        let utf8 = uid.utf8
        guard !utf8.isEmpty, utf8.count <= 64 else { return false }
        // One pass over the bytes: digits and single dots, no leading zero in a component.
        var componentLength = 0
        var componentStartsWithZero = false
        for byte in utf8 {
            if byte == UInt8(ascii: ".") {
                guard componentLength > 0 else { return false }
                componentLength = 0
            } else if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                if componentLength == 0 { componentStartsWithZero = byte == UInt8(ascii: "0") } else if componentStartsWithZero { return false }
                componentLength += 1
            } else {
                return false
            }
        }
        return componentLength > 0
    }
}

/// Modality codes a search form offers (PS3.3 C.7.3.1.1.1), the ones tumour boards look at.
public enum ImagingModality {
    public static let common: [String] = ["CT", "MR", "PT", "NM", "MG", "US", "CR", "DX", "XA"]

    /// A modality filter from a form: upper-case codes of 1 to 16 letters/digits.
    public static func isValid(_ code: String) -> Bool {
        (1...16).contains(code.count) && code.allSatisfy { $0.isASCII && ($0.isUppercase || $0.isNumber) }
    }
}
