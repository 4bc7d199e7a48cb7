import ConcertoCore
import ConcertoStore
import Foundation
import HTTPTypes
import Hummingbird
import Mustache

/// A community's page (members, organisations, patients, break-the-glass review),
/// membership management by its coordinators, and its audit page.
struct CommunityController: Sendable {
    let communities: CommunityStore
    let organisations: OrganisationStore
    let users: UserStore
    let patients: PatientStore
    let care: CareStore
    let audit: AuditLog
    let renderer: Renderer
    /// Whether Pro Santé Connect is configured: only then may a community require it.
    let pscConfigured: Bool

    func addRoutes(to group: some RouterMethods<AuthenticatedContext>) {
        group.get(SiteURL.route { id, _ in .community(id) }, use: show)
        group.post(SiteURL.route { id, _ in .communityMembers(id) }, use: invite)
        group.post(SiteURL.route { .communityMemberApprove($0, user: $1) }, use: approve)
        group.post(SiteURL.route { .communityMemberSuspend($0, user: $1) }, use: suspend)
        group.post(SiteURL.route { id, _ in .communityAccept(id) }, use: accept)
        group.post(SiteURL.route { id, _ in .communityOrganisations(id) }, use: addOrganisation)
        group.post(SiteURL.route { id, _ in .communityRegistration(id) }, use: saveRegistration)
        group.post(SiteURL.route { id, _ in .communityPSCRequirement(id) }, use: savePSCRequirement)
        group.get(SiteURL.route { id, _ in .communityAudit(id) }, use: auditPage)
    }

    /// The community and the user's membership; 404 for a community they are not part of.
    private func load(_ context: AuthenticatedContext, requireAdmin: Bool = false) async throws -> (Community, Membership?) {
        let id = try context.parameters.uuid(.community)
        guard let community = try await communities.find(id: id) else { throw AppError.notFound }
        let membership = try await communities.membership(userID: context.user.id, in: id)
        guard context.user.isAdmin || membership != nil else { throw AppError.notFound }
        if requireAdmin, !(context.user.isAdmin || membership?.administersCommunity == true) { throw AppError.forbidden }
        return (community, membership)
    }

    struct CommunityContent: Sendable, PageModel {
        let community: ViewFields
        let isAdministrator, invitation, isActiveMember: Bool
        let members, organisations, patients, emergencyGrants, roleOptions, organisationOptions: [ViewFields]
        let links: ViewFields
        let error: String?
        /// The fiche header's identifiers: shown to members, a form for administrators.
        var registration: ViewFields? = nil
        /// Whether physicians must log in with Pro Santé Connect, and the switch for administrators.
        var psc: ViewFields? = nil
    }

    @Sendable func show(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try await render(request: request, context: context, error: nil)
    }

