import ConcertoCore
import ConcertoStore
import Foundation
import HTTPTypes
import Hummingbird
import Mustache

/// The home page once logged in: communities (and invitations), shortcuts.
struct DashboardController: Sendable {
    let communities: CommunityStore
    let meetings: MeetingStore
    let cases: CaseStore
    let followUps: FollowUpStore
    /// Lists are reads: each case shows as the policy lets this user see its patient.
    let guardian: AccessGuard
    let accountRequests: AccountRequestStore
    let renderer: Renderer

    func addRoutes(to group: some RouterMethods<AuthenticatedContext>) {
        group.get(SiteURL.route(.home), use: show)
    }

    /// Typed rows and plain flags, no Mustache transforms: this is the page every user
    /// opens first, and the one `make bench` loads (docs/benchmarks.md).
    struct DashboardContent: Sendable, MustacheParent {
        /// Explicit names, not `PageModel`: the dashboard is the most requested page and
        /// reads its rows directly (a `PageModel` read outside `PageBuilder.page` reflects).
        struct CommunityItem: Sendable, MustacheParent {
            let name, region, url, kind, role: String
            let suspended: Bool
            let acceptURL: String

            func child(named name: String) -> Any? {
                switch name {
                case "name": self.name
                case "region": region
                case "url": url
                case "kind": kind
                case "role": role
                case "suspended": suspended
                case "acceptURL": acceptURL
                default: nil
                }
            }
        }
        let displayName: String
        let communities: [CommunityItem]
        let invitations: [CommunityItem]
        let mayCreatePatient: Bool
        let isPlatformAdmin: Bool
        /// The three lists as escaped `<li>` fragments (`DashboardLists`); nil: not shown.
        let upcomingMeetingsHTML: String
        let myCasesHTML: String?
        let toValidateHTML: String?
        /// Validated decisions past their follow-up delay: the physician's own fiches, and
        /// for coordinators those of their communities.
        let myFollowUpsHTML: String?
        let communityFollowUpsHTML: String?
        /// "3 access requests pending", for those who decide them.
        var accessRequestsNotice: String? = nil

        func child(named name: String) -> Any? {
            switch name {
            case "displayName": displayName
            case "communities": communities
            case "hasCommunities": !communities.isEmpty
            case "invitations": invitations
            case "mayCreatePatient": mayCreatePatient
            case "isPlatformAdmin": isPlatformAdmin
            case "upcomingMeetingsHTML": upcomingMeetingsHTML
            case "hasUpcomingMeetings": !upcomingMeetingsHTML.isEmpty
            case "myCasesHTML": myCasesHTML
            case "hasMyCases": myCasesHTML?.isEmpty == false
            case "accessRequestsNotice": accessRequestsNotice
            case "toValidateHTML": toValidateHTML
            case "hasToValidate": toValidateHTML?.isEmpty == false
            case "myFollowUpsHTML": myFollowUpsHTML
            case "hasMyFollowUps": myFollowUpsHTML?.isEmpty == false
            case "communityFollowUpsHTML": communityFollowUpsHTML
            case "hasCommunityFollowUps": communityFollowUpsHTML?.isEmpty == false
            default: nil
            }
        }
    }

    @Sendable func show(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let pages = PageBuilder(request: request, context: context)
        let memberships = try await communities.communities(ofUser: context.user.id)
        func fields(_ entry: (community: Community, membership: Membership)) -> DashboardContent.CommunityItem {
            DashboardContent.CommunityItem(
                name: entry.community.name, region: entry.community.region, url: SiteURL.community(entry.community.id).path,
                kind: pages.text("community_kind_\(entry.community.kind.rawValue)"),
                role: pages.text("community_role_\(entry.membership.role.rawValue)"),
                suspended: entry.membership.status == .suspended,
                acceptURL: SiteURL.communityAccept(entry.community.id).path
            )
        }
        let active = memberships.filter { $0.membership.status == .active }
        let activeIDs = active.map(\.community.id)
        let physicianIn = active.filter { $0.membership.role == .physician }.map(\.community.id)
        let coordinatorIn = active.filter { $0.membership.role == .coordinator }.map(\.community.id)
        let now = Date()
        // Small indexed reads, side by side.
        async let upcoming = meetings.meetings(inCommunities: activeIDs, from: now.addingTimeInterval(-4 * 3600), to: now.addingTimeInterval(62 * 86_400), limit: 5)
        async let mine = cases.cases(createdBy: context.user.id, inCommunities: physicianIn, limit: 10)
        async let pending = cases.cases(withStatus: [.discussed], inCommunities: coordinatorIn, limit: 20)
        async let myOverdue = followUps.overdue(inCommunities: physicianIn, createdBy: context.user.id, at: now, limit: 10)
        async let communityOverdue = followUps.overdue(inCommunities: coordinatorIn, at: now, limit: 20)
        let (myCases, toValidate) = (try await mine, try await pending)
        let (myFollowUps, communityFollowUps) = (try await myOverdue, try await communityOverdue)
        let roles = Dictionary(active.map { ($0.community.id, $0.membership.role) }, uniquingKeysWith: { first, _ in first })
        let listed = myCases + toValidate + (myFollowUps + communityFollowUps).map(\.item)
        let visibility = try await guardian.listVisibility(of: listed.map { ($0.patientID, $0.communityID) }, roles: roles,
                                                           user: context.user.id, at: now)
        let lists = DashboardLists(
            casesLabel: pages.text("meeting_cases"), cancelledLabel: pages.text("meeting_cancelled"), agendaLabel: pages.text("meeting_agenda"), liveLabel: pages.text("live_title"),
            statusLabels: pages.caseStatusLabels,
            visibility: { visibility[AccessGuard.ListRowKey(patient: $0.patientID, community: $0.communityID)] ?? .hidden }
        )
        var content = DashboardContent(
            displayName: context.user.displayName,
            communities: memberships.filter { $0.membership.status != .invited }.map(fields),
            invitations: memberships.filter { $0.membership.status == .invited }.map(fields),
            mayCreatePatient: memberships.contains { $0.membership.status == .active && $0.membership.role != .observer },
            isPlatformAdmin: context.user.isAdmin,
            upcomingMeetingsHTML: lists.meetings(try await upcoming),
            myCasesHTML: physicianIn.isEmpty ? nil : lists.cases(myCases, showingStatus: true),
            toValidateHTML: coordinatorIn.isEmpty ? nil : lists.cases(toValidate, showingStatus: false),
            myFollowUpsHTML: physicianIn.isEmpty ? nil : lists.followUps(myFollowUps, validatedLabel: pages.text("follow_up_validated_on"),
                                                                         actionLabel: pages.text("follow_up_record")),
            communityFollowUpsHTML: coordinatorIn.isEmpty ? nil : lists.followUps(communityFollowUps, validatedLabel: pages.text("follow_up_validated_on"),
                                                                                   actionLabel: pages.text("follow_up_view"), showingCommunity: true)
        )
        if context.user.mayDecideAccountRequests {
            let pending = try await accountRequests.pendingCount(decidableBy: context.user)
            if pending > 0 { content.accessRequestsNotice = pages.text("access_requests_pending", ["count": String(pending)]) }
        }
        return try renderer.html("dashboard", pages.page(content))
    }
}

