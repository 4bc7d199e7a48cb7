import Foundation

/// Wall-clock time in Paris, where every board meets: "14:00" stays 14:00 across DST.
public struct LocalTime: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public let hour: Int
    public let minute: Int

    public init?(hour: Int, minute: Int) {
        guard (0...23).contains(hour), (0...59).contains(minute) else { return nil }
        self.init(checkedHour: hour, minute: minute)
    }

    private init(checkedHour hour: Int, minute: Int) {
        self.hour = hour
        self.minute = minute
    }

    public static let midnight = LocalTime(checkedHour: 0, minute: 0)
    /// Day arithmetic goes from noon to noon: a daylight saving change moves an instant by
    /// an hour, never across a day.
    public static let noon = LocalTime(checkedHour: 12, minute: 0)

    /// Reads `HH:MM` (the HTML time input's format).
    public init?(_ raw: String) {
        let parts = raw.trimmingCharacters(in: .whitespaces).split(separator: ":")
        guard parts.count == 2, parts[0].count <= 2, parts[1].count == 2,
              let hour = Int(parts[0]), let minute = Int(parts[1]) else { return nil }
        self.init(hour: hour, minute: minute)
    }

    public var description: String { "\(Digits.padded(hour, 2)):\(Digits.padded(minute, 2))" }
    public static func < (a: LocalTime, b: LocalTime) -> Bool { (a.hour, a.minute) < (b.hour, b.minute) }
}

/// The civil calendar of the boards: Europe/Paris.
public enum ParisCalendar {
    public static let timeZone = TimeZone(identifier: "Europe/Paris")!
    public static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        calendar.firstWeekday = 2
        return calendar
    }()

    /// The instant a Paris wall-clock time happens on that day. A time skipped by the
    /// spring change (02:30 on the last Sunday of March) moves forward one hour; a time
    /// that happens twice in autumn is the first one.
    public static func instant(_ date: CalendarDate, _ time: LocalTime) -> Date {
        let components = DateComponents(year: date.year, month: date.month, day: date.day, hour: time.hour, minute: time.minute)
        // Safe: CalendarDate and LocalTime hold only real days and times, and a Gregorian
        // calendar has an instant for each (a time the spring change skips moves forward).
        return calendar.date(from: components)!
    }

    public static func date(of instant: Date) -> CalendarDate {
        let parts = calendar.dateComponents([.year, .month, .day], from: instant)
        // A Gregorian calendar gives every instant its year, month and day: the defaults are
        // never used.
        return CalendarDate(computedYear: parts.year ?? 1970, month: parts.month ?? 1, day: parts.day ?? 1)
    }

    /// "30/01/2026 14:05", the French display of an instant in Paris time.
    public static func frenchDateTime(_ instant: Date) -> String {
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: instant)
        return "\(Digits.padded(c.day ?? 0, 2))/\(Digits.padded(c.month ?? 0, 2))/\(Digits.padded(c.year ?? 0, 4)) \(Digits.padded(c.hour ?? 0, 2)):\(Digits.padded(c.minute ?? 0, 2))"
    }

    public static func time(of instant: Date) -> LocalTime {
        let parts = calendar.dateComponents([.hour, .minute], from: instant)
        // Every instant has an hour (0–23) and a minute (0–59): the fallback is never used.
        return LocalTime(hour: parts.hour ?? 0, minute: parts.minute ?? 0) ?? .midnight
    }

    /// 1 = Monday ... 7 = Sunday (ISO 8601).
    public static func isoWeekday(_ date: CalendarDate) -> Int {
        let weekday = calendar.component(.weekday, from: instant(date, .noon))
        return weekday == 1 ? 7 : weekday - 1
    }

    /// The Paris day `months` after `instant`: how far ahead series are scheduled.
    public static func date(months: Int, after instant: Date) -> CalendarDate {
        date(of: calendar.date(byAdding: .month, value: months, to: instant) ?? instant)
    }

    public static func adding(days: Int, to date: CalendarDate) -> CalendarDate {
        let noon = instant(date, .noon)
        // Adding days to an instant fails only beyond the calendar's range (years in the
        // millions); the clamp keeps a forged number of days from crashing a request.
        return Self.date(of: calendar.date(byAdding: .day, value: max(-1_000_000, min(1_000_000, days)), to: noon) ?? noon)
    }

    /// Whole days from one calendar day to another (negative when `end` comes first).
    public static func days(from start: CalendarDate, to end: CalendarDate) -> Int {
        let noon = LocalTime.noon
        return Int((instant(end, noon).timeIntervalSince(instant(start, noon)) / 86_400).rounded())
    }
}

