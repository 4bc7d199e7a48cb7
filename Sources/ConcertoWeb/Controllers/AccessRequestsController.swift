import ConcertoCore
import ConcertoStore
import Foundation
import HTTPTypes
import Hummingbird
import Mustache

/// Requests for an account filed by professionals Pro Santé Connect vouched for: platform
/// admins decide all of them, coordinators those of professionals practising at their
/// communities' organisations.
struct AccessRequestsController: Sendable {
    let requests: AccountRequestStore
    let organisations: OrganisationStore
    let renderer: Renderer

    func addRoutes(to group: some RouterMethods<AuthenticatedContext>) {
        group.get(SiteURL.route(.accessRequests), use: list)
        group.post(SiteURL.route { id, _ in .accessRequestApprove(id) }, use: approve)
        group.post(SiteURL.route { id, _ in .accessRequestRefuse(id) }, use: refuse)
    }

    struct ListContent: Sendable, MustacheParent {
        let requests: [ViewFields]
        let error: String?

        func child(named name: String) -> Any? {
            switch name {
            case "requests": requests
            case "hasRequests": !requests.isEmpty
            case "error": error
            default: nil
            }
        }
    }

    @Sendable func list(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try await render(request: request, context: context, error: nil)
    }

    private func render(request: Request, context: AuthenticatedContext, error: String?, status: HTTPResponse.Status = .ok) async throws -> Response {
        guard context.user.mayDecideAccountRequests else { throw AppError.forbidden }
        let pages = PageBuilder(request: request, context: context)
        var rows: [ViewFields] = []
        for filed in try await requests.pending(decidableBy: context.user) {
            let communities = try await requests.communities(for: filed, decidedBy: context.user)
            rows.append(ViewFields([
                "id": filed.id.storageKey,
                "displayName": filed.displayName,
                "rpps": filed.rpps.digits,
                "specialty": filed.specialtyCode.flatMap(Specialty.find(code:))?.label,
                "sites": filed.sites.map { "\($0.name) (FINESS \($0.finess))" }.joined(separator: ", "),
                "createdAt": DisplayFormat.dateTime(filed.createdAt),
                "contactEmail": filed.contactEmail ?? "",
                "approveURL": SiteURL.accessRequestApprove(filed.id).path,
                "refuseURL": SiteURL.accessRequestRefuse(filed.id).path,
                "roles": context.user.grantableRoles.map { ViewFields(["value": $0.rawValue, "label": pages.text("role_\($0.rawValue)")]) },
                "communities": communities.map { ViewFields(["value": $0.id.storageKey, "label": $0.name]) },
                "mayChooseNoCommunity": context.user.isPlatformAdmin ? true : nil,
                "refusals": AccountRequest.Refusal.allCases.map {
                    ViewFields(["value": $0.rawValue, "label": pages.text("account_request_refusal_\($0.rawValue)")])
                },
            ]))
        }
        return try renderer.html("access_requests", pages.page(ListContent(requests: rows, error: error)), status: status)
    }

    /// The request if this user may decide it; a forged or foreign id is a 404.
    private func decidable(_ context: AuthenticatedContext) async throws -> AccountRequest {
        guard context.user.mayDecideAccountRequests else { throw AppError.forbidden }
        let id = try context.parameters.uuid(.request)
        guard let filed = try await requests.pending(decidableBy: context.user).first(where: { $0.id == id }) else { throw AppError.notFound }
        return filed
    }

    @Sendable func approve(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let filed = try await decidable(context)
        let form = try context.requiredForm
        let pages = PageBuilder(request: request, context: context)
        let email = form.trimmed("email") ?? ""
        guard EmailAddress.isPlausible(email) else {
            return try await render(request: request, context: context, error: pages.text("account_request_error_email"), status: .badRequest)
        }
        guard let role = form["role"].flatMap(ProfessionalRole.init(rawValue:)), context.user.grantableRoles.contains(role) else {
            return try await render(request: request, context: context, error: pages.text("account_request_error_role"), status: .badRequest)
        }
        let allowed = try await requests.communities(for: filed, decidedBy: context.user)
        let communityID = form.trimmed("community").flatMap(UUID.init(storageKey:))
        if let communityID {
            guard allowed.contains(where: { $0.id == communityID }) else { throw AppError.notFound }
        } else if !context.user.isPlatformAdmin {
            // A coordinator's approval brings the professional into one of their communities.
            return try await render(request: request, context: context, error: pages.text("account_request_error_community"), status: .badRequest)
        }
        var organisationID: UUID?
        for site in filed.sites {
            if let finess = FINESSNumber(site.finess), let organisation = try await organisations.find(finess: finess) {
                organisationID = organisation.id
                break
            }
        }
        let account = User(email: EmailAddress.normalize(email), displayName: filed.displayName, rppsNumber: filed.rpps.digits,
                           specialtyCode: filed.specialtyCode, organisationID: organisationID, role: role)
        let communityRole: CommunityRole = switch role {
        case .physician: .physician
        case .coordinator: .coordinator
        case .secretary, .admin: .secretary
        }
        do {
            try await requests.approve(filed.id, account: account, community: communityID.map { ($0, communityRole) }, decidedBy: context.user.id,
                                       audit: context.auditDraft(.accountRequestApprove, resourceType: "account_request",
                                                                 resourceID: filed.id.storageKey, outcome: .success, reason: role.rawValue))
        } catch StoreError.duplicateEmail {
            return try await render(request: request, context: context, error: pages.text("professional_error_duplicate"), status: .conflict)
        } catch StoreError.statusChanged {
            return context.sessions.redirect(to: SiteURL.accessRequests, flash: .info, "flash_account_request_already_decided")
        }
        return context.sessions.redirect(to: SiteURL.accessRequests, flash: .success, "flash_account_request_approved")
    }

    @Sendable func refuse(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let filed = try await decidable(context)
        let form = try context.requiredForm
        guard let reason = form["reason"].flatMap(AccountRequest.Refusal.init(rawValue:)) else {
            let pages = PageBuilder(request: request, context: context)
            return try await render(request: request, context: context, error: pages.text("account_request_error_reason"), status: .badRequest)
        }
        do {
            try await requests.refuse(filed.id, reason: reason, decidedBy: context.user.id,
                                      audit: context.auditDraft(.accountRequestRefuse, resourceType: "account_request",
                                                                resourceID: filed.id.storageKey, outcome: .success, reason: reason.rawValue))
        } catch StoreError.statusChanged {
            return context.sessions.redirect(to: SiteURL.accessRequests, flash: .info, "flash_account_request_already_decided")
        }
        return context.sessions.redirect(to: SiteURL.accessRequests, flash: .success, "flash_account_request_refused")
    }
}
