import Foundation

/// The ICD-10 blocks of chapter II that group the CI-SIS tumour sites in the 3C's reports.
public enum TumourSiteGroup: String, Sendable, CaseIterable, Codable {
    case lipOralPharynx = "C00-C14", digestive = "C15-C26", respiratory = "C30-C39", bone = "C40-C41", skin = "C43-C44"
    case softTissue = "C45-C49", breast = "C50", femaleGenital = "C51-C58", maleGenital = "C60-C63", urinary = "C64-C68"
    case eyeBrainNervous = "C69-C72", endocrine = "C73-C75", illDefined = "C76-C80", haematological = "C81-C96", multiple = "C97"
    case inSitu = "D00-D09", uncertain = "D37-D48", unknown = "?"

    /// The group of a site code or category (`C34.1`, `C50`); unknown when absent or unlisted.
    public static func of(_ code: String?) -> TumourSiteGroup {
        guard let code, code.count >= 3, let letter = code.first, let number = Int(code.dropFirst().prefix(2)) else { return .unknown }
        for group in allCases where group != .unknown {
            let bounds = group.rawValue.split(separator: "-")
            guard let first = bounds.first, first.first == letter, let low = Int(first.dropFirst()) else { continue }
            let high = bounds.count > 1 ? Int(bounds[1].dropFirst()) ?? low : low
            if (low...high).contains(number) { return group }
        }
        return .unknown
    }
}

/// Counts of delays in days (day → how many), from which medians and percentiles are read:
/// the database groups, so a year of a region is a few hundred rows, not a row per fiche.
public struct DelayHistogram: Sendable, Hashable {
    public private(set) var counts: [Int: Int]

    public init(_ counts: [Int: Int] = [:]) { self.counts = counts }

    public var total: Int { counts.values.reduce(0, +) }

    public mutating func add(_ days: Int, count: Int = 1) { counts[days, default: 0] += count }

    /// The nearest-rank percentile (`p` from 0 to 100): the smallest delay at or under which
    /// at least p % of the values lie; nil without values.
    public func percentile(_ p: Double) -> Int? {
        let total = total
        guard total > 0 else { return nil }
        let rank = max(1, Int((p / 100 * Double(total)).rounded(.up)))
        var seen = 0
        for days in counts.keys.sorted() {
            seen += counts[days] ?? 0
            if seen >= rank { return days }
        }
        return counts.keys.max()
    }

    public var median: Int? { percentile(50) }
    public var p90: Int? { percentile(90) }
}

/// One line of the indicators' breakdowns (a month, a site group, an organisation) or the
/// whole period: counts the shares are made of.
public struct IndicatorCounts: Sendable, Hashable {
    public var fiches = 0
    public var meetings = 0
    public var meetingsWithQuorum = 0
    public var decisionsWithQuorum = 0
    public var withTrial = 0
    /// Fiches whose completeness was checked at discussion (their board has a list), and
    /// those complete then.
    public var completenessChecked = 0
    public var complete = 0
    public var validated = 0
    public var followedUp = 0
    public var carriedOut = 0
    public var partiallyCarriedOut = 0

    public init() {}

    public static func share(_ part: Int, of whole: Int) -> Double? { whole > 0 ? Double(part) / Double(whole) : nil }

    public var quorumShare: Double? { Self.share(decisionsWithQuorum, of: fiches) }
    public var meetingQuorumShare: Double? { Self.share(meetingsWithQuorum, of: meetings) }
    public var trialShare: Double? { Self.share(withTrial, of: fiches) }
    public var completeShare: Double? { Self.share(complete, of: completenessChecked) }
    public var followedUpShare: Double? { Self.share(followedUp, of: validated) }
    public var carriedOutShare: Double? { Self.share(carriedOut, of: followedUp) }
}

/// The 3C's indicators of a community over a period (issue 20).
public struct CommunityIndicators: Sendable, Hashable {
    public var from: CalendarDate
    /// Exclusive.
    public var to: CalendarDate
    public var totals = IndicatorCounts()
    public var patients = 0
    /// Patients discussed in the period whose first discussion by the community's boards it is.
    public var newPatients = 0
    public var registrationToMeeting = DelayHistogram()
    public var meetingToValidation = DelayHistogram()
    public var decisionToTreatment = DelayHistogram()
    /// "YYYY-MM" → counts, every month of the period present.
    public var byMonth: [(month: String, counts: IndicatorCounts)] = []
    public var bySiteGroup: [(group: TumourSiteGroup, counts: IndicatorCounts)] = []
    /// Organisation id (nil: none recorded) and name.
    public var byOrganisation: [(id: UUID?, name: String, counts: IndicatorCounts)] = []

    public init(from: CalendarDate, to: CalendarDate) {
        self.from = from; self.to = to
    }

    public var representedPatients: Int { patients - newPatients }

    public static func == (a: Self, b: Self) -> Bool {
        a.from == b.from && a.to == b.to && a.totals == b.totals && a.patients == b.patients && a.newPatients == b.newPatients
            && a.registrationToMeeting == b.registrationToMeeting && a.meetingToValidation == b.meetingToValidation
            && a.decisionToTreatment == b.decisionToTreatment
            && a.byMonth.map(\.month) == b.byMonth.map(\.month) && a.byMonth.map(\.counts) == b.byMonth.map(\.counts)
            && a.bySiteGroup.map(\.group) == b.bySiteGroup.map(\.group) && a.bySiteGroup.map(\.counts) == b.bySiteGroup.map(\.counts)
            && a.byOrganisation.map(\.id) == b.byOrganisation.map(\.id) && a.byOrganisation.map(\.counts) == b.byOrganisation.map(\.counts)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(from); hasher.combine(to); hasher.combine(totals)
    }

    /// The months from `from` to `to` (exclusive), as "YYYY-MM".
    public static func months(from: CalendarDate, to: CalendarDate) -> [String] {
        var months: [String] = []
        var year = from.year, month = from.month
        while let first = CalendarDate(year: year, month: month, day: 1), first < to {
            months.append("\(Digits.padded(year, 4))-\(Digits.padded(month, 2))")
            month += 1
            if month > 12 { month = 1; year += 1 }
        }
        return months
    }
}

extension CommunityIndicators {
    /// The period a coordinator asked for: `from` and `to` are days (`to` included); empty
    /// ones default to the last twelve months, this one included. Nil when a day cannot be
    /// read, the period is reversed, or it spans more than eleven years.
    public static func period(from: String?, to: String?, today: CalendarDate) -> (from: CalendarDate, to: CalendarDate)? {
        func day(_ text: String?) -> CalendarDate?? {
            guard let text, !text.isEmpty else { return .some(nil) }
            return CalendarDate(iso: text).map { .some($0) } ?? nil
        }
        guard let end = day(to), let start = day(from) else { return nil }
        let last = end ?? today
        var first = start
        if first == nil {
            let month = last.month - 11
            first = month >= 1 ? CalendarDate(year: last.year, month: month, day: 1) : CalendarDate(year: last.year - 1, month: month + 12, day: 1)
        }
        guard let first, first <= last, last.year - first.year <= 11 else { return nil }
        return (first, ParisCalendar.adding(days: 1, to: last))
    }
}
