import ConcertoCore
import ConcertoStore
import ConcertoTestSupport
@testable import ConcertoWeb
import Foundation
import Testing

/// Whole pages compared with files under `Golden/`, so that a change of markup shows in
/// review as a diff of HTML. The pages come from the real server over a fixed scenario:
/// a board on a fixed day, a fiche with fixed content. What varies from run to run is
/// replaced before comparing: identifiers by `{id-1}`, `{id-2}`... in order of appearance,
/// the CSRF token, today's date. `CONCERTO_UPDATE_GOLDEN=1 swift test --filter GoldenPageTests`
/// rewrites the files after a deliberate change; review the diff.
@Suite struct GoldenPageTests {
    static let directory = Repository.root.appendingPathComponent("Tests/ConcertoWebTests/Golden")

    @Test func dashboardFicheAgendaAndSeance() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let caseID = try #require(try await d.patients.cases(of: world.southPatient).first).id
            let meetingID = UUID()
            let day = try #require(CalendarDate(iso: "2030-06-13")), two = try #require(LocalTime(hour: 14, minute: 0))
            let start = ParisCalendar.instant(day, two)
            try await d.meetings.create(id: meetingID, communityID: world.south.id, title: "RCP thoracique", startsAt: start,
                                        endsAt: start.addingTimeInterval(7200), place: "Salle 2", deadlineHours: 48)
            try await browser.logIn(email: "sud@t.fr")
            try await browser.get(SiteURL.caseEdit(caseID).path)
            _ = try await browser.post(SiteURL.caseItem(caseID).path, form: [("revision", "1")] + WorkflowWebTests.fiche)
            _ = try await browser.post(SiteURL.caseRegister(caseID).path, form: [("meeting", meetingID.storageKey)])
            #expect(try await d.cases.find(id: caseID)?.status == .registered)

            let coordinator = browser.fresh()
            try await coordinator.logIn(email: "coord@t.fr")
            var pages: [(name: String, html: String)] = []
            pages.append(("dashboard", try await browser.get(SiteURL.home.path).text))
            pages.append(("fiche", try await browser.get(SiteURL.caseItem(caseID).path).text))
            pages.append(("agenda", try await coordinator.get(SiteURL.meetingAgenda(meetingID).path).text))
            pages.append(("seance", try await coordinator.get(SiteURL.meetingSession(meetingID).path).text))
            let update = ProcessInfo.processInfo.environment["CONCERTO_UPDATE_GOLDEN"] == "1"
            for page in pages {
                let normalized = Self.normalize(page.html, tokens: [browser.lastCSRFToken, coordinator.lastCSRFToken].compactMap { $0 })
                let file = Self.directory.appendingPathComponent("\(page.name).html")
                if update {
                    try normalized.write(to: file, atomically: true, encoding: .utf8)
                    continue
                }
                let expected = try String(contentsOf: file, encoding: .utf8)
                #expect(normalized == expected, "\(page.name).html differs: \(Self.firstDifference(normalized, expected))")
            }
        }
    }

    /// Replaces what differs between runs (ids, CSRF tokens, today) with stable markers.
    static func normalize(_ html: String, tokens: [String]) -> String {
        var text = html
        for token in tokens where !token.isEmpty { text = text.replacingOccurrences(of: token, with: "{csrf}") }
        let today = ParisCalendar.date(of: Date())
        text = text.replacingOccurrences(of: today.french, with: "{today}").replacingOccurrences(of: today.iso, with: "{today}")
        text = text.replacing(#/\{today\}( à)? \d\d:\d\d/#) { "{today}\($0.output.1 ?? "") {time}" }
        var numbers: [String: Int] = [:]
        text = text.replacing(#/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/#) { match in
            let id = match.output.lowercased()
            if numbers[id] == nil { numbers[id] = numbers.count + 1 }
            return "{id-\(numbers[id]!)}"
        }
        return text
    }

    /// The lines around the first one that differs, for the failure message.
    static func firstDifference(_ actual: String, _ expected: String) -> String {
        let a = actual.split(separator: "\n", omittingEmptySubsequences: false), e = expected.split(separator: "\n", omittingEmptySubsequences: false)
        for index in 0..<max(a.count, e.count) where index >= a.count || index >= e.count || a[index] != e[index] {
            return "line \(index + 1): got «\(index < a.count ? String(a[index]) : "")», expected «\(index < e.count ? String(e[index]) : "")»"
        }
        return "none"
    }
}