/// How a series repeats. Weekdays are ISO numbers, 1 = Monday ... 7 = Sunday.
public enum Recurrence: Sendable, Hashable {
    /// Every `interval` weeks on `weekday`, counted from the series' first date.
    case weekly(interval: Int, weekday: Int)
    /// The `ordinal`-th `weekday` of each month (1...4), or the last one (-1).
    case monthly(ordinal: Int, weekday: Int)

    public var isValid: Bool {
        switch self {
        case .weekly(let interval, let weekday): (1...12).contains(interval) && (1...7).contains(weekday)
        case .monthly(let ordinal, let weekday): (ordinal == -1 || (1...4).contains(ordinal)) && (1...7).contains(weekday)
        }
    }

    /// Stored form: `weekly:2:4` (every 2 weeks on Thursday), `monthly:-1:2` (last Tuesday).
    public var storageValue: String {
        switch self {
        case .weekly(let interval, let weekday): "weekly:\(interval):\(weekday)"
        case .monthly(let ordinal, let weekday): "monthly:\(ordinal):\(weekday)"
        }
    }

    public init?(storageValue: String) {
        let parts = storageValue.split(separator: ":")
        guard parts.count == 3, let a = Int(parts[1]), let b = Int(parts[2]) else { return nil }
        switch parts[0] {
        case "weekly": self = .weekly(interval: a, weekday: b)
        case "monthly": self = .monthly(ordinal: a, weekday: b)
        default: return nil
        }
        guard isValid else { return nil }
    }

    /// The days of the series from `start` (the first possible day) through `end`, inclusive.
    public func dates(from start: CalendarDate, through end: CalendarDate) -> [CalendarDate] {
        guard isValid, start <= end else { return [] }
        var found: [CalendarDate] = []
        switch self {
        case .weekly(let interval, let weekday):
            // First matching weekday on or after the start, then every `interval` weeks.
            var day = ParisCalendar.adding(days: (weekday - ParisCalendar.isoWeekday(start) + 7) % 7, to: start)
            while day <= end {
                found.append(day)
                day = ParisCalendar.adding(days: 7 * interval, to: day)
            }
        case .monthly(let ordinal, let weekday):
            var year = start.year, month = start.month
            while let first = CalendarDate(year: year, month: month, day: 1), first <= end {
                if let day = Self.nthWeekday(ordinal, weekday, year: year, month: month), day >= start, day <= end {
                    found.append(day)
                }
                month += 1
                if month > 12 { month = 1; year += 1 }
            }
        }
        return found
    }

    static func nthWeekday(_ ordinal: Int, _ weekday: Int, year: Int, month: Int) -> CalendarDate? {
        guard let first = CalendarDate(year: year, month: month, day: 1) else { return nil }
        let firstMatch = 1 + (weekday - ParisCalendar.isoWeekday(first) + 7) % 7
        var candidates: [Int] = []
        var day = firstMatch
        while CalendarDate(year: year, month: month, day: day) != nil {
            candidates.append(day)
            day += 7
        }
        let chosen = ordinal == -1 ? candidates.last : (ordinal <= candidates.count ? candidates[ordinal - 1] : nil)
        return chosen.flatMap { CalendarDate(year: year, month: month, day: $0) }
    }
}

/// The agenda's estimated time per case, which the printed agenda and the séance's clock
/// share: the meeting's length divided between its cases, 5 to 20 minutes each.
public enum AgendaSlot {
    public static func minutes(startsAt: Date, endsAt: Date, caseCount: Int) -> Int {
        let total = Int(endsAt.timeIntervalSince(startsAt) / 60)
        return max(5, min(20, total / max(caseCount, 1)))
    }
}

public enum MeetingSeriesKind: String, Sendable, CaseIterable, Codable {
    case organ, transversal, recours

    /// CI-SIS `JDV_NatureDiscussion` code of the board's nature (exports).
    public var natureCode: String { self == .organ ? "ORG-117" : "ORG-132" }
}

/// Who must be in the room for the board to decide: at least `minimumSpecialties` distinct
/// medical specialties among those present, including each required discipline.
public struct QuorumRequirement: Sendable, Hashable {
    public var minimumSpecialties: Int
    public var requiredDisciplines: [Specialty.Discipline]