    private func render(request: Request, context: AuthenticatedContext, error: String?, status: HTTPResponse.Status = .ok) async throws -> Response {
        let (community, membership) = try await load(context)
        let pages = PageBuilder(request: request, context: context)
        let isAdministrator = context.user.isAdmin || membership?.administersCommunity == true
        let isActive = membership?.status == .active
        let mayCreatePatients = isActive && membership?.role != .observer
        let memberOrganisations = try await communities.organisations(of: community.id)
        // Members see who holds which patient (administrative data); the clinical part is behind each patient's page.
        let patientRows = isActive || context.user.isAdmin ? try await patients.patients(inCommunity: community.id) : []
        if !patientRows.isEmpty {
            try await audit.record(context.auditDraft(.patientList, resourceType: "community", resourceID: community.id.storageKey, outcome: .allowed,
                                                      reason: isActive ? AccessReason.communityMember.rawValue : AccessReason.platformAdministration.rawValue))
        }
        let recorded = try await communities.registration(of: community.id)
        let manager = try await recorded.managerID.asyncMap { try await organisations.find(id: $0) } ?? nil
        let missing = recorded.missing(manager: manager)
        var content = CommunityContent(
            community: ViewFields(["name": community.name, "region": community.region, "kind": pages.text("community_kind_\(community.kind.rawValue)")]),
            isAdministrator: isAdministrator,
            invitation: membership?.status == .invited,
            isActiveMember: mayCreatePatients,
            members: try await communities.members(of: community.id).map { member in
                ViewFields([
                    "name": member.user.displayName, "email": member.user.email, "specialty": member.user.specialtyLabel,
                    "organisation": member.organisationName, "role": pages.text("community_role_\(member.membership.role.rawValue)"),
                    "status": pages.text("membership_status_\(member.membership.status.rawValue)"),
                    "statusCode": member.membership.status.rawValue,
                    "approveURL": isAdministrator && member.membership.status != .active ? SiteURL.communityMemberApprove(community.id, user: member.user.id).path : nil,
                    "suspendURL": isAdministrator && member.membership.status != .suspended && member.user.id != context.user.id
                        ? SiteURL.communityMemberSuspend(community.id, user: member.user.id).path : nil,
                ])
            },
            organisations: memberOrganisations.map {
                ViewFields(["name": $0.name, "finess": $0.finess, "city": $0.city])
            },
            patients: patientRows.map { ViewFields(["name": $0.identity.displayName, "birthDate": $0.identity.birthDate.french, "url": SiteURL.patient($0.id).path]) },
            emergencyGrants: isAdministrator ? try await care.emergencyGrants(inCommunity: community.id).map { row in
                ViewFields([
                    "patient": row.patientName, "patientURL": SiteURL.patient(row.patientID).path, "user": row.userName,
                    "reason": pages.text("emergency_reason_\(row.reasonCode)"), "justification": row.justification,
                    "grantedAt": DisplayFormat.dateTime(row.grant.grantedAt), "expiresAt": DisplayFormat.dateTime(row.grant.expiresAt),
                    "overridesOpposition": row.grant.overridesOpposition ? true : nil,
                ])
            } : [],
            roleOptions: CommunityRole.allCases.map { ViewFields(["value": $0.rawValue, "label": pages.text("community_role_\($0.rawValue)")]) },
            organisationOptions: isAdministrator ? try await organisations.all().filter { candidate in !memberOrganisations.contains { $0.id == candidate.id } }
                .map { ViewFields(["value": $0.id.storageKey, "label": "\($0.name) (\($0.city))"]) } : [],
            links: ViewFields([
                "members": SiteURL.communityMembers(community.id).path, "accept": SiteURL.communityAccept(community.id).path,
                "organisations": SiteURL.communityOrganisations(community.id).path,
                "audit": SiteURL.communityAudit(community.id).path, "activity": SiteURL.communityActivityCSV(community.id).path,
                "indicators": SiteURL.communityIndicators(community.id).path, "research": SiteURL.communityResearch(community.id).path, "newPatient": SiteURL.newPatient(community: community.id),
            ]),
            error: error
        )
        content.registration = ViewFields([
            "networkName": recorded.networkName, "networkID": recorded.networkID, "boardID": recorded.boardID,
            "manager": manager.map { "\($0.name) (FINESS \($0.finess))" },
            "managerAddress": manager?.postalAddress.map { "\($0.street), \($0.postalCode) \($0.city)" },
            "missing": missing.map { pages.text("registration_missing_\($0.rawValue)") },
            "action": isAdministrator ? SiteURL.communityRegistration(community.id).path : nil,
            "managerOptions": memberOrganisations.map {
                SelectOption(value: $0.id.storageKey, label: "\($0.name) (\($0.city))", selected: $0.id == recorded.managerID)
            },
        ])
        let requiresPSC = try await communities.requiresPSC(community.id)
        content.psc = ViewFields([
            "required": requiresPSC ? true : nil,
            "action": isAdministrator && pscConfigured ? SiteURL.communityPSCRequirement(community.id).path : nil,
            "notConfigured": pscConfigured ? nil : true,
        ])
        return try renderer.html("community", pages.page(content), status: status)
    }

