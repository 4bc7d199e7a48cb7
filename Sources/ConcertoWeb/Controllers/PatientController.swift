import CDA
import ConcertoCore
import ConcertoStore
import Foundation
import HTTPTypes
import Hummingbird
import Mustache

/// Patients: creation with duplicate detection, the patient page (identity, then the
/// clinical part when the policy allows it), opening a case, local ids. The care team,
/// emergency access and the access report have their own controllers. Every route with a
/// patient id goes through `AccessGuard` first.
struct PatientController: Sendable {
    let patients: PatientStore
    let care: CareStore
    let communities: CommunityStore
    let organisations: OrganisationStore
    let documents: DocumentStore
    let audit: AuditLog
    let guardian: AccessGuard
    let renderer: Renderer

    func addRoutes(to group: some RouterMethods<AuthenticatedContext>) {
        group.get(SiteURL.route(.newPatient), use: newPatientForm)
        group.post(SiteURL.route(.patients), use: createPatient)
        group.get(SiteURL.route { id, _ in .patient(id) }, use: show)
        group.post(SiteURL.route { id, _ in .patientCases(id) }, use: openCase)
        group.post(SiteURL.route { id, _ in .patientLocalIDs(id) }, use: addLocalID)
    }

    // MARK: New patient

    struct NewPatientContent: Sendable, PageModel {
        let communities: [ViewFields]
        let values: ViewFields
        let errors: [String]
        /// Where a possible duplicate is reported (an INS already carried by another record).
        let identityDeskURL: String?
        let matches: [ViewFields]
        let sexOptions, statusOptions, documentOptions, insKindOptions: [SelectOption]
    }

    /// Communities where the user may open a patient's file: active, not as observer.
    private func writableCommunities(_ context: AuthenticatedContext) async throws -> [(Community, Membership)] {
        try await communities.communities(ofUser: context.user.id).filter { $0.membership.status == .active && $0.membership.role != .observer }
    }

    @Sendable func newPatientForm(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let chosen = request.uri.queryParameters["community"].map(String.init)
        return try await renderNewPatient(request: request, context: context, form: FormData(fields: ["community": chosen ?? ""]), errors: [], matches: [])
    }

    private func renderNewPatient(
        request: Request, context: AuthenticatedContext, form: FormData, errors: [String], matches: [ViewFields], status: HTTPResponse.Status = .ok,
        insTaken: Bool = false
    ) async throws -> Response {
        let pages = PageBuilder(request: request, context: context)
        let writable = try await writableCommunities(context)
        guard !writable.isEmpty else { throw AppError.forbidden }
        let content = NewPatientContent(
            communities: writable.map { ViewFields(["id": $0.0.id.storageKey, "name": $0.0.name, "selected": form["community"] == $0.0.id.storageKey ? true : nil]) },
            values: ViewFields(form.fields),
            errors: errors,
            identityDeskURL: insTaken ? SiteURL.adminPatientMerge.path : nil,
            matches: matches,
            sexOptions: SelectOption.list(AdministrativeSex.allCases, labelledBy: "sex", chosen: form["sex"], pages: pages),
            // A form records PROV, or VALI with the document checked; QUAL comes from the identity desk.
            statusOptions: SelectOption.list([IdentityStatus.provisional, .validated], labelledBy: "identity_status", chosen: form["identity_status"], pages: pages),
            documentOptions: SelectOption.list(IdentityDocumentType.allCases, labelledBy: "identity_document", chosen: form["identity_document"], pages: pages),
            insKindOptions: SelectOption.list(INSKind.allCases, labelledBy: "ins_kind", chosen: form["ins_kind"], pages: pages)
        )
        return try renderer.html("patient_new", pages.page(content), status: status)
    }

    /// Reads the identity form; returns the identity or the messages to show.
    struct FormErrors: Error { let messages: [String] }

