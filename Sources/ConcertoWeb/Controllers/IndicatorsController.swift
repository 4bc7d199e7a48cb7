import ConcertoCore
import ConcertoStore
import Documents
import Foundation
import HTTPTypes
import Hummingbird
import Mustache

/// The 3C's quality indicators of a community (issue 20), for its coordinators: the page
/// with its charts, the same figures as CSV, and the annual report as PDF. Aggregates only:
/// no patient is named, so nothing here is a read of patient data; exports are audited.
struct IndicatorsController: Sendable {
    let communities: CommunityStore
    let indicators: IndicatorStore
    let audit: AuditLog
    let renderer: Renderer

    func addRoutes(to group: some RouterMethods<AuthenticatedContext>) {
        group.get(SiteURL.route { id, _ in .communityIndicators(id) }, use: show)
        group.get(SiteURL.route { id, _ in .communityIndicatorsCSV(id) }, use: csv)
        group.get(SiteURL.route { id, _ in .communityIndicatorsPDF(id) }, use: pdf)
    }

    struct IndicatorsPage: Sendable, PageModel {
        struct Figure: Sendable, PageModel {
            let label, value: String
        }
        struct Table: Sendable, MustacheParent {
            let title: String
            let header: [String]
            let rows: [[String]]

            func child(named name: String) -> Any? {
                switch name {
                case "title": title
                case "header": header
                case "rows": rows.map { Row(cells: $0) }
                default: nil
                }
            }
        }
        struct Row: Sendable, MustacheParent {
            let cells: [String]

            func child(named name: String) -> Any? { name == "cells" ? cells : nil }
        }
        let communityName: String
        let communityURL: String
        let action: String
        let from: String
        let to: String
        let periodLabel: String
        let figures: [Figure]
        let monthChartHTML: String
        let siteChartHTML: String
        let tables: [Table]
        let csvURL: String
        let pdfURL: String
        let empty: Bool
    }

    struct Loaded {
        let community: Community
        let from: CalendarDate
        /// Exclusive.
        let to: CalendarDate
        let indicators: CommunityIndicators
        var lastDay: CalendarDate { ParisCalendar.adding(days: -1, to: to) }
    }

    /// Only the community's active coordinators; a stranger to it is told it does not exist.
    func load(_ request: Request, context: AuthenticatedContext) async throws -> Loaded {
        let community = try await CoordinatorAccess.community(context, communities: communities)
        let id = community.id
        let query = request.uri.queryParameters
        guard let period = CommunityIndicators.period(from: query["from"].map(String.init), to: query["to"].map(String.init),
                                                      today: ParisCalendar.date(of: Date())) else { throw AppError.badRequest }
        let figures = try await indicators.indicators(community: id, from: period.from, to: period.to)
        return Loaded(community: community, from: period.from, to: period.to, indicators: figures)
    }

    @Sendable func show(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let loaded = try await load(request, context: context)
        let pages = PageBuilder(request: request, context: context)
        let report = IndicatorsPresentation(loaded.indicators, pages: pages)
        let id = loaded.community.id
        let page = IndicatorsPage(
            communityName: loaded.community.name, communityURL: SiteURL.community(id).path, action: SiteURL.communityIndicators(id).path,
            from: loaded.from.iso, to: loaded.lastDay.iso, periodLabel: pages.text("indicators_period", ["from": loaded.from.french, "to": loaded.lastDay.french]),
            figures: report.keyFigures.map { .init(label: $0.label, value: $0.value) },
            monthChartHTML: SVGChart.columns(id: "months", title: pages.text("indicators_chart_months"),
                                             description: pages.text("indicators_chart_description"), bars: report.monthBars),
            siteChartHTML: SVGChart.rows(id: "sites", title: pages.text("indicators_chart_sites"),
                                         description: pages.text("indicators_chart_description"), bars: report.siteBars),
            tables: [report.delays, report.byMonth, report.bySite, report.byOrganisation].map { .init(title: $0.title, header: $0.header, rows: $0.rows) },
            csvURL: SiteURL.communityIndicatorsCSV(id).period(from: loaded.from, through: loaded.lastDay),
            pdfURL: SiteURL.communityIndicatorsPDF(id).period(from: loaded.from, through: loaded.lastDay),
            empty: loaded.indicators.totals.fiches == 0)
        return try renderer.html("community_indicators", pages.page(page))
    }

    func recordExport(_ loaded: Loaded, format: String, context: AuthenticatedContext) async throws {
        _ = try await audit.record(context.auditDraft(.indicatorsExport, resourceType: "community", resourceID: loaded.community.id.storageKey,
                                                      outcome: .success, reason: "\(format):\(loaded.from.iso)_\(loaded.lastDay.iso)"))
    }

    func fileName(_ loaded: Loaded, _ suffix: String) -> String {
        "indicateurs-\(loaded.community.name.filter { $0.isLetter || $0.isNumber })-\(loaded.from.iso)_\(loaded.lastDay.iso).\(suffix)"
    }

    @Sendable func csv(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let loaded = try await load(request, context: context)
        let pages = PageBuilder(request: request, context: context)
        let report = IndicatorsPresentation(loaded.indicators, pages: pages)
        try await recordExport(loaded, format: "csv", context: context)
        let data = report.csv(title: "\(pages.text("indicators_title")) · \(loaded.community.name)",
                              period: pages.text("indicators_period", ["from": loaded.from.french, "to": loaded.lastDay.french]))
        return Responses.download(data, type: "text/csv; charset=utf-8", name: fileName(loaded, "csv"))
    }

    /// The annual report: the key figures, the charts drawn with cairo, every table.
    @Sendable func pdf(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let loaded = try await load(request, context: context)
        let pages = PageBuilder(request: request, context: context)
        let report = IndicatorsPresentation(loaded.indicators, pages: pages)
        let period = pages.text("indicators_period", ["from": loaded.from.french, "to": loaded.lastDay.french])
        var blocks: [PDFBlock] = [
            .title("\(pages.text("indicators_report_title")) · \(loaded.community.name)"),
            .note(period),
            .heading(pages.text("indicators_key_figures")),
            .fields(report.keyFigures.map { ($0.label, $0.value) }),
            .heading(pages.text("indicators_chart_months")),
            .bars(report.monthBars.map { ($0.label, $0.value) }),
            .heading(pages.text("indicators_chart_sites")),
            .bars(report.siteBars.map { ($0.label, $0.value) }),
        ]
        for table in [report.delays, report.byMonth, report.bySite, report.byOrganisation] {
            blocks.append(.heading(table.title))
            blocks.append(.table(PDFTable(columns: table.header.enumerated().map { ($0.element, $0.offset == 0 ? 2.2 : 1) }, rows: table.rows)))
        }
        blocks.append(.note(pages.text("indicators_report_note")))
        try await recordExport(loaded, format: "pdf", context: context)
        let data = try PDFRenderer.render(PDFDocumentSpec(header: loaded.community.name, kind: pages.text("indicators_report_title"),
                                                          documentID: "\(loaded.community.id.storageKey)/\(loaded.from.iso)_\(loaded.lastDay.iso)",
                                                          generatedAt: Date(), blocks: blocks))
        return Responses.download(data, type: "application/pdf", name: fileName(loaded, "pdf"))
    }
}