    /// Coordinators and platform admins require Pro Santé Connect of the community's
    /// physicians, or lift the requirement.
    @Sendable func savePSCRequirement(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let (community, _) = try await load(context, requireAdmin: true)
        guard pscConfigured else { throw AppError.notFound }
        let required = context.form?["required"] == "true"
        try await communities.setRequiresPSC(required, communityID: community.id,
                                             audit: context.auditDraft(.communityPSCRequirement, resourceType: "community", resourceID: community.id.storageKey,
                                                                       outcome: .success, reason: required ? "required" : "lifted"))
        return context.sessions.redirect(to: SiteURL.community(community.id), flash: .success, required ? "flash_psc_required" : "flash_psc_lifted")
    }

    /// The fiche header's national identifiers (coordinators and platform admins): the
    /// regional cancer network, the board's id and its managing structure (one of the
    /// community's organisations). Blank fields clear what was recorded.
    @Sendable func saveRegistration(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let (community, _) = try await load(context, requireAdmin: true)
        let form = try context.requiredForm
        let pages = PageBuilder(request: request, context: context)
        let networkName = form.trimmed("network_name")
        let identifiers = [form.trimmed("network_id"), form.trimmed("board_id")]
        guard networkName.map({ $0.count <= 200 }) ?? true,
              identifiers.allSatisfy({ $0.map(BoardRegistration.isValidIdentifier) ?? true }) else {
            return try await render(request: request, context: context, error: pages.text("registration_error_identifier"), status: .badRequest)
        }
        var managerID: UUID?
        if let raw = form.trimmed("manager") {
            guard let id = UUID(storageKey: raw), try await communities.organisations(of: community.id).contains(where: { $0.id == id }) else {
                return try await render(request: request, context: context, error: pages.text("registration_error_manager"), status: .badRequest)
            }
            managerID = id
        }
        try await communities.setRegistration(
            BoardRegistration(networkName: networkName, networkID: identifiers[0], boardID: identifiers[1], managerID: managerID),
            communityID: community.id,
            audit: context.auditDraft(.communityRegistration, resourceType: "community", resourceID: community.id.storageKey, outcome: .success))
        return context.sessions.redirect(to: SiteURL.community(community.id), flash: .success, "flash_registration_saved")
    }

    @Sendable func invite(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let (community, _) = try await load(context, requireAdmin: true)
        let form = try context.requiredForm
        let pages = PageBuilder(request: request, context: context)
        guard let email = form.trimmed("email"), let role = form["role"].flatMap(CommunityRole.init(rawValue:)) else {
            return try await render(request: request, context: context, error: pages.text("community_error_invite_fields"), status: .badRequest)
        }
        guard let (invitee, _) = try await users.findWithCredentials(email: email) else {
            return try await render(request: request, context: context, error: pages.text("community_error_no_account"), status: .badRequest)
        }
        do {
            try await communities.invite(userID: invitee.id, to: community.id, role: role, audit: context.auditDraft(
                .memberInvite, resourceType: "community", resourceID: community.id.storageKey, outcome: .success, reason: "\(invitee.id.storageKey) \(role.rawValue)"))
        } catch StoreError.alreadyMember {
            return try await render(request: request, context: context, error: pages.text("community_error_already_member"), status: .conflict)
        } catch StoreError.physicianRoleNeedsRPPS {
            return try await render(request: request, context: context, error: pages.text("community_error_physician_rpps"), status: .unprocessableContent)
        }
        return context.sessions.redirect(to: SiteURL.community(community.id), flash: .success, "flash_member_invited")
    }

    private func changeStatus(_ context: AuthenticatedContext, from: [MembershipStatus], to: MembershipStatus, action: AuditAction, flash: String) async throws -> Response {
        let (community, _) = try await load(context, requireAdmin: true)
        let userID = try context.parameters.uuid(.user)
        guard try await communities.changeStatus(userID: userID, in: community.id, from: from, to: to, audit: context.auditDraft(
            action, resourceType: "community", resourceID: community.id.storageKey, outcome: .success, reason: userID.storageKey))
        else { throw AppError.notFound }
        return context.sessions.redirect(to: SiteURL.community(community.id), flash: .success, flash)
    }

