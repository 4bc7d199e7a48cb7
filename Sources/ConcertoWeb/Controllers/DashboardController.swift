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
    let renderer: Renderer

    func addRoutes(to group: some RouterMethods<AuthenticatedContext>) {
        group.get(RouterPath(SiteURL.home.pattern), use: show)
    }

    /// Typed rows and plain flags, no Mustache transforms: this is the page every user
    /// opens first, and the one `make bench` loads (docs/benchmarks.md).
    struct DashboardContent: Sendable, MustacheParent {
        struct CommunityItem: Sendable, MustacheParent {
            let name: String
            let region: String
            let url: String
            let kind: String
            let role: String
            let suspended: Bool
            let acceptURL: String

            func child(named key: String) -> Any? {
                switch key {
                case "name": name
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
        let upcomingMeetings: [ViewFields]
        let myCases: [ViewFields]?
        let toValidate: [ViewFields]?

        func child(named name: String) -> Any? {
            switch name {
            case "displayName": displayName
            case "communities": communities
            case "hasCommunities": !communities.isEmpty
            case "invitations": invitations
            case "mayCreatePatient": mayCreatePatient
            case "isPlatformAdmin": isPlatformAdmin
            case "upcomingMeetings": upcomingMeetings
            case "hasUpcomingMeetings": !upcomingMeetings.isEmpty
            case "myCases": myCases
            case "hasMyCases": myCases?.isEmpty == false
            case "toValidate": toValidate
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
        // Three small indexed reads, side by side.
        async let upcoming = meetings.meetings(inCommunities: activeIDs, from: now.addingTimeInterval(-4 * 3600), to: now.addingTimeInterval(62 * 86_400), limit: 5)
        async let mine = cases.cases(createdBy: context.user.id, inCommunities: physicianIn, limit: 10)
        async let pending = cases.cases(withStatus: [.discussed], inCommunities: coordinatorIn, limit: 20)
        func caseRow(_ item: CaseListItem) -> ViewFields {
            ViewFields(["url": SiteURL.caseItem(item.id).path, "patient": item.patientName, "status": pages.text("case_status_\(item.status.rawValue)"),
                        "statusCode": item.status.rawValue, "site": item.tumourSiteCode, "meeting": item.meetingStartsAt.map(DisplayFormat.dateTime)])
        }
        let content = DashboardContent(
            displayName: context.user.displayName,
            communities: memberships.filter { $0.membership.status != .invited }.map(fields),
            invitations: memberships.filter { $0.membership.status == .invited }.map(fields),
            mayCreatePatient: memberships.contains { $0.membership.status == .active && $0.membership.role != .observer },
            isPlatformAdmin: context.user.isAdmin,
            upcomingMeetings: try await upcoming.map { meeting in
                ViewFields(["url": SiteURL.meeting(meeting.id).path, "agendaURL": SiteURL.meetingAgenda(meeting.id).path, "title": meeting.title,
                            "when": DisplayFormat.dateTime(meeting.startsAt), "community": meeting.communityName, "registered": String(meeting.registeredCases),
                            "cancelled": meeting.status == .cancelled ? true : nil])
            },
            myCases: physicianIn.isEmpty ? nil : try await mine.map(caseRow),
            toValidate: coordinatorIn.isEmpty ? nil : try await pending.map(caseRow)
        )
        return try renderer.html("dashboard", pages.page(content))
    }
}
