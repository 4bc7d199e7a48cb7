import ConcertoCore
import ConcertoStore
import Documents
import Foundation
import HTTPTypes
import Hummingbird
import Mustache

/// The pseudonymised research extract of a community (issue 20), for its coordinators: the
/// page says what the extract holds, what it leaves out and why; the CSV is audited.
struct ResearchExtractController: Sendable {
    let communities: CommunityStore
    let extracts: ResearchExtractStore
    let audit: AuditLog
    let renderer: Renderer

    func addRoutes(to group: some RouterMethods<AuthenticatedContext>) {
        group.get(SiteURL.route { id, _ in .communityResearch(id) }, use: show)
        group.get(SiteURL.route { id, _ in .communityResearchCSV(id) }, use: csv)
    }

    struct ResearchPage: Sendable, PageModel {
        let communityName, communityURL, action, from, to: String
    }

    /// The community, for its active coordinators only (a refusal is audited).
    func community(_ context: AuthenticatedContext) async throws -> Community {
        try await CoordinatorAccess.community(context, communities: communities) { id in
            _ = try await audit.record(context.auditDraft(.researchExtract, resourceType: "community", resourceID: id.storageKey, outcome: .denied,
                                                          reason: "not_coordinator"))
        }
    }

    @Sendable func show(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let community = try await community(context)
        let pages = PageBuilder(request: request, context: context)
        guard let period = CommunityIndicators.period(from: nil, to: nil, today: ParisCalendar.date(of: Date())) else { throw AppError.badRequest }
        let page = ResearchPage(communityName: community.name, communityURL: SiteURL.community(community.id).path,
                                action: SiteURL.communityResearchCSV(community.id).path, from: period.from.iso,
                                to: ParisCalendar.adding(days: -1, to: period.to).iso)
        return try renderer.html("community_research", pages.page(page))
    }

    @Sendable func csv(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let community = try await community(context)
        let query = request.uri.queryParameters
        guard let period = CommunityIndicators.period(from: query["from"].map(String.init), to: query["to"].map(String.init),
                                                      today: ParisCalendar.date(of: Date())) else { throw AppError.badRequest }
        let rows = try await extracts.rows(community: community.id, from: period.from, to: period.to)
        let last = ParisCalendar.adding(days: -1, to: period.to)
        _ = try await audit.record(context.auditDraft(.researchExtract, resourceType: "community", resourceID: community.id.storageKey, outcome: .success,
                                                      reason: "rows:\(rows.count) \(period.from.iso)_\(last.iso)"))
        return Responses.download(Self.render(rows), type: "text/csv; charset=utf-8",
                                           name: "extraction-recherche-\(community.name.filter { $0.isLetter || $0.isNumber })-\(period.from.iso)_\(last.iso).csv")
    }

    static let header = [
        "pseudonyme", "annee_naissance", "sexe", "mois_rcp", "cim10", "morphologie", "cT", "cN", "cM", "pT", "pN", "edition_tnm",
        "types_proposition", "conforme_referentiel", "essai_propose", "quorum_atteint", "mois_validation", "mise_en_oeuvre",
        "delai_traitement_jours", "pps_remis",
    ]

    /// `;`-separated with a byte-order mark, like the activity export.
    static func render(_ rows: [ResearchRow]) -> Data {
        var text = "\u{FEFF}"
        func line(_ fields: [String]) { text += fields.map { ActivityCSV.quoted($0, separator: ";") }.joined(separator: ";") + "\r\n" }
        func yes(_ value: Bool?) -> String { value.map { $0 ? "oui" : "non" } ?? "" }
        line(header)
        for row in rows {
            line([
                row.pseudonym, String(row.birthYear), row.sex, row.meetingMonth, row.tumourSiteCode ?? "", row.morphology ?? "",
                row.tnm.cT ?? "", row.tnm.cN ?? "", row.tnm.cM ?? "", row.tnm.pT ?? "", row.tnm.pN ?? "", row.tnm.edition.map(String.init) ?? "",
                row.decision?.proposalTypes.map(\.rawValue).joined(separator: "|") ?? "", yes(row.decision?.followsGuidelines),
                yes(row.decision?.trialProposed), yes(row.decision?.quorumMet), row.validatedMonth ?? "", row.followUpOutcome?.rawValue ?? "",
                row.treatmentDelayDays.map(String.init) ?? "", yes(row.carePlanGiven),
            ])
        }
        return Data(text.utf8)
    }
}
