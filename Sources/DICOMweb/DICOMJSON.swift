import ConcertoCore
import Foundation

/// A DICOM data set in the DICOM JSON model (PS3.18 annex F): attributes keyed by their
/// eight-hex-digit tag, each with its VR and values. Bulk data (`BulkDataURI`,
/// `InlineBinary`) is recognised and kept out: Concerto never stores pixel data.
public struct DICOMDataset: Sendable, Equatable, Decodable {
    public var attributes: [String: DICOMAttribute]

    public init(attributes: [String: DICOMAttribute] = [:]) {
        self.attributes = attributes
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let raw = try container.decode([String: DICOMAttribute].self)
        // Tags are case-insensitive hex; servers differ ("0020000D" vs "0020000d").
        attributes = Dictionary(raw.map { ($0.key.uppercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
    }

    public subscript(tag: DICOMTag) -> DICOMAttribute? { attributes[tag.key] }

    /// A QIDO-RS answer: an array of data sets, read by `JSONScanner` (several times faster
    /// than `JSONDecoder` on this shape, and every search pays it: `concerto-bench
    /// dicom-json`). The `Decodable` conformance reads the same model for other callers.
    public static func decodeList(_ data: Data) throws -> [DICOMDataset] {
        guard case .array(let list) = try JSONScanner.parse(data) else { throw DICOMJSONError.notAList }
        return try list.map(dataset(from:))
    }

    static func dataset(from value: JSONValue) throws -> DICOMDataset {
        guard case .object(let object) = value else { throw DICOMJSONError.notAnObject }
        var attributes: [String: DICOMAttribute] = [:]
        attributes.reserveCapacity(object.count)
        for (key, value) in object {
            guard case .object(let attribute) = value else { throw DICOMJSONError.notAnObject }
            attributes[key.uppercased()] = try DICOMAttribute(json: attribute)
        }
        return DICOMDataset(attributes: attributes)
    }

    /// Every text value of the attribute (numbers as written, person names alphabetically).
    public func strings(_ tag: DICOMTag) -> [String] {
        self[tag]?.values.compactMap(\.text) ?? []
    }

    /// The first value, trimmed; nil when absent or empty.
    public func string(_ tag: DICOMTag) -> String? {
        strings(tag).first.map(\.trimmedSpaces).flatMap { $0.isEmpty ? nil : $0 }
    }

    public func integer(_ tag: DICOMTag) -> Int? {
        guard let value = self[tag]?.values.first else { return nil }
        switch value {
        case .number(let number): return Int(exactly: number.rounded())
        case .string(let text): return Int(text.trimmedSpaces)
        default: return nil
        }
    }

    /// A DA value (`YYYYMMDD`; the old `YYYY.MM.DD` form is read too).
    public func date(_ tag: DICOMTag) -> CalendarDate? {
        string(tag).flatMap(DICOMDate.parse)
    }

    public func personName(_ tag: DICOMTag) -> PersonName? {
        guard case .personName(let name)? = self[tag]?.values.first else { return nil }
        return name
    }

    public func sequence(_ tag: DICOMTag) -> [DICOMDataset] {
        self[tag]?.values.compactMap { if case .dataset(let item) = $0 { item } else { nil } } ?? []
    }
}

public struct DICOMAttribute: Sendable, Equatable, Decodable {
    public var vr: String
    public var values: [DICOMValue]
    /// Where the bulk data lives when the server chose not to inline it.
    public var bulkDataURI: String?

    public init(vr: String, values: [DICOMValue]) {
        self.vr = vr
        self.values = values
    }

    enum CodingKeys: String, CodingKey {
        case vr, Value, BulkDataURI, InlineBinary
    }

    /// From a scanned JSON object (see `DICOMDataset.decodeList`).
    init(json object: [String: JSONValue]) throws {
        func text(_ value: JSONValue?) -> String? { if case .string(let text)? = value { text } else { nil } }
        vr = text(object["vr"]) ?? "UN"
        bulkDataURI = text(object["BulkDataURI"])
        guard case .array(let raw)? = object["Value"] else {
            values = []
            return
        }
        let numeric = Self.numericVRs.contains(vr)
        var values: [DICOMValue] = []
        values.reserveCapacity(raw.count)
        for item in raw {
            switch item {
            case .null:
                values.append(.null)
            case .object(let name) where vr == "PN":
                var person = PersonName(alphabetic: text(name["Alphabetic"]))
                person.ideographic = text(name["Ideographic"])
                person.phonetic = text(name["Phonetic"])
                values.append(.personName(person))
            case .object where vr == "SQ":
                values.append(.dataset(try DICOMDataset.dataset(from: item)))
            case .string(let text):
                values.append(numeric ? Double(text.trimmedSpaces).map(DICOMValue.number) ?? .string(text) : .string(text))
            case .number(let number):
                values.append(.number(number))
            case .bool, .array, .object:
                throw DICOMJSONError.unexpectedValue
            }
        }
        self.values = values
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        vr = try container.decodeIfPresent(String.self, forKey: .vr) ?? "UN"
        bulkDataURI = try container.decodeIfPresent(String.self, forKey: .BulkDataURI)
        guard container.contains(.Value) else {
            values = []
            return
        }
        var items = try container.nestedUnkeyedContainer(forKey: .Value)
        var values: [DICOMValue] = []
        // The VR says which JSON type to expect (PS3.18 F.2.3), so the common case decodes
        // without a failed attempt: a thrown DecodingError costs more than the value.
        let numeric = Self.numericVRs.contains(vr)
        while !items.isAtEnd {
            if try items.decodeNil() {
                values.append(.null)
            } else if vr == "PN" {
                values.append(.personName(try items.decode(PersonName.self)))
            } else if vr == "SQ" {
                values.append(.dataset(try items.decode(DICOMDataset.self)))
            } else if numeric {
                values.append(try items.decode(NumberFirst.self).value)
            } else {
                values.append(try items.decode(TextFirst.self).value)
            }
        }
        self.values = values
    }
}

extension DICOMAttribute {
    /// VRs whose values DICOM JSON writes as numbers (IS and DS may come as strings too).
    static let numericVRs: Set<String> = ["IS", "DS", "SL", "SS", "UL", "US", "FL", "FD", "SV", "UV"]

    /// A number, or the string a server wrote instead ("6" for an IS).
    struct NumberFirst: Decodable {
        let value: DICOMValue
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(Double.self) {
                value = .number(number)
            } else {
                let text = try container.decode(String.self)
                value = Double(text.trimmedSpaces).map(DICOMValue.number) ?? .string(text)
            }
        }
    }

    /// A string, or a number where a server wrote one.
    struct TextFirst: Decodable {
        let value: DICOMValue
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                value = .string(text)
            } else {
                value = .number(try container.decode(Double.self))
            }
        }
    }
}

