import ConcertoCore
import ConcertoStore
import Foundation
import HTTPTypes
import Hummingbird
import Mustache

/// Platform administration: organisations (FINESS), the whole audit trail, and the
/// identity desk's merge of duplicate patient records.
struct AdminController: Sendable {
    let organisations: OrganisationStore
    let communities: CommunityStore
    let patients: PatientStore
    let users: UserStore
    let audit: AuditLog
    let renderer: Renderer

    func addRoutes(to group: some RouterMethods<AuthenticatedContext>) {
        group.get(SiteURL.route(.adminOrganisations), use: listOrganisations)
        group.post(SiteURL.route(.adminOrganisations), use: createOrganisation)
        group.post(SiteURL.route { id, _ in .adminOrganisationIdentityTrust(id) }, use: setIdentityTrust)
        group.post(SiteURL.route { id, _ in .adminOrganisationAddress(id) }, use: setAddress)
        group.get(SiteURL.route(.adminCommunities), use: listCommunities)
        group.post(SiteURL.route(.adminCommunities), use: createCommunity)
        group.get(SiteURL.route(.adminAudit), use: auditPage)
        group.get(SiteURL.route(.adminPatientMerge), use: mergeForm)
        group.post(SiteURL.route(.adminPatientMerge), use: merge)
    }

    private func requireAdmin(_ context: AuthenticatedContext) throws {
        guard context.user.isAdmin else { throw AppError.forbidden }
    }

    struct OrganisationsContent: Sendable, PageModel {
        let organisations: [ViewFields]
        let values: ViewFields
        let error: String?
    }

    @Sendable func listOrganisations(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try requireAdmin(context)
        return try await renderOrganisations(request: request, context: context, form: FormData(fields: [:]), error: nil)
    }

    private func renderOrganisations(request: Request, context: AuthenticatedContext, form: FormData, error: String?, status: HTTPResponse.Status = .ok) async throws -> Response {
        let pages = PageBuilder(request: request, context: context)
        let content = OrganisationsContent(
            organisations: try await organisations.all().map {
                ViewFields(["name": $0.name, "finess": $0.finess, "city": $0.city, "trusted": $0.trustedForIdentities ? true : nil,
                            "trustURL": SiteURL.adminOrganisationIdentityTrust($0.id).path, "addressURL": SiteURL.adminOrganisationAddress($0.id).path,
                            "street": $0.street, "postalCode": $0.postalCode, "id": $0.id.storageKey])
            },
            values: ViewFields(form.fields), error: error
        )
        return try renderer.html("admin_organisations", pages.page(content), status: status)
    }

    @Sendable func createOrganisation(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try requireAdmin(context)
        let form = try context.requiredForm
        let pages = PageBuilder(request: request, context: context)
        guard let name = form.trimmed("name"), let city = form.trimmed("city"), name.count <= 200, city.count <= 100 else {
            return try await renderOrganisations(request: request, context: context, form: form, error: pages.text("organisation_error_fields"), status: .badRequest)
        }
        guard let finess = form.trimmed("finess").flatMap(FINESSNumber.init) else {
            return try await renderOrganisations(request: request, context: context, form: form, error: pages.text("organisation_error_finess"), status: .badRequest)
        }
        var organisation = Organisation(name: name, finess: finess, city: city)
        if let street = form.trimmed("street"), let postalCode = form.trimmed("postal_code") {
            guard street.count <= 200, PostalAddress.isValidPostalCode(postalCode) else {
                return try await renderOrganisations(request: request, context: context, form: form, error: pages.text("organisation_error_address"), status: .badRequest)
            }
            organisation.street = street
            organisation.postalCode = postalCode
        }
        do {
            try await organisations.create(organisation, audit: context.auditDraft(
                .organisationCreate, resourceType: "organisation", resourceID: organisation.id.storageKey, outcome: .success))
        } catch StoreError.duplicateFINESS {
            return try await renderOrganisations(request: request, context: context, form: form, error: pages.text("organisation_error_duplicate"), status: .conflict)
        }
        return context.sessions.redirect(to: SiteURL.adminOrganisations, flash: .success, "flash_organisation_created")
    }