    @Sendable func approve(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try await changeStatus(context, from: [.invited, .suspended], to: .active, action: .memberApprove, flash: "flash_member_approved")
    }

    @Sendable func suspend(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        guard try context.parameters.uuid(.user) != context.user.id else { throw AppError.badRequest }
        return try await changeStatus(context, from: [.invited, .active], to: .suspended, action: .memberSuspend, flash: "flash_member_suspended")
    }

    @Sendable func addOrganisation(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let (community, _) = try await load(context, requireAdmin: true)
        let form = try context.requiredForm
        guard let organisationID = form["organisation"].flatMap(UUID.init(storageKey:)), try await organisations.find(id: organisationID) != nil else {
            throw AppError.badRequest
        }
        let added = try await communities.addOrganisation(organisationID, to: community.id, audit: context.auditDraft(
            .communityOrganisationAdd, resourceType: "community", resourceID: community.id.storageKey, outcome: .success, reason: organisationID.storageKey))
        return context.sessions.redirect(to: SiteURL.community(community.id), flash: added ? .success : .info, added ? "flash_organisation_added" : "flash_organisation_already_member")
    }

    @Sendable func accept(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let id = try context.parameters.uuid(.community)
        guard try await communities.changeStatus(userID: context.user.id, in: id, from: [.invited], to: .active, audit: context.auditDraft(
            .memberAccept, resourceType: "community", resourceID: id.storageKey, outcome: .success))
        else { throw AppError.notFound }
        return context.sessions.redirect(to: SiteURL.community(id), flash: .success, "flash_invitation_accepted")
    }

    @Sendable func auditPage(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let (community, _) = try await load(context, requireAdmin: true)
        return try await AuditPage(audit: audit, users: users, renderer: renderer).render(
            request: request, context: context, scope: community.id, title: community.name, path: SiteURL.communityAudit(community.id).path
        )
    }
}

/// The audit search page, for a community's coordinators and for platform admins.
struct AuditPage: Sendable {
    let audit: AuditLog
    let users: UserStore
    let renderer: Renderer

    struct AuditContent: Sendable, PageModel {
        let scopeName, formAction: String
        let filters: ViewFields
        let events: [ViewFields]
        let actions: [SelectOption]
    }

    func render(request: Request, context: AuthenticatedContext, scope: UUID?, title: String, path: String) async throws -> Response {
        let pages = PageBuilder(request: request, context: context)
        let query = request.uri.queryParameters
        func value(_ name: String) -> String? {
            guard let raw = query.get(name)?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return nil }
            return raw
        }
        let action = value("action").flatMap { AuditAction(rawValue: $0) != nil ? $0 : nil }
        let until = DisplayFormat.startOfDay(value("to")).map { $0.addingTimeInterval(86_400) }
        // The professional by id or by e-mail address; an unknown one matches nothing.
        var actorID = value("user").flatMap(UUID.init(storageKey:))
        if actorID == nil, let email = value("user") {
            actorID = try await users.findWithCredentials(email: email)?.user.id ?? UUID()
        }
        let filter = AuditLog.Filter(
            patientIDs: value("patient").flatMap(UUID.init(storageKey:)).map { [$0] }, actorID: actorID,
            action: action, from: DisplayFormat.startOfDay(value("from")), until: until, communityID: scope
        )
        let rows = try await audit.events(matching: filter)
        try await audit.record(context.auditDraft(.auditRead, resourceType: "audit", resourceID: scope?.storageKey, outcome: .success))
        let content = AuditContent(
            scopeName: title, formAction: path,
            filters: ViewFields(["patient": value("patient"), "user": value("user"), "from": value("from"), "to": value("to")]),
            events: rows.map { AuditPresentation.fields($0, pages: pages) },
            actions: AuditAction.allCases.map {
                SelectOption(value: $0.rawValue, label: AuditPresentation.actionLabel($0.rawValue, pages: pages), selected: action == $0.rawValue)
            }
        )
        return try renderer.html("audit", pages.page(content))
    }
}
