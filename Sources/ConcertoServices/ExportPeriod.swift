import ConcertoCore
import Foundation

/// A period of whole Paris days for exports: [from 00:00, the day after `to` 00:00).
public enum ExportPeriod {
    /// Nil for an unreadable or reversed range; empty bounds default to the last 12 months.
    public static func parse(from: String?, to: String?, today: CalendarDate) -> (from: Date, to: Date, label: String)? {
        func day(_ text: String?) -> CalendarDate?? {
            guard let text, !text.isEmpty else { return .some(nil) }
            return CalendarDate(iso: text).map { .some($0) } ?? nil
        }
        guard let end = day(to), let start = day(from) else { return nil }
        let last = end ?? today
        // A year before today (the 28th at most, so the day exists in every month); the
        // fallback would only serve a clock past the year 2200.
        let first = start ?? CalendarDate(year: today.year - 1, month: today.month, day: min(today.day, 28)) ?? today
        guard first <= last else { return nil }
        let midnight = LocalTime.midnight
        return (ParisCalendar.instant(first, midnight), ParisCalendar.instant(ParisCalendar.adding(days: 1, to: last), midnight), "\(first.iso)_\(last.iso)")
    }
}