    /// Medical oncology, surgery and radiotherapy: the usual oncology board.
    public static let standard = QuorumRequirement(minimumSpecialties: 3, requiredDisciplines: [.medicalOncology, .surgery, .radiotherapy])

    public init(minimumSpecialties: Int, requiredDisciplines: [Specialty.Discipline]) {
        self.minimumSpecialties = max(minimumSpecialties, 1)
        self.requiredDisciplines = Specialty.Discipline.allCases.filter(requiredDisciplines.contains)
    }

    /// Nurses and the secretariat attend but do not count towards the medical quorum.
    static func counts(_ specialty: Specialty) -> Bool {
        specialty.discipline != .nursing && specialty.discipline != .coordination
    }

    public func evaluate(presentSpecialtyCodes codes: [String]) -> QuorumEvaluation {
        let present = Set(codes.compactMap(Specialty.find(code:)).filter(Self.counts))
        let disciplines = Set(present.map(\.discipline))
        let missing = requiredDisciplines.filter { !disciplines.contains($0) }
        let distinct = Set(present.map(\.code)).count
        return QuorumEvaluation(distinctSpecialties: distinct, minimum: minimumSpecialties, missingDisciplines: missing)
    }
}

public struct QuorumEvaluation: Sendable, Hashable {
    public let distinctSpecialties: Int
    public let minimum: Int
    public let missingDisciplines: [Specialty.Discipline]

    public var isMet: Bool { distinctSpecialties >= minimum && missingDisciplines.isEmpty }
    /// CI-SIS `JDV_StatutQuorum` code.
    public var statusCode: String { isMet ? "ORG-126" : "ORG-133" }
}

public enum AttendanceStatus: String, Sendable, CaseIterable, Codable {
    case present, excused, absent
}

public enum MeetingStatus: String, Sendable, Codable {
    case scheduled, cancelled
}

/// Registration rules of a meeting: the deadline before it starts and the number of cases.
public struct RegistrationWindow: Sendable, Hashable {
    public let startsAt: Date
    public let deadlineHours: Int
    public let maximumCases: Int?

    public init(startsAt: Date, deadlineHours: Int, maximumCases: Int?) {
        self.startsAt = startsAt
        self.deadlineHours = max(deadlineHours, 0)
        self.maximumCases = maximumCases
    }

    public var deadline: Date { startsAt.addingTimeInterval(-Double(deadlineHours) * 3600) }

    public enum Refusal: String, Sendable, Error {
        case cancelled, started, deadlinePassed, full
    }

    /// Whether one more case may be registered now. Coordinators may pass the deadline, the
    /// limit and add a case while the board sits; nobody registers on a cancelled meeting.
    public func check(status: MeetingStatus, registered: Int, coordinatorOverride: Bool, at now: Date) -> Refusal? {
        if status == .cancelled { return .cancelled }
        if coordinatorOverride { return nil }
        if now >= startsAt { return .started }
        if now >= deadline { return .deadlinePassed }
        if let maximumCases, registered >= maximumCases { return .full }
        return nil
    }
}

/// A board that meets on a schedule: the settings each generated meeting copies.
public struct MeetingSeries: Sendable, Hashable {
    public var id: UUID
    public var communityID: UUID
    public var title: String
    public var kind: MeetingSeriesKind
    /// `JDV_RCP_Appareil` codes of an organ-based board.
    public var organs: [String]
    public var recurrence: Recurrence
    public var firstDate: CalendarDate
    public var startTime: LocalTime
    public var durationMinutes: Int
    public var place: String?
    public var videoLink: String?
    public var deadlineHours: Int
    public var maximumCases: Int?
    public var quorum: QuorumRequirement
    /// The board's national id in the regional RCP directory (the fiche's header); nil:
    /// the community's.
    public var boardID: String?
    /// Days after validation before a decision without follow-up is listed as overdue.
    public var followUpDays: Int
    /// What a file must hold before it is discussed.
    public var completeness: CompletenessRules

