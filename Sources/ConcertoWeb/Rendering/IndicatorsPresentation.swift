import ConcertoCore
import Documents
import Foundation

/// The 3C's indicators as the page, the CSV and the annual report show them: the same
/// labels and figures in the three, built once.
struct IndicatorsPresentation: Sendable {
    struct Table: Sendable {
        let title: String
        let header: [String]
        let rows: [[String]]
    }

    let keyFigures: [(label: String, value: String)]
    let delays: Table
    let byMonth: Table
    let bySite: Table
    let byOrganisation: Table
    /// What the charts draw: fiches per month, per site group.
    let monthBars: [SVGChart.Bar]
    let siteBars: [SVGChart.Bar]

    init(_ indicators: CommunityIndicators, pages: PageBuilder) {
        func share(_ value: Double?) -> String {
            value.map { pages.text("indicators_percent", ["value": String(Int(($0 * 100).rounded()))]) } ?? "—"
        }
        func days(_ value: Int?) -> String { value.map { pages.text("indicators_days", ["value": String($0)]) } ?? "—" }
        let totals = indicators.totals
        keyFigures = [
            (pages.text("indicators_meetings"), String(totals.meetings)),
            (pages.text("indicators_meetings_quorum"), "\(totals.meetingsWithQuorum) (\(share(totals.meetingQuorumShare)))"),
            (pages.text("indicators_fiches"), String(totals.fiches)),
            (pages.text("indicators_patients"), String(indicators.patients)),
            (pages.text("indicators_new_patients"), String(indicators.newPatients)),
            (pages.text("indicators_represented_patients"), String(indicators.representedPatients)),
            (pages.text("indicators_decisions_quorum"), share(totals.quorumShare)),
            (pages.text("indicators_trial"), share(totals.trialShare)),
            (pages.text("indicators_complete"), totals.completenessChecked == 0 ? "—" : "\(share(totals.completeShare)) (\(totals.complete)/\(totals.completenessChecked))"),
            (pages.text("indicators_followed_up"), "\(share(totals.followedUpShare)) (\(totals.followedUp)/\(totals.validated))"),
            (pages.text("indicators_carried_out"), "\(share(totals.carriedOutShare)) (\(totals.carriedOut)/\(totals.followedUp))"),
        ]
        delays = Table(
            title: pages.text("indicators_delays"),
            header: [pages.text("indicators_delay"), pages.text("indicators_median"), pages.text("indicators_p90"), pages.text("indicators_count")],
            rows: [("indicators_delay_registration", indicators.registrationToMeeting), ("indicators_delay_validation", indicators.meetingToValidation),
                   ("indicators_delay_treatment", indicators.decisionToTreatment)].map { key, histogram in
                [pages.text(key), days(histogram.median), days(histogram.p90), String(histogram.total)]
            })
        byMonth = Table(
            title: pages.text("indicators_by_month"),
            header: [pages.text("indicators_month"), pages.text("indicators_meetings"), pages.text("indicators_fiches"), pages.text("indicators_decisions_quorum"),
                     pages.text("indicators_trial"), pages.text("indicators_followed_up")],
            rows: indicators.byMonth.map { month, counts in
                [month, String(counts.meetings), String(counts.fiches), share(counts.quorumShare), share(counts.trialShare), share(counts.followedUpShare)]
            })
        let groups = indicators.bySiteGroup.map { group, counts in (Self.siteLabel(group, pages: pages), counts) }
        bySite = Table(
            title: pages.text("indicators_by_site"),
            header: [pages.text("indicators_site_group"), pages.text("indicators_fiches"), pages.text("indicators_trial"), pages.text("indicators_complete"),
                     pages.text("indicators_followed_up"), pages.text("indicators_carried_out")],
            rows: groups.map { label, counts in
                [label, String(counts.fiches), share(counts.trialShare), share(counts.completeShare), share(counts.followedUpShare), share(counts.carriedOutShare)]
            })
        byOrganisation = Table(
            title: pages.text("indicators_by_organisation"),
            header: [pages.text("indicators_organisation"), pages.text("indicators_fiches"), pages.text("indicators_trial"), pages.text("indicators_followed_up")],
            rows: indicators.byOrganisation.map { _, name, counts in
                [name.isEmpty ? pages.text("indicators_no_organisation") : name, String(counts.fiches), share(counts.trialShare), share(counts.followedUpShare)]
            })
        monthBars = indicators.byMonth.map { SVGChart.Bar(label: Self.monthLabel($0.month), value: $0.counts.fiches) }
        siteBars = groups.map { SVGChart.Bar(label: $0.0, value: $0.1.fiches) }
    }

    static func siteLabel(_ group: TumourSiteGroup, pages: PageBuilder) -> String {
        group == .unknown ? pages.text("indicators_site_unknown") : "\(group.rawValue) · \(pages.text("site_group_\(group)"))"
    }

    /// "2026-03" → "03/26": short enough for twelve bars.
    static func monthLabel(_ month: String) -> String {
        let parts = month.split(separator: "-")
        guard parts.count == 2 else { return month }
        return "\(parts[1])/\(parts[0].suffix(2))"
    }

    /// Every section as CSV lines, `;`-separated with a byte-order mark (the activity
    /// export's French flavour: Excel reads the accents).
    func csv(title: String, period: String) -> Data {
        var text = "\u{FEFF}"
        func line(_ fields: [String]) { text += fields.map { ActivityCSV.quoted($0, separator: ";") }.joined(separator: ";") + "\r\n" }
        line([title, period])
        line([])
        for (label, value) in keyFigures { line([label, value]) }
        for table in [delays, byMonth, bySite, byOrganisation] {
            line([])
            line([table.title])
            line(table.header)
            for row in table.rows { line(row) }
        }
        return Data(text.utf8)
    }
}
