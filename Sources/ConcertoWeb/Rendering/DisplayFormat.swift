import ConcertoCore
import ConcertoStore
import Foundation

/// Dates and identity traits as the interface shows them (French conventions, Paris time).
enum DisplayFormat {
    static let parisTime = TimeZone(identifier: "Europe/Paris") ?? .current
    /// Built once: making a Calendar is costly next to formatting a date with it.
    static let parisCalendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = parisTime
        return calendar
    }()

    static func dateTime(_ date: Date) -> String { ParisCalendar.frenchDateTime(date) }

    /// "30/01/2026", the French display of an instant's day in Paris.
    static func date(_ date: Date) -> String { ParisCalendar.date(of: date).french }

    /// Reads an ISO 8601 timestamp as stored and shows it in Paris time.
    static func dateTime(iso: String) -> String {
        // The stored form (read by hand) before the audit trail's fractional seconds, so that
        // the common case never pays a failed parse; any other ISO 8601 form last.
        let date = Timestamp.date(storedForm: iso)
            ?? (try? Date(iso, strategy: .iso8601.year().month().day().time(includingFractionalSeconds: true)))
            ?? (try? Date(iso, strategy: .iso8601))
        return date.map(dateTime) ?? iso
    }

    /// `<input type="date">` value for a day in Paris time.
    static func dateInput(_ date: Date) -> String {
        let calendar = parisCalendar
        let c = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0)
    }

    /// The start of a `YYYY-MM-DD` day in Paris time.
    static func startOfDay(_ raw: String?) -> Date? {
        guard let raw, let day = CalendarDate(iso: raw) else { return nil }
        let calendar = parisCalendar
        return calendar.date(from: DateComponents(year: day.year, month: day.month, day: day.day))
    }
}
