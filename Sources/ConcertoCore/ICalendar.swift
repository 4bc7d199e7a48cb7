import Foundation

/// An iCalendar (RFC 5545) document of board meetings, in Europe/Paris local time.
public struct ICalendar: Sendable {
    public struct Event: Sendable, Hashable {
        public var uid: String
        public var startsAt: Date
        public var endsAt: Date
        public var summary: String
        public var location: String?
        public var url: String?
        public var description: String?
        public var cancelled: Bool
        /// Raised on each change so calendar clients replace their copy.
        public var sequence: Int
        public var lastModified: Date

        public init(uid: String, startsAt: Date, endsAt: Date, summary: String, location: String? = nil, url: String? = nil,
                    description: String? = nil, cancelled: Bool = false, sequence: Int = 0, lastModified: Date) {
            self.uid = uid; self.startsAt = startsAt; self.endsAt = endsAt; self.summary = summary; self.location = location
            self.url = url; self.description = description; self.cancelled = cancelled; self.sequence = sequence
            self.lastModified = lastModified
        }
    }

    public var name: String
    public var events: [Event]

    public init(name: String, events: [Event]) {
        self.name = name
        self.events = events
    }

    public func render(stampedAt now: Date) -> String {
        var lines = [
            "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Concerto//RCP//FR", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
            "X-WR-CALNAME:" + Self.escape(name), "X-WR-TIMEZONE:Europe/Paris",
        ]
        lines += Self.parisTimeZone
        for event in events {
            lines += [
                "BEGIN:VEVENT",
                "UID:" + Self.escape(event.uid),
                "DTSTAMP:" + Self.utc(now),
                "LAST-MODIFIED:" + Self.utc(event.lastModified),
                "SEQUENCE:\(event.sequence)",
                "DTSTART;TZID=Europe/Paris:" + Self.paris(event.startsAt),
                "DTEND;TZID=Europe/Paris:" + Self.paris(event.endsAt),
                "SUMMARY:" + Self.escape(event.summary),
                "STATUS:" + (event.cancelled ? "CANCELLED" : "CONFIRMED"),
            ]
            if let location = event.location, !location.isEmpty { lines.append("LOCATION:" + Self.escape(location)) }
            if let url = event.url, !url.isEmpty { lines.append("URL:" + url) }
            if let description = event.description, !description.isEmpty { lines.append("DESCRIPTION:" + Self.escape(description)) }
            lines.append("END:VEVENT")
        }
        lines.append("END:VCALENDAR")
        return lines.map(Self.fold).joined(separator: "\r\n") + "\r\n"
    }

    /// The rules of Europe/Paris since 1996 (last Sunday of March and of October at 01:00 UTC).
    static let parisTimeZone = [
        "BEGIN:VTIMEZONE", "TZID:Europe/Paris",
        "BEGIN:DAYLIGHT", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200", "TZNAME:CEST", "DTSTART:19810329T020000",
        "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "END:DAYLIGHT",
        "BEGIN:STANDARD", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "TZNAME:CET", "DTSTART:19961027T030000",
        "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "END:STANDARD",
        "END:VTIMEZONE",
    ]

    /// TEXT values escape backslash, semicolon, comma and line breaks (RFC 5545 §3.3.11).
    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "\\": out += "\\\\"
            case ";": out += "\\;"
            case ",": out += "\\,"
            case "\r\n", "\n", "\r": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }

    /// Lines longer than 75 octets continue on the next line after a space, never inside a
    /// UTF-8 sequence (§3.1).
    static func fold(_ line: String) -> String {
        guard line.utf8.count > 75 else { return line }
        var result = ""
        var width = 0
        var limit = 75
        for scalar in line.unicodeScalars {
            let size = String(scalar).utf8.count
            if width + size > limit {
                result += "\r\n "
                width = 0
                limit = 74
            }
            result.unicodeScalars.append(scalar)
            width += size
        }
        return result
    }

    static let utcCalendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    static func utc(_ date: Date) -> String { format(date, calendar: utcCalendar) + "Z" }
    static func paris(_ date: Date) -> String { format(date, calendar: ParisCalendar.calendar) }

    private static func format(_ date: Date, calendar: Calendar) -> String {
        let p = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02d", p.year!, p.month!, p.day!, p.hour!, p.minute!, p.second!)
    }
}