public enum DICOMValue: Sendable, Equatable {
    case string(String)
    case number(Double)
    case personName(PersonName)
    case dataset(DICOMDataset)
    case null

    /// The value as text: numbers without a needless ".0", names in their alphabetic form.
    public var text: String? {
        switch self {
        case .string(let text): text
        case .number(let number): number.rounded() == number && abs(number) < 1e15 ? String(Int(number)) : String(number)
        case .personName(let name): name.alphabetic
        case .dataset, .null: nil
        }
    }
}

public enum DICOMJSONError: Error {
    case notAList, notAnObject, unexpectedValue
}

/// A PN value: alphabetic, ideographic and phonetic groups, each `Family^Given^Middle^Prefix^Suffix`.
public struct PersonName: Sendable, Equatable, Decodable {
    public var alphabetic: String?
    public var ideographic: String?
    public var phonetic: String?

    enum CodingKeys: String, CodingKey {
        case alphabetic = "Alphabetic", ideographic = "Ideographic", phonetic = "Phonetic"
    }

    public init(alphabetic: String?) {
        self.alphabetic = alphabetic
    }

    public var familyName: String? { component(0) }
    public var givenName: String? { component(1) }

    /// "Given Family", the way a French page writes a name.
    public var display: String {
        [givenName, familyName].compactMap { $0 }.joined(separator: " ")
    }

