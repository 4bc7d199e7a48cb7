import ConcertoCore
import ConcertoStore
import Foundation
import HTTPTypes
import Hummingbird
import Mustache

/// The home page once logged in.
struct DashboardController: Sendable {
    let communities: CommunityStore
    let renderer: Renderer

    func addRoutes(to group: some RouterMethods<AuthenticatedContext>) {
        group.get(RouterPath(SiteURL.home.pattern), use: show)
    }

    struct DashboardContent: Sendable, MustacheParent {
        struct CommunityItem: Sendable, MustacheParent {
            let name: String
            let region: String

            func child(named key: String) -> Any? {
                switch key {
                case "name": name
                case "region": region
                default: nil
                }
            }
        }
        let displayName: String
        let communities: [CommunityItem]

        func child(named name: String) -> Any? {
            switch name {
            case "displayName": displayName
            case "communities": communities
            default: nil
            }
        }
    }

    @Sendable func show(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let pages = PageBuilder(request: request, context: context)
        let items = try await communities.communities(ofUser: context.user.id).map {
            DashboardContent.CommunityItem(name: $0.name, region: $0.region)
        }
        return try renderer.html("dashboard", pages.page(DashboardContent(
            displayName: context.user.displayName,
            communities: items
        )))
    }
}
