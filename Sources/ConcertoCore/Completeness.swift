import Foundation

/// What a board asks a file to hold before it is discussed (issue 20), chosen per meeting
/// series from a fixed list, each item recommended or required.
public enum CompletenessCheck: Sendable, Hashable, Codable {
    /// A pathology report (LOINC 60568-3) filed for the patient in the community.
    case pathologyReport
    /// An imaging study attached to the fiche, done at most `days` days before the meeting.
    case recentImaging(days: Int)
    /// T, N and M staged (clinical or pathological T and N, clinical M).
    case tnmStaged
    case performanceStatus
    /// A molecular genetics report (LOINC 51969-4), asked only of fiches whose tumour site
    /// starts with one of `sites` (ICD-10 codes or categories: `C34`, `C18`...).
    case molecularResults(sites: [String])
    /// The question put to the board.
    case question
    /// A board's own item, which the presenter attests at registration.
    case attested(label: String)

    public var key: String {
        switch self {
        case .pathologyReport: "pathology_report"
        case .recentImaging: "recent_imaging"
        case .tnmStaged: "tnm_staged"
        case .performanceStatus: "performance_status"
        case .molecularResults: "molecular_results"
        case .question: "question"
        case .attested: "attested"
        }
    }

    public static let pathologyReportType = "60568-3"
    public static let molecularReportType = "51969-4"
}

public enum CompletenessLevel: String, Sendable, Hashable, Codable, CaseIterable {
    case recommended, required
}

public struct CompletenessItem: Sendable, Hashable, Codable {
    public var check: CompletenessCheck
    public var level: CompletenessLevel

    public init(_ check: CompletenessCheck, _ level: CompletenessLevel) {
        self.check = check; self.level = level
    }
}

/// The list a series (and the meetings it generates, which copy it) asks for.
public struct CompletenessRules: Sendable, Hashable, Codable {
    public var items: [CompletenessItem]

    public init(_ items: [CompletenessItem] = []) { self.items = items }

    public static let none = CompletenessRules()

    public enum Problem: String, Sendable, Error {
        case invalidImagingDays = "invalid_imaging_days", noMolecularSite = "no_molecular_site", unknownMolecularSite = "unknown_molecular_site"
        case emptyAttestation = "empty_attestation", tooManyItems = "too_many_items"
    }

    public func problems() -> [Problem] {
        var found: [Problem] = []
        for item in items {
            switch item.check {
            case .recentImaging(let days): if !(1...365).contains(days) { found.append(.invalidImagingDays) }
            case .molecularResults(let sites):
                if sites.isEmpty { found.append(.noMolecularSite) }
                if sites.contains(where: { site in !Terminology.tumourSites.concepts.contains { $0.code == site || $0.code.hasPrefix(site + ".") } }) {
                    found.append(.unknownMolecularSite)
                }
            case .attested(let label):
                if label.trimmingCharacters(in: .whitespaces).isEmpty || label.count > 200 { found.append(.emptyAttestation) }
            default: break
            }
        }
        if items.count > 20 { found.append(.tooManyItems) }
        return found
    }

    /// Stored form: JSON, stable key order.
    public var storageValue: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? #"{"items":[]}"#
    }

    public init(storageValue: String) {
        self = (try? JSONDecoder().decode(CompletenessRules.self, from: Data(storageValue.utf8))) ?? .none
    }
}

/// The fiche content's part of the evidence, kept as a column lists read (`content_facts`)
/// so an agenda of 40 fiches never decodes 40 documents.
public enum ContentFact: String, Sendable, Hashable, CaseIterable {
    case tnm, performanceStatus = "performance_status", question

    public static func of(_ content: CaseContent) -> Set<ContentFact> {
        var facts: Set<ContentFact> = []
        let tnm = content.tnm
        if (tnm.cT ?? tnm.pT) != nil, (tnm.cN ?? tnm.pN) != nil, tnm.cM != nil { facts.insert(.tnm) }
        if content.performanceStatusCode != nil { facts.insert(.performanceStatus) }
        if !(content.question ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { facts.insert(.question) }
        return facts
    }

    public static func storageValue(_ facts: Set<ContentFact>) -> String {
        allCases.filter(facts.contains).map(\.rawValue).joined(separator: " ")
    }

    public static func facts(storageValue: String) -> Set<ContentFact> {
        Set(storageValue.split(separator: " ").compactMap { ContentFact(rawValue: String($0)) })
    }
}

/// What is known of a fiche when its completeness is checked.
public struct CompletenessEvidence: Sendable, Hashable {
    /// One of the patient's reports in the community: its LOINC type and day.
    public struct Report: Sendable, Hashable {
        public var type: String
        public var day: CalendarDate?
        public init(type: String, day: CalendarDate?) { self.type = type; self.day = day }
    }
    public var tumourSiteCode: String?
    public var contentFacts: Set<ContentFact>
    public var reports: [Report]
    public var studyDays: [CalendarDate?]
    /// The board's own items the presenter attested.
    public var attested: Set<String>
    /// A coordinator's reason for registering the file without a required item.
    public var override: String?

    public init(tumourSiteCode: String?, contentFacts: Set<ContentFact>, reports: [Report] = [], studyDays: [CalendarDate?] = [],
                attested: Set<String> = [], override: String? = nil) {
        self.tumourSiteCode = tumourSiteCode; self.contentFacts = contentFacts; self.reports = reports; self.studyDays = studyDays; self.attested = attested
        self.override = override
    }
}

/// Each item of a board's list, met or not, for one fiche and one meeting day.
public struct CompletenessReport: Sendable, Hashable {
    public struct Line: Sendable, Hashable {
        public var item: CompletenessItem
        public var met: Bool
    }
    public var lines: [Line]

    public var missing: [CompletenessItem] { lines.filter { !$0.met }.map(\.item) }
    public var missingRequired: [CompletenessItem] { missing.filter { $0.level == .required } }
    public var missingRecommended: [CompletenessItem] { missing.filter { $0.level == .recommended } }
    public var isComplete: Bool { lines.allSatisfy(\.met) }
    public var metCount: Int { lines.filter(\.met).count }
}

extension CompletenessRules {
    /// The items that apply to this fiche (molecular results only for the sites named),
    /// each met or not by `evidence`, for a meeting on `meetingDay`.
    public func evaluate(_ evidence: CompletenessEvidence, meetingDay: CalendarDate) -> CompletenessReport {
        var lines: [CompletenessReport.Line] = []
        for item in items {
            let met: Bool
            switch item.check {
            case .pathologyReport:
                met = evidence.reports.contains { $0.type == CompletenessCheck.pathologyReportType }
            case .recentImaging(let days):
                let earliest = ParisCalendar.adding(days: -days, to: meetingDay)
                met = evidence.studyDays.contains { day in day.map { $0 >= earliest && $0 <= meetingDay } ?? false }
            case .tnmStaged: met = evidence.contentFacts.contains(.tnm)
            case .performanceStatus: met = evidence.contentFacts.contains(.performanceStatus)
            case .question: met = evidence.contentFacts.contains(.question)
            case .molecularResults(let sites):
                guard let site = evidence.tumourSiteCode, sites.contains(where: { site == $0 || site.hasPrefix($0 + ".") }) else { continue }
                met = evidence.reports.contains { $0.type == CompletenessCheck.molecularReportType }
            case .attested(let label): met = evidence.attested.contains(label)
            }
            lines.append(.init(item: item, met: met))
        }
        return CompletenessReport(lines: lines)
    }
}