    /// The postal address the fiche's header gives when the organisation manages a board.
    @Sendable func setAddress(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try requireAdmin(context)
        let id = try context.parameters.uuid(.organisation)
        let form = try context.requiredForm
        let pages = PageBuilder(request: request, context: context)
        guard let street = form.trimmed("street"), let postalCode = form.trimmed("postal_code"), let city = form.trimmed("city"),
              street.count <= 200, city.count <= 100, PostalAddress.isValidPostalCode(postalCode) else {
            return try await renderOrganisations(request: request, context: context, form: FormData(fields: [:]),
                                                 error: pages.text("organisation_error_address"), status: .badRequest)
        }
        do {
            try await organisations.setAddress(PostalAddress(street: street, postalCode: postalCode, city: city), organisationID: id, audit: context.auditDraft(
                .organisationAddress, resourceType: "organisation", resourceID: id.storageKey, outcome: .success))
        } catch StoreError.notFound {
            throw AppError.notFound
        }
        return context.sessions.redirect(to: SiteURL.adminOrganisations, flash: .success, "flash_organisation_address_saved")
    }

    /// Trusting an organisation for identities lets the documents its system posts qualify
    /// identities (`DocumentAPIController`): a decision of the platform's identity desk.
    @Sendable func setIdentityTrust(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try requireAdmin(context)
        let id = try context.parameters.uuid(.organisation)
        let trusted = try context.requiredForm["trusted"] == "1"
        do {
            try await organisations.setTrustedForIdentities(trusted, organisationID: id, audit: context.auditDraft(
                .organisationIdentityTrust, resourceType: "organisation", resourceID: id.storageKey, outcome: .success, reason: trusted ? "trusted" : "not_trusted"))
        } catch StoreError.notFound {
            throw AppError.notFound
        }
        return context.sessions.redirect(to: SiteURL.adminOrganisations, flash: .success, trusted ? "flash_organisation_trusted" : "flash_organisation_untrusted")
    }

    struct CommunitiesContent: Sendable, PageModel {
        let communities: [ViewFields]
        let kinds: [SelectOption]
        let values: ViewFields
        let error: String?
    }

    @Sendable func listCommunities(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try requireAdmin(context)
        return try await renderCommunities(request: request, context: context, form: FormData(fields: [:]), error: nil)
    }

    private func renderCommunities(request: Request, context: AuthenticatedContext, form: FormData, error: String?, status: HTTPResponse.Status = .ok) async throws -> Response {
        let pages = PageBuilder(request: request, context: context)
        let content = CommunitiesContent(
            communities: try await communities.overview().map { entry in
                ViewFields(["name": entry.community.name, "url": SiteURL.community(entry.community.id).path, "region": entry.community.region,
                            "kind": pages.text("community_kind_\(entry.community.kind.rawValue)"), "members": String(entry.activeMembers)])
            },
            kinds: SelectOption.list(CommunityKind.allCases, labelledBy: "community_kind", chosen: form["kind"], pages: pages),
            values: ViewFields(form.fields), error: error
        )
        return try renderer.html("admin_communities", pages.page(content), status: status)
    }

