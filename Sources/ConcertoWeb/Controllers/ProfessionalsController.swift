import ConcertoCore
import ConcertoStore
import Foundation
import HTTPTypes
import Hummingbird
import Mustache

/// The professionals directory: accounts with RPPS, specialty and organisation; platform
/// admins create them (the web twin of `concerto user create`).
struct ProfessionalsController: Sendable {
    let users: UserStore
    let organisations: OrganisationStore
    let audit: AuditLog
    let passwords: PasswordHasher
    let renderer: Renderer

    func addRoutes(to group: some RouterMethods<AuthenticatedContext>) {
        group.get(SiteURL.route(.adminProfessionals), use: list)
        group.post(SiteURL.route(.adminProfessionals), use: create)
        group.post(SiteURL.route { _, user in .adminProfessionalDisable(user: user) }, use: disable)
        group.post(SiteURL.route { _, user in .adminProfessionalEnable(user: user) }, use: enable)
    }

    struct ProfessionalsContent: Sendable, PageModel {
        let professionals: [ViewFields]
        let values: ViewFields
        let specialties: [ViewFields]
        let organisationOptions, roles: [SelectOption]
        let errors: [String]
    }

    @Sendable func list(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        guard context.user.isAdmin else { throw AppError.forbidden }
        return try await render(request: request, context: context, form: FormData(fields: [:]), errors: [])
    }

    private func render(request: Request, context: AuthenticatedContext, form: FormData, errors: [String], status: HTTPResponse.Status = .ok) async throws -> Response {
        let pages = PageBuilder(request: request, context: context)
        let content = ProfessionalsContent(
            professionals: try await users.all().map { entry in
                ViewFields([
                    "name": entry.user.displayName, "email": entry.user.email, "rpps": entry.user.rppsNumber,
                    "specialty": entry.user.specialtyLabel, "organisation": entry.organisationName,
                    "role": pages.text("role_\(entry.user.role.rawValue)"),
                    "disabled": entry.user.isDisabled ? true : nil,
                    "status": pages.text(entry.user.isDisabled ? "professional_disabled" : "professional_active"),
                    "disableURL": entry.user.id == context.user.id ? nil : SiteURL.adminProfessionalDisable(user: entry.user.id).path,
                    "enableURL": SiteURL.adminProfessionalEnable(user: entry.user.id).path,
                ])
            },
            values: ViewFields(form.fields.filter { $0.key != "password" }),
            specialties: Specialty.Discipline.allCases.map { discipline in
                ViewFields([
                    "label": pages.text("discipline_\(discipline.rawValue)"),
                    "options": Specialty.all.filter { $0.discipline == discipline }.map {
                        SelectOption(value: $0.code, label: $0.label, selected: form["specialty"] == $0.code)
                    },
                ])
            },
            organisationOptions: try await organisations.all().map {
                SelectOption(value: $0.id.storageKey, label: "\($0.name) (\($0.city))", selected: form["organisation"] == $0.id.storageKey)
            },
            roles: SelectOption.list(ProfessionalRole.allCases, labelledBy: "role", chosen: form["role"] ?? ProfessionalRole.physician.rawValue, pages: pages),
            errors: errors
        )
        return try renderer.html("admin_professionals", pages.page(content), status: status)
    }

    @Sendable func create(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        guard context.user.isAdmin else { throw AppError.forbidden }
        let form = try context.requiredForm
        let pages = PageBuilder(request: request, context: context)
        var errors: [String] = []
        let email = form.trimmed("email").map(EmailAddress.normalize)
        if email.map(EmailAddress.isPlausible) != true { errors.append(pages.text("professional_error_email")) }
        let name = form.trimmed("name")
        if (name?.count ?? 201) > 200 { errors.append(pages.text("professional_error_name")) }
        let role = form["role"].flatMap(ProfessionalRole.init(rawValue:))
        if role == nil { errors.append(pages.text("professional_error_role")) }
        var rpps: RPPSNumber?
        if let raw = form.trimmed("rpps") {
            rpps = RPPSNumber(raw)
            if rpps == nil { errors.append(pages.text("professional_error_rpps")) }
        }
        let specialty = form.trimmed("specialty")
        if let specialty, Specialty.find(code: specialty) == nil { errors.append(pages.text("professional_error_specialty")) }
        var organisationID: UUID?
        if let raw = form.trimmed("organisation") {
            organisationID = UUID(storageKey: raw)
            let known = if let organisationID { try await organisations.find(id: organisationID) != nil } else { false }
            if !known { errors.append(pages.text("professional_error_organisation")) }
        }
        let password = form["password"] ?? ""
        switch PasswordRules.problem(with: password) {
        case .tooShort: errors.append(pages.text("professional_error_password_short"))
        case .tooLong: errors.append(pages.text("professional_error_password_long"))
        case nil: break
        }
        guard errors.isEmpty, let email, let name, let role else {
            return try await render(request: request, context: context, form: form, errors: errors, status: .badRequest)
        }
        let user = User(email: email, displayName: name, rppsNumber: rpps?.digits, specialtyCode: specialty, organisationID: organisationID,
                        role: role, isAdmin: role == .admin)
        do {
            try await users.create(user, passwordHash: try await passwords.hash(password))
        } catch StoreError.duplicateEmail {
            return try await render(request: request, context: context, form: form, errors: [pages.text("professional_error_duplicate")], status: .conflict)
        }
        try await audit.record(context.auditDraft(.professionalCreate, resourceType: "user", resourceID: user.id.storageKey, outcome: .success, reason: role.rawValue))
        return context.sessions.redirect(to: SiteURL.adminProfessionals, flash: .success, "flash_professional_created")
    }

    /// Disabling ends the account's sessions at once; its history (audit, decisions) stays.
    @Sendable func disable(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        guard context.user.isAdmin else { throw AppError.forbidden }
        let target = try await account(context)
        if AccountAdministration.mayDisable(target, by: context.user) == .ownAccount {
            let pages = PageBuilder(request: request, context: context)
            return try await render(request: request, context: context, form: FormData(fields: [:]),
                                    errors: [pages.text("professional_error_own_account")], status: .conflict)
        }
        if !target.isDisabled { try await users.setDisabled(id: target.id, at: Date()) }
        try await audit.record(context.auditDraft(.accountDisable, resourceType: "user", resourceID: target.id.storageKey, outcome: .success))
        context.logger.notice("account disabled", metadata: ["user_id": .string(target.id.storageKey)])
        return context.sessions.redirect(to: SiteURL.adminProfessionals, flash: .success, "flash_professional_disabled")
    }

    @Sendable func enable(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        guard context.user.isAdmin else { throw AppError.forbidden }
        let target = try await account(context)
        if target.isDisabled { try await users.setDisabled(id: target.id, at: nil) }
        try await audit.record(context.auditDraft(.accountEnable, resourceType: "user", resourceID: target.id.storageKey, outcome: .success))
        return context.sessions.redirect(to: SiteURL.adminProfessionals, flash: .success, "flash_professional_enabled")
    }

    private func account(_ context: AuthenticatedContext) async throws -> User {
        guard let id = context.parameters.get(SiteURL.Parameter.user.rawValue).flatMap(UUID.init(storageKey:)), let user = try await users.find(id: id) else {
            throw AppError.notFound
        }
        return user
    }
}