    private func component(_ index: Int) -> String? {
        guard let alphabetic else { return nil }
        let parts = alphabetic.split(separator: "^", omittingEmptySubsequences: false)
        guard index < parts.count else { return nil }
        let part = parts[index].trimmingCharacters(in: .whitespaces)
        return part.isEmpty ? nil : part
    }
}

/// A data element tag, written as DICOM JSON keys it (`0020000D`).
public struct DICOMTag: Sendable, Hashable, CustomStringConvertible {
    public let key: String

    public init(_ key: String) {
        self.key = key.uppercased()
    }

    public var description: String { key }

    public static let specificCharacterSet = DICOMTag("00080005")
    public static let studyDate = DICOMTag("00080020")
    public static let studyTime = DICOMTag("00080030")
    public static let accessionNumber = DICOMTag("00080050")
    public static let modality = DICOMTag("00080060")
    public static let modalitiesInStudy = DICOMTag("00080061")
    public static let referringPhysicianName = DICOMTag("00080090")
    public static let studyDescription = DICOMTag("00081030")
    public static let seriesDescription = DICOMTag("0008103E")
    public static let retrieveURL = DICOMTag("00081190")
    public static let patientName = DICOMTag("00100010")
    public static let patientID = DICOMTag("00100020")
    public static let issuerOfPatientID = DICOMTag("00100021")
    public static let patientBirthDate = DICOMTag("00100030")
    public static let patientSex = DICOMTag("00100040")
    public static let studyInstanceUID = DICOMTag("0020000D")
    public static let seriesInstanceUID = DICOMTag("0020000E")
    public static let studyID = DICOMTag("00200010")
    public static let seriesNumber = DICOMTag("00200011")
    public static let instanceNumber = DICOMTag("00200013")
    public static let numberOfStudyRelatedSeries = DICOMTag("00201206")
    public static let numberOfStudyRelatedInstances = DICOMTag("00201208")
    public static let numberOfSeriesRelatedInstances = DICOMTag("00201209")
    public static let sopClassUID = DICOMTag("00080016")
    public static let sopInstanceUID = DICOMTag("00080018")
}

extension String {
    /// Without the leading and trailing spaces DICOM pads values with (ASCII only: far
    /// cheaper than Foundation's `trimmingCharacters`, which showed in profiles).
    var trimmedSpaces: String {
        let utf8 = self.utf8
        guard let first = utf8.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }) else { return "" }
        let last = utf8.lastIndex(where: { $0 != 0x20 && $0 != 0x09 })!
        if first == utf8.startIndex && last == utf8.index(before: utf8.endIndex) { return self }
        return String(self[first...last])
    }
}

/// DICOM DA values and the DA range syntax QIDO-RS accepts.
public enum DICOMDate {
    public static func parse(_ raw: String) -> CalendarDate? {
        let digits = raw.replacingOccurrences(of: ".", with: "")
        guard digits.count == 8, digits.allSatisfy(\.isASCII), let number = Int(digits) else { return nil }
        return CalendarDate(year: number / 10_000, month: number / 100 % 100, day: number % 100)
    }

    public static func format(_ date: CalendarDate) -> String {
        date.iso.replacingOccurrences(of: "-", with: "")
    }

    /// `from-to`, `from-` or `-to` (PS3.4 range matching).
    public static func range(from: CalendarDate?, to: CalendarDate?) -> String? {
        if from == nil && to == nil { return nil }
        return "\(from.map(format) ?? "")-\(to.map(format) ?? "")"
    }
}