    static func identity(from form: FormData, pages: PageBuilder) -> Result<(PatientIdentity, IdentityDocumentType?), FormErrors> {
        var errors: [String] = []
        let birthName = form.trimmed("birth_name") ?? ""
        let firstNames = form.trimmed("first_names") ?? ""
        let birthDate = form.trimmed("birth_date").flatMap(CalendarDate.init(iso:))
        if birthDate == nil { errors.append(pages.text("patient_error_birth_date")) }
        let sex = form["sex"].flatMap(AdministrativeSex.init(rawValue:))
        if sex == nil { errors.append(pages.text("patient_error_sex")) }
        let requested = form["identity_status"].flatMap(IdentityStatus.init(rawValue:)) ?? .provisional
        let document = form["identity_document"].flatMap(IdentityDocumentType.init(rawValue:))
        var status = IdentityStatus.provisional
        switch IdentityStatusRules.declared(requested, document: document) {
        case .success(let declared): status = declared
        case .failure(.documentMissing): errors.append(pages.text("patient_error_identity_document"))
        case .failure: errors.append(pages.text("patient_error_status_not_declarable"))
        }
        var ins: INS?
        if let matricule = form.trimmed("ins_matricule") {
            let kind = form["ins_kind"].flatMap(INSKind.init(rawValue:)) ?? .nir
            switch INS.validate(matricule) {
            case .success(let valid): ins = try? INS(matricule: valid, kind: kind)
            case .failure(.wrongKey): errors.append(pages.text("patient_error_ins_key"))
            case .failure: errors.append(pages.text("patient_error_ins_format"))
            }
        }
        guard let birthDate, let sex, errors.isEmpty else { return .failure(FormErrors(messages: errors)) }
        let identity = PatientIdentity(
            birthName: birthName.uppercased(), firstNames: firstNames, usedName: form.trimmed("used_name")?.uppercased(),
            usedFirstName: form.trimmed("used_first_name"), birthDate: birthDate, sex: sex,
            birthPlaceCode: form.trimmed("birth_place_code")?.uppercased(), ins: ins, status: status
        )
        let problems = identity.problems()
        guard problems.isEmpty else { return .failure(FormErrors(messages: problems.map { pages.text("patient_error_\($0)") })) }
        return .success((identity, status == .validated ? document : nil))
    }

    @Sendable func createPatient(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let form = try context.requiredForm
        let pages = PageBuilder(request: request, context: context)
        let writable = try await writableCommunities(context)
        guard let communityID = form["community"].flatMap(UUID.init(storageKey:)),
              let (_, membership) = writable.first(where: { $0.0.id == communityID }) else {
            return try await renderNewPatient(request: request, context: context, form: form, errors: [pages.text("patient_error_community")], matches: [], status: .badRequest)
        }
        let identity: PatientIdentity, document: IdentityDocumentType?
        switch Self.identity(from: form, pages: pages) {
        case .success(let value): (identity, document) = value
        case .failure(let errors):
            return try await renderNewPatient(request: request, context: context, form: form, errors: errors.messages, matches: [], status: .badRequest)
        }
        // One INS, one record: another record carrying it is a possible duplicate for the
        // identity desk, whatever the user may see of it (which is not revealed).
        if let ins = identity.ins, try await patients.holder(of: ins) != nil {
            return try await renderNewPatient(request: request, context: context, form: form,
                                              errors: [pages.text("patient_error_ins_taken")], matches: [], status: .conflict, insTaken: true)
        }
        // Offer records the user may already see instead of creating a duplicate; a match
        // they may not see is not revealed (the identity admins see it as a suspected duplicate).
        if form["confirm_new"] != "1" {
            var visible: [ViewFields] = []
            for (record, strength) in try await patients.matches(for: identity) {
                guard let facts = try await care.accessFacts(userID: context.user.id, patientID: record.id),
                      guardian.policy.decide(.readAdministrative, facts, at: Date()).allowed else { continue }
                let holdsHere = facts.caseCommunities.contains(communityID)
                visible.append(ViewFields([
                    "name": record.identity.displayName, "birthDate": record.identity.birthDate.french,
                    "strength": pages.text("patient_match_\(strength == .ins ? "ins" : "traits")"),
                    "url": SiteURL.patient(record.id).path, "openCaseURL": holdsHere ? nil : SiteURL.patientCases(record.id).path,
                ]))
            }
            if !visible.isEmpty {
                try await audit.record(context.auditDraft(.patientList, resourceType: "duplicate_check", resourceID: communityID.storageKey,
                                                          outcome: .allowed, reason: AccessReason.communityMember.rawValue))
                return try await renderNewPatient(request: request, context: context, form: form, errors: [], matches: visible, status: .conflict)
            }
        }
        var localID: (UUID, String)?
        if let ipp = form.trimmed("ipp") {
            guard LocalPatientID.isValid(ipp) else {
                return try await renderNewPatient(request: request, context: context, form: form, errors: [pages.text("patient_error_ipp_syntax")], matches: [], status: .badRequest)
            }
            guard let organisation = context.user.organisationID else {
                return try await renderNewPatient(request: request, context: context, form: form, errors: [pages.text("patient_error_ipp_no_organisation")], matches: [], status: .badRequest)
            }
            localID = (organisation, ipp)
        }
        let careReason = membership.role == .physician ? pages.text("care_reason_creator") : nil
        do {
            let proofs = document.map {
                [IdentityProof(status: .validated, documentType: $0, verifier: nil, source: .form, recordedBy: context.user.id)]
            } ?? []
            let id = try await patients.create(
                identity, in: communityID, by: context.user.id, careReason: careReason, localID: localID, proofs: proofs,
                audit: context.auditDraft(.patientCreate, resourceType: "patient", outcome: .success, reason: communityID.storageKey)
            )
            return context.sessions.redirect(to: SiteURL.patient(id), flash: .success, "flash_patient_created")
        } catch StoreError.duplicateLocalID {
            return try await renderNewPatient(request: request, context: context, form: form, errors: [pages.text("patient_error_ipp_taken")], matches: [], status: .conflict)
        } catch StoreError.duplicateINS {
            return try await renderNewPatient(request: request, context: context, form: form,
                                              errors: [pages.text("patient_error_ins_taken")], matches: [], status: .conflict, insTaken: true)
        }
    }

