import Foundation

/// Administrative sex as the INS carries it.
public enum AdministrativeSex: String, Sendable, Codable, CaseIterable {
    case female = "F"
    case male = "M"
    case undetermined = "I"
}

/// A calendar date without time or zone (a birth date), stored as `YYYY-MM-DD`.
public struct CalendarDate: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    public init?(year: Int, month: Int, day: Int) {
        guard (1850...2200).contains(year), (1...12).contains(month), (1...Self.days(inMonth: month, of: year)).contains(day) else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    /// The Gregorian calendar's rule, which is Foundation's for these years: asking a
    /// `Calendar` instead cost 2 % of the agenda page's CPU (a list reads a date per row).
    public static func days(inMonth month: Int, of year: Int) -> Int {
        switch month {
        case 2: year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// A day a calendar computed (`ParisCalendar.date(of:)`): always a real day. The year
    /// range above bounds what people type, not what is computed from it: the day after
    /// 2200-12-31 is 2201-01-01, not a crash.
    init(computedYear year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// Reads `YYYY-MM-DD` (the HTML date input's format).
    public init?(iso raw: String) {
        // Fast path for the stored form (lists decode many dates per page).
        let utf8 = Array(raw.utf8)
        if utf8.count == 10, utf8[4] == UInt8(ascii: "-"), utf8[7] == UInt8(ascii: "-"),
           let year = Digits.value(utf8[0..<4]), let month = Digits.value(utf8[5..<7]), let day = Digits.value(utf8[8..<10]) {
            self.init(year: year, month: month, day: day)
            return
        }
        let parts = raw.trimmingCharacters(in: .whitespaces).split(separator: "-")
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]) else { return nil }
        self.init(year: year, month: month, day: day)
    }

    public var iso: String { "\(Digits.padded(year, 4))-\(Digits.padded(month, 2))-\(Digits.padded(day, 2))" }
    /// French display: 05/03/1961.
    public var french: String { "\(Digits.padded(day, 2))/\(Digits.padded(month, 2))/\(Digits.padded(year, 4))" }
    public var description: String { iso }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }
}

/// A patient's identity per the French identity rules: the strict traits (birth name,
/// first names, birth date, sex, birth place) plus the INS and how far it was checked.
public struct PatientIdentity: Sendable, Equatable, Codable {
    public var birthName: String
    /// All first names from the civil status, in order, separated by spaces.
    public var firstNames: String
    /// The first of the first names (the "premier prénom" of the INS).
    public var firstName: String
    public var usedName: String?
    public var usedFirstName: String?
    public var birthDate: CalendarDate
    public var sex: AdministrativeSex
    /// INSEE code of the birth place (commune, or 99xxx for a country abroad).
    public var birthPlaceCode: String?
    public var ins: INS?
    public var status: IdentityStatus

    public init(
        birthName: String, firstNames: String, firstName: String? = nil, usedName: String? = nil,
        usedFirstName: String? = nil, birthDate: CalendarDate, sex: AdministrativeSex,
        birthPlaceCode: String? = nil, ins: INS? = nil, status: IdentityStatus
    ) {
        self.birthName = birthName
        self.firstNames = firstNames
        self.firstName = firstName ?? firstNames.split(separator: " ").first.map(String.init) ?? firstNames
        self.usedName = usedName
        self.usedFirstName = usedFirstName
        self.birthDate = birthDate
        self.sex = sex
        self.birthPlaceCode = birthPlaceCode
        self.ins = ins
        self.status = status
    }

    /// The INS may be shown and exported as an identifier only for a qualified identity.
    public var usableINS: INS? { status == .qualified ? ins : nil }

    /// Name to greet and list the patient with: used name if any, else birth name.
    public var displayName: String {
        Self.displayName(birthName: birthName, usedName: usedName, firstName: firstName, usedFirstName: usedFirstName)
    }

    /// The same, from the stored traits alone (lists that do not load whole identities).
    public static func displayName(birthName: String, usedName: String?, firstName: String, usedFirstName: String?) -> String {
        "\((usedName ?? birthName).uppercased()) \(usedFirstName ?? firstName)"
    }

    public enum Problem: Error, Equatable, Sendable {
        case birthNameMissing
        case firstNamesMissing
        case birthPlaceInvalid
        case qualifiedWithoutINS
        case nameTooLong
    }

    /// Identity rules that hold whatever the source: names present and reasonable,
    /// birth place a 5-character INSEE code, and no qualified status without an INS.
    public func problems() -> [Problem] {
        var problems: [Problem] = []
        if birthName.trimmingCharacters(in: .whitespaces).isEmpty { problems.append(.birthNameMissing) }
        if firstNames.trimmingCharacters(in: .whitespaces).isEmpty { problems.append(.firstNamesMissing) }
        if [birthName, firstNames, usedName ?? "", usedFirstName ?? ""].contains(where: { $0.count > 100 }) {
            problems.append(.nameTooLong)
        }
        if let place = birthPlaceCode, !Self.isINSEEPlaceCode(place) { problems.append(.birthPlaceInvalid) }
        if status == .qualified, ins == nil { problems.append(.qualifiedWithoutINS) }
        return problems
    }

    /// Five characters: digits, or 2A/2B followed by three digits for Corsica.
    public static func isINSEEPlaceCode(_ code: String) -> Bool {
        guard code.count == 5, code.allSatisfy(\.isASCII) else { return false }
        let upper = code.uppercased()
        if upper.hasPrefix("2A") || upper.hasPrefix("2B") { return upper.dropFirst(2).allSatisfy(\.isNumber) }
        return upper.allSatisfy(\.isNumber)
    }
}

/// Finds existing records that are the same person as a new identity, so that creating
/// a patient offers the existing record instead of a duplicate.
public enum PatientMatching {
    public enum Strength: Int, Sendable, Comparable {
        /// Same birth date and sex, same first name, birth name and used name crossed.
        case traits = 1
        /// Same INS matricule.
        case ins = 2

        public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    public static func match(_ candidate: PatientIdentity, _ existing: PatientIdentity) -> Strength? {
        if let a = candidate.ins, let b = existing.ins, a.matricule == b.matricule { return .ins }
        guard candidate.birthDate == existing.birthDate, candidate.sex == existing.sex,
              normalized(candidate.firstName) == normalized(existing.firstName) else { return nil }
        let candidateNames = Set([candidate.birthName, candidate.usedName].compactMap { $0 }.map(normalized))
        let existingNames = Set([existing.birthName, existing.usedName].compactMap { $0 }.map(normalized))
        return candidateNames.isDisjoint(with: existingNames) ? nil : .traits
    }

    /// Upper case without accents, hyphens, apostrophes or spaces: "Le Gall-Hérvé" = "LEGALLHERVE".
    public static func normalized(_ name: String) -> String {
        name.folding(options: [.diacriticInsensitive, .caseInsensitive], locale: Locale(identifier: "fr_FR"))
            .uppercased()
            .filter { $0.isLetter }
    }
}

/// Zero-padded decimal digits without `String(format:)`, which is slow on hot pages.
public enum Digits {
    public static func padded(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    public static func value(_ bytes: ArraySlice<UInt8>) -> Int? {
        var result = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            result = result * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return result
    }
}
