import Foundation

/// The `concerto cda inspect --json` contract: one object per file, every key always
/// present (absent values are `null` or `[]`). Hospital scripts parse this; add keys,
/// never rename or drop one.
public struct CDAInspection: Encodable, Sendable {
    public let file: String
    public let report: CDAReport

    public init(file: String, report: CDAReport) {
        self.file = file
        self.report = report
    }

    enum Key: String, CodingKey {
        case file, ok, errors, warnings, documentId, setId, version, type, title, effectiveTime, confidentiality,
             language, patient, authors, custodian, legalAuthenticator, sections, studyInstanceUIDs,
             accessionNumbers, tnm, boardOutcome, body, mediaType, pdfBytes, presentation
    }

    struct Identifier: Encodable {
        let root: String
        let `extension`: String?
        init(_ id: InstanceIdentifier) { root = id.root; self.extension = id.extension }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(root, forKey: .root)
            try container.encode(self.extension, forKey: .extension)
        }
        enum Key: String, CodingKey { case root, `extension` }
    }

    struct Coded: Encodable {
        let value: CodedValue
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(value.code, forKey: .code)
            try container.encode(value.codeSystem, forKey: .codeSystem)
            try container.encode(value.displayName, forKey: .displayName)
        }
        enum Key: String, CodingKey { case code, codeSystem, displayName }
    }

    struct Patient: Encodable {
        let patient: CDAPatient
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(patient.ids.map(Identifier.init), forKey: .ids)
            if let ins = patient.ins {
                var nested = container.nestedContainer(keyedBy: INSKey.self, forKey: .ins)
                try nested.encode(ins.value, forKey: .value)
                try nested.encode(ins.oid, forKey: .oid)
                try nested.encode(ins.contractKind, forKey: .kind)
                try nested.encode(ins.isValid, forKey: .keyValid)
            } else {
                try container.encodeNil(forKey: .ins)
            }
            try container.encode(patient.birthName, forKey: .birthName)
            try container.encode(patient.usedName, forKey: .usedName)
            try container.encode(patient.given, forKey: .given)
            try container.encode(patient.birthDate?.iso, forKey: .birthDate)
            try container.encode(patient.sex, forKey: .sex)
            try container.encode(patient.birthPlaceCode, forKey: .birthPlaceCode)
        }
        enum Key: String, CodingKey { case ids, ins, birthName, usedName, given, birthDate, sex, birthPlaceCode }
        enum INSKey: String, CodingKey { case value, oid, kind, keyValid }
    }

    struct Person: Encodable {
        let person: CDAPerson
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(person.id.map(Identifier.init), forKey: .id)
            try container.encode(person.family, forKey: .family)
            try container.encode(person.given, forKey: .given)
            try container.encode(person.rpps, forKey: .rpps)
            try container.encode(person.specialty.map(Coded.init), forKey: .specialty)
            try container.encode(person.organisation.map(Organisation.init), forKey: .organisation)
        }
        enum Key: String, CodingKey { case id, family, given, rpps, specialty, organisation }
    }

    struct Organisation: Encodable {
        let organisation: CDAOrganisation
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(organisation.id.map(Identifier.init), forKey: .id)
            try container.encode(organisation.name, forKey: .name)
            try container.encode(organisation.finess, forKey: .finess)
        }
        enum Key: String, CodingKey { case id, name, finess }
    }

    struct Section: Encodable {
        let section: CDASection
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(section.code?.code, forKey: .code)
            try container.encode(section.title, forKey: .title)
        }
        enum Key: String, CodingKey { case code, title }
    }

    struct TNM: Encodable {
        let tnm: TNMEntries
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(tnm.cT, forKey: .cT)
            try container.encode(tnm.cN, forKey: .cN)
            try container.encode(tnm.cM, forKey: .cM)
            try container.encode(tnm.pT, forKey: .pT)
            try container.encode(tnm.pN, forKey: .pN)
            try container.encode(tnm.pM, forKey: .pM)
        }
        enum Key: String, CodingKey { case cT, cN, cM, pT, pN, pM }
    }

    struct Outcome: Encodable {
        let outcome: BoardOutcome
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(outcome.proposal, forKey: .proposal)
            try container.encode(outcome.quorumCode, forKey: .quorumCode)
            try container.encode(outcome.fileComplete, forKey: .fileComplete)
        }
        enum Key: String, CodingKey { case proposal, quorumCode, fileComplete }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        let document = report.document
        try container.encode(file, forKey: .file)
        try container.encode(report.ok, forKey: .ok)
        try container.encode(report.errors, forKey: .errors)
        try container.encode(report.warnings, forKey: .warnings)
        try container.encode(document?.id.map(Identifier.init), forKey: .documentId)
        try container.encode(document?.setID.map(Identifier.init), forKey: .setId)
        try container.encode(document?.version, forKey: .version)
        try container.encode(document?.type.map(Coded.init), forKey: .type)
        try container.encode(document?.title, forKey: .title)
        try container.encode(document?.effectiveTime?.iso, forKey: .effectiveTime)
        try container.encode(document?.confidentiality?.code, forKey: .confidentiality)
        try container.encode(document?.language, forKey: .language)
        try container.encode(document?.patient.map(Patient.init), forKey: .patient)
        try container.encode((document?.authors ?? []).map(Person.init), forKey: .authors)
        try container.encode(document?.custodian.map(Organisation.init), forKey: .custodian)
        try container.encode(document?.legalAuthenticator.map(Person.init), forKey: .legalAuthenticator)
        try container.encode((document?.sections ?? []).map(Section.init), forKey: .sections)
        try container.encode(document?.studyInstanceUIDs ?? [], forKey: .studyInstanceUIDs)
        try container.encode(document?.accessionNumbers ?? [], forKey: .accessionNumbers)
        try container.encode(TNM(tnm: document?.tnm ?? TNMEntries()), forKey: .tnm)
        try container.encode(document?.boardOutcome.map(Outcome.init), forKey: .boardOutcome)
        switch document?.body {
        case .structured?:
            try container.encode("structured", forKey: .body)
            try container.encodeNil(forKey: .mediaType)
        case .nonXML(let mediaType, _)?:
            try container.encode("nonXML", forKey: .body)
            try container.encode(mediaType, forKey: .mediaType)
        case .missing?, nil:
            try container.encodeNil(forKey: .body)
            try container.encodeNil(forKey: .mediaType)
        }
        try container.encode(document?.pdf?.count, forKey: .pdfBytes)
        try container.encode(document?.presentation.rawValue, forKey: .presentation)
    }

    /// One line of JSON, keys sorted so that outputs diff cleanly.
    public func jsonLine() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
        guard let data = try? encoder.encode(self) else { return "{\"file\":null,\"ok\":false}" }
        return String(decoding: data, as: UTF8.self)
    }
}