    public init(
        id: UUID = UUID(), communityID: UUID, title: String, kind: MeetingSeriesKind, organs: [String] = [], recurrence: Recurrence,
        firstDate: CalendarDate, startTime: LocalTime, durationMinutes: Int, place: String? = nil, videoLink: String? = nil,
        deadlineHours: Int = 48, maximumCases: Int? = nil, quorum: QuorumRequirement = .standard, boardID: String? = nil,
        followUpDays: Int = FollowUpDelay.defaultDays, completeness: CompletenessRules = .none
    ) {
        self.id = id; self.communityID = communityID; self.title = title; self.kind = kind; self.organs = organs
        self.recurrence = recurrence; self.firstDate = firstDate; self.startTime = startTime; self.durationMinutes = durationMinutes
        self.place = place; self.videoLink = videoLink; self.deadlineHours = deadlineHours; self.maximumCases = maximumCases
        self.quorum = quorum
        self.boardID = boardID
        self.followUpDays = followUpDays
        self.completeness = completeness
    }

    public enum Problem: String, Sendable, Error {
        case noTitle = "no_title", invalidRecurrence = "invalid_recurrence", invalidDuration = "invalid_duration"
        case noPlace = "no_place", invalidVideoLink = "invalid_video_link", invalidDeadline = "invalid_deadline"
        case invalidMaximum = "invalid_maximum", invalidQuorum = "invalid_quorum", unknownOrgan = "unknown_organ"
        case organsRequired = "organs_required", invalidBoardID = "invalid_board_id"
        case invalidFollowUpDays = "invalid_follow_up_days"
        case invalidCompleteness = "invalid_completeness"
    }

    public func problems() -> [Problem] {
        var found: [Problem] = []
        if title.trimmingCharacters(in: .whitespaces).isEmpty { found.append(.noTitle) }
        if !recurrence.isValid { found.append(.invalidRecurrence) }
        if !(15...600).contains(durationMinutes) { found.append(.invalidDuration) }
        if (place ?? "").isEmpty && (videoLink ?? "").isEmpty { found.append(.noPlace) }
        if let videoLink, !videoLink.isEmpty, !(videoLink.hasPrefix("https://") || videoLink.hasPrefix("http://")) { found.append(.invalidVideoLink) }
        if !(0...336).contains(deadlineHours) { found.append(.invalidDeadline) }
        if let maximumCases, !(1...200).contains(maximumCases) { found.append(.invalidMaximum) }
        if !(1...12).contains(quorum.minimumSpecialties) || quorum.requiredDisciplines.count > quorum.minimumSpecialties { found.append(.invalidQuorum) }
        if organs.contains(where: { !Terminology.boardOrgans.contains($0) }) { found.append(.unknownOrgan) }
        if kind == .organ && organs.isEmpty { found.append(.organsRequired) }
        if let boardID, !BoardRegistration.isValidIdentifier(boardID) { found.append(.invalidBoardID) }
        if !FollowUpDelay.allowedDays.contains(followUpDays) { found.append(.invalidFollowUpDays) }
        if !completeness.problems().isEmpty { found.append(.invalidCompleteness) }
        return found
    }

    /// The meetings' start and end instants from `start` through `end` (Paris calendar days).
    public func occurrences(from start: CalendarDate, through end: CalendarDate) -> [(date: CalendarDate, startsAt: Date, endsAt: Date)] {
        recurrence.dates(from: max(start, firstDate), through: end).map { day in
            let startsAt = ParisCalendar.instant(day, startTime)
            return (day, startsAt, startsAt.addingTimeInterval(Double(durationMinutes) * 60))
        }
    }
}

extension QuorumRequirement {
    /// Stored form: comma-separated discipline names.
    public var disciplinesStorageValue: String { requiredDisciplines.map(\.rawValue).joined(separator: ",") }

    public init(minimumSpecialties: Int, disciplinesStorageValue: String) {
        self.init(minimumSpecialties: minimumSpecialties,
                  requiredDisciplines: disciplinesStorageValue.split(separator: ",").compactMap { Specialty.Discipline(rawValue: String($0)) })
    }
}

/// Who may record attendance, and when. A member checked in present joins the care scope
/// of the agenda's patients, so a check-in must not be a way to give oneself access: it is
/// recorded during the séance only (from an hour before its start to its end), by the
/// chair or a coordinator (the caller checks that), and never for oneself.
public enum AttendanceRules {
    public enum Refusal: String, Sendable, Equatable {
        case ownCheckIn = "own_check_in"
        case outsideSeance = "outside_seance"
    }

    public static let leadTime: TimeInterval = 3600

    public static func refusal(recorder: UUID, member: UUID?, startsAt: Date, endsAt: Date, at now: Date) -> Refusal? {
        if let member, member == recorder { return .ownCheckIn }
        guard startsAt.addingTimeInterval(-leadTime) <= now, now <= endsAt else { return .outsideSeance }
        return nil
    }
}
