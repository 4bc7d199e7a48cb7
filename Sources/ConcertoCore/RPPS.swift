/// RPPS number of a health professional: 11 digits, the last one a Luhn check digit.
public struct RPPSNumber: Sendable, Hashable, CustomStringConvertible {
    public static let oid = "1.2.250.1.71.4.2.1"
    public let digits: String

    public init?(_ raw: String) {
        let trimmed = raw.filter { !$0.isWhitespace }
        guard trimmed.count == 11, trimmed.allSatisfy(\.isASCII), trimmed.allSatisfy(\.isNumber) else { return nil }
        guard Self.luhnIsValid(trimmed) else { return nil }
        digits = trimmed
    }

    public var description: String { digits }

    /// The number made of these ten digits and their Luhn check digit (for generated
    /// test and benchmark accounts); nil unless exactly ten digits are given.
    public init?(completing tenDigits: String) {
        guard tenDigits.count == 10, tenDigits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        var sum = 0
        for (index, character) in tenDigits.reversed().enumerated() {
            var digit = character.wholeNumberValue ?? 0
            if index % 2 == 0 {
                digit *= 2
                if digit > 9 { digit -= 9 }
            }
            sum += digit
        }
        self.init(tenDigits + String((10 - sum % 10) % 10))
    }

    static func luhnIsValid(_ number: String) -> Bool {
        var sum = 0
        for (index, character) in number.reversed().enumerated() {
            guard var digit = character.wholeNumberValue else { return false }
            if index % 2 == 1 {
                digit *= 2
                if digit > 9 { digit -= 9 }
            }
            sum += digit
        }
        return sum % 10 == 0
    }
}
