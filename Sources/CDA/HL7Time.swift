import ConcertoCore
import Foundation

/// An HL7 v3 timestamp (`TS`): `YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+|-ZZZZ]`, kept at the
/// precision the document gives. `iso` renders it in ISO 8601 at that precision: a date
/// alone stays a date, an offset is kept as written.
public struct HL7Time: Sendable, Hashable, Codable, CustomStringConvertible {
    public let raw: String
    public let iso: String

    public init?(_ raw: String) {
        let text = raw.trimmingCharacters(in: .whitespaces)
        let bytes = Array(text.utf8)
        var index = 0
        func digits(_ count: Int) -> String? {
            guard index + count <= bytes.count, bytes[index..<index + count].allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
            defer { index += count }
            return String(decoding: bytes[index..<index + count], as: UTF8.self)
        }
        func atPartBoundary() -> Bool { index == bytes.count || bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") }

        guard let year = digits(4) else { return nil }
        var iso = year
        var hasTime = false
        if !atPartBoundary() {
            guard let month = digits(2), let m = Int(month), (1...12).contains(m) else { return nil }
            iso += "-\(month)"
            if !atPartBoundary() {
                guard let day = digits(2), let d = Int(day), (1...31).contains(d) else { return nil }
                iso += "-\(day)"
                if !atPartBoundary() {
                    guard let hour = digits(2), let h = Int(hour), h < 24 else { return nil }
                    iso += "T\(hour)"
                    hasTime = true
                    if !atPartBoundary() {
                        guard let minute = digits(2), let mi = Int(minute), mi < 60 else { return nil }
                        iso += ":\(minute)"
                        if !atPartBoundary() {
                            guard let second = digits(2), let s = Int(second), s < 61 else { return nil }
                            iso += ":\(second)"
                            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                                index += 1
                                let start = index
                                while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 { index += 1 }
                                guard index > start else { return nil }
                                iso += "." + String(decoding: bytes[start..<index], as: UTF8.self)
                            }
                        }
                    }
                }
            }
        }
        if index < bytes.count {
            let sign = bytes[index]
            guard sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") else { return nil }
            index += 1
            guard let hours = digits(2), let minutes = digits(2), index == bytes.count,
                  let h = Int(hours), let m = Int(minutes), h <= 14, m < 60 else { return nil }
            // An offset on a date alone says nothing ISO 8601 can carry; keep the date.
            if hasTime { iso += String(UnicodeScalar(sign)) + hours + ":" + minutes }
        }
        self.raw = text
        self.iso = iso
    }

    public var description: String { iso }

    /// The calendar date when the timestamp has day precision or finer.
    public var date: CalendarDate? {
        guard iso.utf8.count >= 10 else { return nil }
        return CalendarDate(iso: String(iso.prefix(10)))
    }

    /// French display at the document's precision: "08/01/2021 11:17", "28/03/1979", "03/2024".
    public var french: String { Self.french(iso: iso) }

    /// An instant as an HL7 TS in Paris time, to the second: `20260130141500+0100`.
    public static func format(_ date: Date) -> String {
        let c = ParisCalendar.calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let offset = ParisCalendar.timeZone.secondsFromGMT(for: date) / 60
        func two(_ value: Int?) -> String { Digits.padded(value ?? 0, 2) }
        return Digits.padded(c.year ?? 0, 4) + two(c.month) + two(c.day) + two(c.hour) + two(c.minute) + two(c.second)
            + (offset < 0 ? "-" : "+") + two(abs(offset) / 60) + two(abs(offset) % 60)
    }

    /// The same from a stored ISO value (lists keep the ISO form).
    public static func french(iso: String) -> String {
        let parts = iso.split(separator: "T", maxSplits: 1)
        guard !parts.isEmpty else { return iso }
        let dateParts = parts[0].split(separator: "-")
        var text = dateParts.reversed().joined(separator: "/")
        if parts.count > 1 {
            let time = parts[1].prefix(5)
            text += " " + (time.count == 2 ? "\(time) h" : String(time))
        }
        return text
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(raw)
    }

    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        guard let time = HL7Time(raw) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an HL7 timestamp"))
        }
        self = time
    }
}