    /// Opens a case for an existing record in one of the user's communities.
    @Sendable func openCase(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let patientID = try context.parameters.uuid(.patient)
        let form = try context.requiredForm
        try await guardian.require(.readAdministrative, patient: patientID, auditAction: .patientUpdate, auditAllowed: false, context: context)
        let writable = try await writableCommunities(context)
        guard let communityID = form["community"].flatMap(UUID.init(storageKey:)), writable.contains(where: { $0.0.id == communityID }) else {
            throw AppError.badRequest
        }
        try await patients.openCase(patientID: patientID, in: communityID, by: context.user.id, audit: context.auditDraft(
            .patientUpdate, resourceType: "case", resourceID: communityID.storageKey, patientID: patientID, outcome: .success, reason: "case_opened"))
        return context.sessions.redirect(to: SiteURL.patient(patientID), flash: .success, "flash_case_opened")
    }

    // MARK: Patient page

    struct PatientContent: Sendable, PageModel {
        let patientID, name: String
        let identity: ViewFields
        /// How the identity's status was established (documents checked, INS verifications).
        let identityProofs: [ViewFields]
        /// The identity desk's forms, for platform administrators.
        let identityDesk: ViewFields?
        let localIDs, heldCases: [ViewFields]
        /// Fiches RCP received as CDA documents (earlier boards, other platforms).
        let importedRCP: [ViewFields]
        var carePlans: [ViewFields] = []
        let accessAllowed: Bool
        let accessMessage: String
        let breakTheGlass: Bool
        let emergencyURL: String?
        let careLinks, oppositions: [ViewFields]
        let mayDeclareCare, mayWriteAdministrative, mayReadAuditTrail: Bool
        let oppositionTargets, openCaseCommunities: [ViewFields]
        let links: ViewFields
    }