    @Sendable func createCommunity(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try requireAdmin(context)
        let form = try context.requiredForm
        let pages = PageBuilder(request: request, context: context)
        guard let name = form.trimmed("name"), let region = form.trimmed("region"), name.count <= 200, region.count <= 100,
              let kind = form["kind"].flatMap(CommunityKind.init(rawValue:)) else {
            return try await renderCommunities(request: request, context: context, form: form, error: pages.text("community_error_fields"), status: .badRequest)
        }
        var coordinator: UUID?
        if let email = form.trimmed("coordinator") {
            guard let user = try await users.findWithCredentials(email: email)?.user else {
                return try await renderCommunities(request: request, context: context, form: form, error: pages.text("community_error_no_account"), status: .badRequest)
            }
            coordinator = user.id
        }
        let community = Community(name: name, region: region, kind: kind)
        do {
            try await communities.create(community, coordinator: coordinator, audit: context.auditDraft(
                .communityCreate, resourceType: "community", resourceID: community.id.storageKey, outcome: .success, reason: coordinator?.storageKey))
        } catch StoreError.duplicateCommunityName {
            return try await renderCommunities(request: request, context: context, form: form, error: pages.text("community_error_duplicate"), status: .conflict)
        }
        return context.sessions.redirect(to: SiteURL.community(community.id), flash: .success, "flash_community_created")
    }

    @Sendable func auditPage(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try requireAdmin(context)
        let pages = PageBuilder(request: request, context: context)
        return try await AuditPage(audit: audit, users: users, renderer: renderer).render(
            request: request, context: context, scope: nil, title: pages.text("audit_all"), path: SiteURL.adminAudit.path
        )
    }

    struct MergeContent: Sendable, PageModel {
        let pairs: [ViewFields]
        let error: String?
    }

    @Sendable func mergeForm(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try requireAdmin(context)
        return try await renderMerge(request: request, context: context, error: nil)
    }

    private func renderMerge(request: Request, context: AuthenticatedContext, error: String?, status: HTTPResponse.Status = .ok) async throws -> Response {
        let pages = PageBuilder(request: request, context: context)
        func describe(_ record: PatientRecord) -> ViewFields {
            let identity = record.identity
            return ViewFields([
                "id": record.id.storageKey, "name": identity.displayName, "birthDate": identity.birthDate.french,
                "status": pages.text("identity_status_\(identity.status.rawValue)"), "ins": identity.ins?.matricule,
                "createdAt": DisplayFormat.dateTime(iso: record.createdAt), "url": SiteURL.patient(record.id).path,
            ])
        }
        let pairs = try await patients.suspectedDuplicates().map { first, second in
            // Suggest keeping the better-qualified identity.
            let order: [IdentityStatus] = [.provisional, .retrieved, .validated, .qualified]
            let firstWins = (order.firstIndex(of: first.identity.status) ?? 0) >= (order.firstIndex(of: second.identity.status) ?? 0)
            return ViewFields(["survivor": describe(firstWins ? first : second), "merged": describe(firstWins ? second : first)])
        }
        if !pairs.isEmpty {
            try await audit.record(context.auditDraft(.patientList, resourceType: "duplicates", outcome: .allowed, reason: AccessReason.platformAdministration.rawValue))
        }
        return try renderer.html("admin_merge", pages.page(MergeContent(pairs: pairs, error: error)), status: status)
    }

    @Sendable func merge(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try requireAdmin(context)
        let form = try context.requiredForm
        let pages = PageBuilder(request: request, context: context)
        guard let survivor = form["survivor"].flatMap(UUID.init(storageKey:)), let merged = form["merged"].flatMap(UUID.init(storageKey:)),
              let reason = form.trimmed("reason"), reason.count <= 500 else {
            return try await renderMerge(request: request, context: context, error: pages.text("merge_error_fields"), status: .badRequest)
        }
        do {
            try await patients.merge(survivorID: survivor, mergedID: merged, by: context.user.id, reason: reason, audit: context.auditDraft(
                .patientMerge, resourceType: "patient", resourceID: merged.storageKey, patientID: survivor, outcome: .success, reason: reason))
        } catch StoreError.notFound {
            throw AppError.notFound
        } catch is PatientStore.MergeError {
            return try await renderMerge(request: request, context: context, error: pages.text("merge_error_state"), status: .conflict)
        }
        return context.sessions.redirect(to: SiteURL.patient(survivor), flash: .success, "flash_patients_merged")
    }
}