/// The dashboard's lists written as escaped HTML: through Mustache sections they were a
/// third of the page's CPU (every value looked up by name through dynamic casts), as the
/// agenda's rows were (`AgendaRows`). The markup is the template's, unchanged.
struct DashboardLists: Sendable {
    let casesLabel: String
    let cancelledLabel: String
    let agendaLabel: String
    /// The live séance's link, shown from an hour before a meeting to its end.
    let liveLabel: String
    let statusLabels: [CaseStatus: String]
    /// How much of each case this user may see (hidden cases are left out).
    var visibility: @Sendable (CaseListItem) -> AccessGuard.ListVisibility = { _ in .clinical }

    func meetings(_ meetings: [MeetingRecord], now: Date = Date()) -> String {
        var out = ""
        out.reserveCapacity(meetings.count * 300)
        for meeting in meetings {
            out += "<li><a href=\"\(SiteURL.meeting(meeting.id).path)\"><strong>\(HTMLEscaping.escape(DisplayFormat.dateTime(meeting.startsAt)))</strong> · "
            out += "\(HTMLEscaping.escape(meeting.title))</a> <span class=\"muted\">\(HTMLEscaping.escape(meeting.communityName)) · "
            out += "\(meeting.registeredCases) \(HTMLEscaping.escape(casesLabel))</span>"
            if meeting.status == .cancelled { out += " <span class=\"badge badge--danger\">\(HTMLEscaping.escape(cancelledLabel))</span>" }
            out += " · <a href=\"\(SiteURL.meetingAgenda(meeting.id).path)\">\(HTMLEscaping.escape(agendaLabel))</a>"
            if meeting.status == .scheduled, now >= meeting.startsAt.addingTimeInterval(-3600), now <= meeting.endsAt {
                out += " · <a href=\"\(SiteURL.meetingLive(meeting.id).path)\" data-test=\"dashboard-live\">\(HTMLEscaping.escape(liveLabel))</a>"
            }
            out += "</li>"
        }
        return out
    }

    /// Decisions awaiting their follow-up, the longest overdue first.
    func followUps(_ overdue: [OverdueFollowUp], validatedLabel: String, actionLabel: String, showingCommunity: Bool = false) -> String {
        var out = ""
        for entry in overdue {
            let item = entry.item
            let shown = visibility(item)
            if shown == .hidden { continue }
            out += "<li><a href=\"\(SiteURL.caseItem(item.id).path)\"><strong>\(HTMLEscaping.escape(item.patientName))</strong></a> "
            out += "<span class=\"muted\">"
            if shown == .clinical, let site = item.tumourSiteCode { out += "\(HTMLEscaping.escape(site)) · " }
            if showingCommunity { out += "\(HTMLEscaping.escape(item.communityName)) · " }
            out += "\(HTMLEscaping.escape(validatedLabel)) \(HTMLEscaping.escape(DisplayFormat.date(entry.validatedAt)))</span>"
            if shown == .clinical { out += " · <a href=\"\(SiteURL.caseFollowUp(item.id).path)\">\(HTMLEscaping.escape(actionLabel))</a>" }
            out += "</li>"
        }
        return out
    }

    func cases(_ items: [CaseListItem], showingStatus: Bool) -> String {
        var out = ""
        out.reserveCapacity(items.count * 250)
        for item in items {
            let shown = visibility(item)
            if shown == .hidden { continue }
            out += "<li><a href=\"\(SiteURL.caseItem(item.id).path)\"><strong>\(HTMLEscaping.escape(item.patientName))</strong></a> "
            if showingStatus {
                out += "<span class=\"badge status--\(item.status.rawValue)\">\(HTMLEscaping.escape(statusLabels[item.status] ?? item.status.rawValue))</span> "
            }
            out += "<span class=\"muted\">\(HTMLEscaping.escape(shown == .clinical ? item.tumourSiteCode ?? "" : ""))"
            if let meeting = item.meetingStartsAt { out += " · \(HTMLEscaping.escape(DisplayFormat.dateTime(meeting)))" }
            out += "</span></li>"
        }
        return out
    }
}