    @Sendable func show(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let patientID = try context.parameters.uuid(.patient)
        let pages = PageBuilder(request: request, context: context)
        guard let record = try await patients.find(id: patientID) else {
            _ = try await guardian.evaluate(.readAdministrative, patient: patientID, auditAction: .patientRead, context: context)
            throw AppError.notFound
        }
        if let survivor = record.mergedInto {
            // The merged record lives on in the survivor, behind the same policy.
            _ = try await guardian.require(.readAdministrative, patient: survivor, auditAction: .patientRead, auditAllowed: false, context: context)
            return .redirect(to: SiteURL.patient(survivor).path, type: .normal)
        }
        let now = Date()
        let administrative = try await guardian.require(.readAdministrative, patient: patientID, auditAction: .patientRead, auditAllowed: false, context: context, at: now)
        let facts = administrative.facts
        let clinical = guardian.policy.decide(.readClinical, facts, at: now)
        // One event for the page: what it showed and on what ground.
        let shown = clinical.allowed ? clinical : administrative.decision
        try await audit.record(guardian.allowedEvent(shown, auditAction: .patientRead, resourceType: clinical.allowed ? "patient" : "patient_identity",
                                                     patientID: patientID, context: context), at: now)
        if !clinical.allowed {
            try await audit.record(context.auditDraft(.patientRead, resourceType: "patient_clinical", resourceID: patientID.storageKey, patientID: patientID,
                                                      outcome: .denied, reason: clinical.reason.rawValue), at: now)
        }
        let identity = record.identity
        let heldCases = try await patients.cases(of: patientID)
        let myCommunities = try await writableCommunities(context)
        let grantExpiry = facts.grants.filter { $0.isActive(at: now) }.map(\.expiresAt).max()
        var accessMessage = pages.text("access_reason_\(clinical.reason.rawValue)")
        if clinical.mode == .breakTheGlass, let grantExpiry {
            accessMessage += " " + pages.text("access_until", ["time": DisplayFormat.dateTime(grantExpiry)])
        }
        let careRows = clinical.allowed ? try await care.careLinks(of: patientID) : []
        let oppositionRows = try await care.oppositions(of: patientID)
        let writeAdmin = guardian.policy.decide(.writeAdministrative, facts, at: now).allowed
        let heldCommunityIDs = Set(heldCases.map(\.communityID))
        var content = PatientContent(
            patientID: patientID.storageKey,
            name: identity.displayName,
            identity: ViewFields([
                "birthName": identity.birthName, "firstNames": identity.firstNames, "firstName": identity.firstName,
                "usedName": identity.usedName, "usedFirstName": identity.usedFirstName, "birthDate": identity.birthDate.french,
                "sex": pages.text("sex_\(identity.sex.rawValue)"), "birthPlaceCode": identity.birthPlaceCode,
                "status": pages.text("identity_status_\(identity.status.rawValue)"), "qualified": identity.status == .qualified ? true : nil,
                "ins": identity.usableINS?.matricule, "insKind": identity.usableINS.map { pages.text("ins_kind_\($0.kind.rawValue)") },
                "insOID": identity.usableINS?.oid,
            ]),
            identityProofs: try await patients.identityProofs(of: patientID).map { recorded in
                ViewFields([
                    "status": pages.text("identity_status_\(recorded.proof.status.rawValue)"),
                    "document": recorded.proof.documentType.map { pages.text("identity_document_\($0.rawValue)") },
                    "verifier": recorded.proof.verifier.map { verifier in
                        verifier.hasPrefix(IdentityProof.trustedOrganisationPrefix)
                            ? pages.text("identity_verifier_trusted_organisation", ["finess": String(verifier.dropFirst(IdentityProof.trustedOrganisationPrefix.count))])
                            : pages.text("identity_verifier_\(verifier)")
                    },
                    "by": recorded.recordedByName, "at": DisplayFormat.dateTime(iso: recorded.recordedAt),
                ])
            },
            identityDesk: context.user.isAdmin ? ViewFields([
                "validateURL": identity.status == .provisional || identity.status == .retrieved ? SiteURL.patientIdentityValidate(patientID).path : nil,
                "qualifyURL": identity.status == .validated && identity.ins != nil ? SiteURL.patientIdentityQualify(patientID).path : nil,
                "documentOptions": IdentityDocumentType.allCases.map { ViewFields(["value": $0.rawValue, "label": pages.text("identity_document_\($0.rawValue)")]) },
            ]) : nil,
            localIDs: try await patients.localIDs(of: patientID).map { ViewFields(["organisation": $0.organisation, "ipp": $0.ipp]) },
            heldCases: heldCases.map { ViewFields(["community": $0.communityName, "status": pages.text("case_status_\($0.status)"),
                                                   "createdAt": DisplayFormat.dateTime(iso: $0.createdAt), "url": SiteURL.caseItem($0.id).path]) },
            importedRCP: clinical.allowed ? try await documents.documents(ofPatient: patientID).filter { document in
                document.typeCode == "34794-8" && guardian.policy.decide(.readClinical, facts, community: document.communityID, at: now).allowed
            }.map { ViewFields(["title": $0.title ?? $0.typeCode, "date": HL7Time.french(iso: $0.effectiveTime), "url": SiteURL.document($0.id).path]) } : [],
            accessAllowed: clinical.allowed,
            accessMessage: accessMessage,
            breakTheGlass: clinical.mode == .breakTheGlass,
            emergencyURL: guardian.breakTheGlassMayHelp(clinical, facts: facts) ? SiteURL.patientEmergencyAccess(patientID).path : nil,
            careLinks: careRows.map { row in
                let active = row.link.isActive(at: now)
                return ViewFields([
                    "party": row.partyName, "kind": pages.text(row.link.party.isOrganisation ? "care_party_organisation" : "care_party_professional"),
                    "reason": row.reason, "start": DisplayFormat.dateTime(row.link.start), "end": row.link.end.map(DisplayFormat.dateTime),
                    "declaredBy": row.declaredByName, "active": active ? true : nil,
                    "endURL": active ? SiteURL.patientCareLinkEnd(patientID, link: row.id).path : nil,
                ])
            },
            oppositions: oppositionRows.map { row in
                let active = row.scope.isActive(at: now)
                return ViewFields([
                    "target": row.targetName, "recordedBy": row.recordedByName, "recordedAt": DisplayFormat.dateTime(row.scope.recordedAt),
                    "withdrawnAt": row.scope.withdrawnAt.map(DisplayFormat.dateTime), "active": active ? true : nil,
                    "withdrawURL": active && writeAdmin && OppositionRules.mayLift(row.scope, facts, policy: guardian.policy, at: now)
                        ? SiteURL.patientOppositionWithdraw(patientID, opposition: row.id).path : nil,
                ])
            },
            mayDeclareCare: clinical.allowed && guardian.policy.decide(.declareCare, facts, at: now).allowed,
            mayWriteAdministrative: writeAdmin,
            mayReadAuditTrail: guardian.policy.decide(.readAuditTrail, facts, at: now).allowed,
            oppositionTargets: heldCases.reduce(into: [ViewFields]()) { list, held in
                let value = "community:\(held.communityID.storageKey)"
                if !list.contains(where: { $0.values["value"] as? String == value }) {
                    list.append(ViewFields(["value": value, "label": held.communityName]))
                }
            } + (writeAdmin ? try await organisations.all() : []).map {
                ViewFields(["value": "organisation:\($0.id.storageKey)", "label": "\($0.name) (\($0.city))"])
            },
            openCaseCommunities: myCommunities.filter { !heldCommunityIDs.contains($0.0.id) }.map { ViewFields(["id": $0.0.id.storageKey, "name": $0.0.name]) },
            links: ViewFields([
                "careTeam": SiteURL.patientCareTeam(patientID).path, "oppositions": SiteURL.patientOppositions(patientID).path,
                "localIDs": SiteURL.patientLocalIDs(patientID).path, "accessReport": SiteURL.patientAccessReport(patientID).path,
                "accessReportCSV": SiteURL.patientAccessReportCSV(patientID).path, "openCase": SiteURL.patientCases(patientID).path,
                "newCase": clinical.allowed && guardian.policy.decide(.writeClinical, facts, at: now).allowed
                    ? SiteURL.caseNew(patient: patientID) : nil,
            ])
        )
        // Personalised care plans (PPS): their items, and the fiche RCP each carries out.
        if clinical.allowed {
            content.carePlans = try await documents.documents(ofPatient: patientID).filter { document in
                document.carePlanJSON != "[]" && guardian.policy.decide(.readClinical, facts, community: document.communityID, at: now).allowed
            }.map { plan in
                ViewFields([
                    "title": plan.title ?? plan.typeCode, "date": HL7Time.french(iso: plan.effectiveTime), "url": SiteURL.document(plan.id).path,
                    "items": CarePlanPresentation.items(plan, pages: pages),
                    "caseURL": plan.carriesOutCaseID.map { SiteURL.caseItem($0).path },
                ])
            }
        }
        return try renderer.html("patient", pages.page(content))
    }

    // MARK: Local ids

    @Sendable func addLocalID(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let patientID = try context.parameters.uuid(.patient)
        let form = try context.requiredForm
        let outcome = try await guardian.require(.writeAdministrative, patient: patientID, auditAction: .patientLocalID, auditAllowed: false, context: context)
        guard let ipp = form.trimmed("ipp"), LocalPatientID.isValid(ipp), let organisation = context.user.organisationID else {
            return context.sessions.redirect(to: SiteURL.patient(patientID), flash: .error, "flash_ipp_invalid")
        }
        do {
            try await patients.addLocalID(patientID: patientID, organisationID: organisation, ipp: ipp, audit: guardian.allowedEvent(
                outcome.decision, auditAction: .patientLocalID, resourceType: "local_id", patientID: patientID, context: context))
            context.sessions.flash(.success, "flash_ipp_added")
        } catch StoreError.duplicateLocalID {
            context.sessions.flash(.error, "flash_ipp_taken")
        }
        return .redirect(to: SiteURL.patient(patientID).path, type: .normal)
    }
}
