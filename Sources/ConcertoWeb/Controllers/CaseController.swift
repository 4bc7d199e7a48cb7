import CDA
import ConcertoCore
import ConcertoServices
import ConcertoStore
import DICOMweb
import Foundation
import HTTPTypes
import Hummingbird
import Mustache

/// Fiches RCP: search, creation (and re-presentation), the case page, editing with
/// conflict detection, and the workflow's transitions. Every route reads the case's
/// patient through `AccessGuard`, restricted to the case's community.
struct CaseController: Sendable {
    let cases: CaseStore
    let meetings: MeetingStore
    let patients: PatientStore
    let communities: CommunityStore
    let documents: DocumentStore
    let followUps: FollowUpStore
    let completeness: CompletenessStore
    let imagingStudies: ImagingStore
    let imaging: ImagingService
    let guardian: AccessGuard
    let renderer: Renderer
    let horizonMonths: Int

    func addRoutes(to group: some RouterMethods<AuthenticatedContext>) {
        group.get(SiteURL.route(.cases), use: search)
        group.post(SiteURL.route(.cases), use: create)
        group.get(SiteURL.route(.caseNew), use: newCaseForm)
        group.get(SiteURL.route { id, _ in .caseItem(id) }, use: show)
        group.post(SiteURL.route { id, _ in .caseItem(id) }, use: save)
        group.get(SiteURL.route { id, _ in .caseEdit(id) }, use: editForm)
        group.post(SiteURL.route { id, _ in .caseRegister(id) }, use: register)
        group.post(SiteURL.route { id, _ in .caseWithdraw(id) }, use: withdraw)
        group.post(SiteURL.route { id, _ in .caseDecision(id) }, use: recordDecision)
        group.post(SiteURL.route { id, _ in .caseValidate(id) }, use: validate)
        group.post(SiteURL.route { id, _ in .caseSendBack(id) }, use: sendBack)
    }

    // MARK: Presentation

    static func refusalMessage(_ refusal: CaseWorkflow.Refusal) -> String {
        switch refusal {
        case .notAllowed: "workflow_not_allowed"
        case .wrongStatus: "workflow_wrong_status"
        case .registration(let reason): "registration_\(reason.rawValue)"
        case .incompleteCase: "workflow_incomplete"
        case .decision(let problems): "decision_error_\(problems.first?.rawValue ?? "no_proposal")"
        case .quorumNotMet: "workflow_quorum"
        }
    }

    // MARK: Loading

    struct Loaded: Sendable {
        let record: CaseRecord
        let outcome: AccessGuard.Outcome
        let mine: UserCommunities
        let meeting: MeetingRecord?
        let mayWrite: Bool

        var actor: CaseActor {
            CaseActor(isPhysician: mayWrite, isCoordinator: mine.isCoordinator(of: record.communityID), isChair: meeting?.chairID != nil && meeting?.chairID == userID,
                      isRecorder: meeting?.recorderID != nil && meeting?.recorderID == userID && meeting?.status == .scheduled)
        }
        let userID: UUID
    }

    /// The case, after the policy allowed `action` on its patient in its community: reading
    /// the clinical content, or for scheduling (register, withdraw) the administrative data.
    func load(_ context: AuthenticatedContext, action: AccessAction = .readClinical, auditAction: AuditAction = .caseRead, auditAllowed: Bool = false,
              at now: Date = Date()) async throws -> Loaded {
        let (record, outcome) = try await guardian.requireCase(action, cases: cases, auditAction: auditAction, auditAllowed: auditAllowed,
                                                               context: context, at: now)
        let mine = try await UserCommunities.load(communities, user: context.user.id)
        let meeting = try await record.meetingID.asyncMap { try await meetings.find(id: $0) } ?? nil
        let mayWrite = guardian.policy.decide(.writeClinical, outcome.facts, community: record.communityID, at: now).allowed
        return Loaded(record: record, outcome: outcome, mine: mine, meeting: meeting, mayWrite: mayWrite, userID: context.user.id)
    }

    func draft(_ action: AuditAction, _ loaded: Loaded, context: AuthenticatedContext, reason: String? = nil) -> AuditDraft {
        context.auditDraft(action, resourceType: "case", resourceID: loaded.record.id.storageKey, patientID: loaded.record.patientID,
                           mode: loaded.outcome.decision.mode, outcome: .success, reason: reason)
    }

    // MARK: Case page

    /// The fiche RCP page: the case, its meeting, decision, editions, documents and studies, and what the user may do.
    struct CasePage: Sendable, PageModel {
        let patientName: String?
        let patientURL: String
        let birthDate: String?
        let community, status, statusCode: String
        let validated: Bool
        let edition: String
        let createdBy: String?
        let createdAt: String
        let updatedAt, updatedBy, validatedAt, validatedBy: String?
        let meeting: ViewFields?
        let content: ViewFields
        let decision: ViewFields?
        let editURL, registerURL: String?
        let meetingOptions: [ViewFields]?
        let withdrawURL, duplicateURL, validateURL: String?
        let completeness, followUp: ViewFields?
        let editions: [ViewFields]
        let accessMessage: String
        let breakTheGlass: Bool
        let documents: [ViewFields]
        let hasDocuments: Bool
        let uploadURL: String?
        let imagingURL, caseURL: String
        let ficheXMLURL, fichePDFURL: String?
        let attached: [ViewFields]
        let hasAttached: Bool
        let returnPath: String
        let imagingUnavailable: Bool
    }

    @Sendable func show(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let loaded = try await load(context, auditAllowed: true)
        let pages = PageBuilder(request: request, context: context)
        let record = loaded.record
        let now = Date()
        let actor = loaded.actor
        let patient = try await patients.find(id: record.patientID)
        async let editions = cases.editions(of: record.id)
        // Documents of the patient filed through this community (the page's access check covers them).
        async let communityDocuments = documents.documents(ofPatient: record.patientID).filter { $0.communityID == record.communityID }
        async let attachedStudies = imagingStudies.studies(ofCase: record.id)
        async let followUp = record.status == .validated ? followUps.find(caseID: record.id) : nil
        // On its meeting's agenda: the file against the board's list, with what to add.
        let rules = (record.status == .registered || record.status == .discussed) ? loaded.meeting?.completeness ?? .none : .none
        async let evidence = rules.items.isEmpty ? nil : completeness.evidence(forCase: record.id)
        async let upcoming = meetings.meetings(inCommunities: [record.communityID], from: now, to: now.addingTimeInterval(Double(horizonMonths + 1) * 31 * 86_400), limit: 30)
        let mayRegister = (record.status == .draft || record.status == .toRepresent) && (actor.isPhysician || actor.isCoordinator)
        // The same check as the edit form itself, so no button leads to a refusal.
        let mayEdit = self.mayEdit(loaded).isSuccess
        let content = CasePage(
            patientName: patient?.identity.displayName, patientURL: SiteURL.patient(record.patientID).path,
            birthDate: patient?.identity.birthDate.french, community: record.communityName,
            status: pages.text("case_status_\(record.status.rawValue)"), statusCode: record.status.rawValue,
            validated: record.status == .validated,
            edition: String(record.edition), createdBy: record.createdByName, createdAt: DisplayFormat.dateTime(record.createdAt),
            updatedAt: record.updatedAt.map(DisplayFormat.dateTime), updatedBy: record.updatedByName,
            validatedAt: record.validatedAt.map(DisplayFormat.dateTime), validatedBy: record.validatedByName,
            meeting: loaded.meeting.map { meeting in
                ViewFields(["title": meeting.title, "when": DisplayFormat.dateTime(meeting.startsAt), "url": SiteURL.meeting(meeting.id).path,
                            "sessionURL": SiteURL.meetingSession(meeting.id).path, "cancelled": meeting.status == .cancelled ? true : nil])
            },
            content: CasePresentation.contentFields(record.content, pages: pages),
            decision: record.decision.map { CasePresentation.decisionFields($0, pages: pages) },
            editURL: mayEdit ? SiteURL.caseEdit(record.id).path : nil,
            registerURL: mayRegister ? SiteURL.caseRegister(record.id).path : nil,
            meetingOptions: mayRegister ? try await upcoming.filter { $0.status == .scheduled }.map { meeting in
                ViewFields(["id": meeting.id.storageKey, "label": "\(DisplayFormat.dateTime(meeting.startsAt)) · \(meeting.title)",
                            "late": now >= meeting.registrationWindow.deadline ? true : nil, "deadline": DisplayFormat.dateTime(meeting.registrationWindow.deadline)])
            } : nil,
            withdrawURL: record.status == .registered && (actor.isPhysician || actor.isCoordinator) ? SiteURL.caseWithdraw(record.id).path : nil,
            duplicateURL: loaded.mayWrite ? SiteURL.caseNew(patient: record.patientID, from: record.id) : nil,
            validateURL: record.status == .discussed && (actor.isCoordinator || actor.isChair) ? SiteURL.caseValidate(record.id).path : nil,
            completeness: try await evidence.flatMap { evidence in
                loaded.meeting.map { CompletenessPresentation.fields($0.completenessReport(evidence), override: evidence.override, caseID: record.id, pages: pages) }
            },
            followUp: record.status == .validated ? FollowUpPresentation.caseCard(try await followUp, record: record, meeting: loaded.meeting,
                                                                                   mayRecord: loaded.mayWrite, pages: pages, now: now) : nil,
            editions: try await editions.map { edition in
                ViewFields(["edition": String(edition.edition), "supersededAt": DisplayFormat.dateTime(edition.supersededAt),
                            "supersededBy": edition.supersededByName, "validatedAt": edition.validatedAt.map(DisplayFormat.dateTime),
                            "content": CasePresentation.contentFields(edition.content, pages: pages),
                            // false, not absent: an absent key would find the page's current decision.
                            "decision": edition.decision.map { CasePresentation.decisionFields($0, pages: pages) } ?? false])
            },
            accessMessage: pages.text("access_reason_\(loaded.outcome.decision.reason.rawValue)"),
            breakTheGlass: loaded.outcome.decision.mode == .breakTheGlass,
            documents: try await communityDocuments.map { document in
                ViewFields(["title": document.title ?? document.typeLabel ?? document.typeCode, "type": document.typeLabel ?? document.typeCode,
                            "date": HL7Time.french(iso: document.effectiveTime), "url": SiteURL.document(document.id).path,
                            "version": document.version > 1 ? String(document.version) : nil,
                            "studies": document.studyUIDs.isEmpty ? nil : String(document.studyUIDs.count)])
            },
            hasDocuments: !(try await communityDocuments.isEmpty),
            uploadURL: loaded.mayWrite ? SiteURL.caseDocuments(record.id).path : nil,
            imagingURL: SiteURL.caseImaging(record.id).path, caseURL: SiteURL.caseItem(record.id).path,
            ficheXMLURL: record.status == .validated ? SiteURL.caseFicheXML(record.id).path : nil,
            fichePDFURL: record.status == .validated ? SiteURL.caseFichePDF(record.id).path : nil,
            // Read from the database only: a slow or absent exchange never delays this page.
            attached: StudyPresentation.attachedFields(try await attachedStudies, caseID: record.id,
                                                         mayDetach: loaded.mayWrite && record.status != .validated, imaging: imaging, pages: pages),
            hasAttached: !(try await attachedStudies.isEmpty),
            returnPath: SiteURL.caseItem(record.id).path,
            imagingUnavailable: !imaging.failingExchanges.isEmpty)
        return try renderer.html("case", pages.page(content))
    }

    // MARK: New, edit, save

    /// Reads the fiche's fields; invalid codes and stages come back as messages.
    static func content(from form: FormData, pages: PageBuilder) -> (CaseContent, [String]) {
        func text(_ name: String) -> String? { form.trimmed(name) }
        func stage(_ name: String) -> String? { text(name).map { $0.replacingOccurrences(of: " ", with: "") } }
        let content = CaseContent(
            presentationReason: text("presentation_reason").flatMap(PresentationReason.init(rawValue:)),
            discoveryMode: text("discovery_mode").flatMap(DiscoveryMode.init(rawValue:)),
            tumourSiteCode: text("tumour_site").map { $0.uppercased() }, morphology: text("morphology"), lateralityCode: text("laterality"),
            tnm: TNM(cT: stage("ct"), cN: stage("cn"), cM: stage("cm"), pT: stage("pt"), pN: stage("pn"), edition: text("tnm_edition").map { Int($0) ?? 0 }),
            performanceStatusCode: text("performance_status"), history: text("history"), comorbidities: text("comorbidities"),
            phaseCode: text("phase"), previousTreatments: text("previous_treatments"), summary: text("summary"), question: text("question")
        )
        return (content, content.problems().map { pages.text("case_error_\($0.rawValue)") })
    }

    static func formValues(_ content: CaseContent) -> [String: String] {
        var values: [String: String?] = [
            "presentation_reason": content.presentationReason?.rawValue, "discovery_mode": content.discoveryMode?.rawValue,
            "tumour_site": content.tumourSiteCode, "morphology": content.morphology, "laterality": content.lateralityCode,
            "ct": content.tnm.cT, "cn": content.tnm.cN, "cm": content.tnm.cM, "pt": content.tnm.pT, "pn": content.tnm.pN,
            "tnm_edition": content.tnm.edition.map(String.init), "performance_status": content.performanceStatusCode,
            "history": content.history, "comorbidities": content.comorbidities, "phase": content.phaseCode,
            "previous_treatments": content.previousTreatments, "summary": content.summary, "question": content.question,
        ]
        if content.tnm.edition == nil { values["tnm_edition"] = "8" }
        return values.compactMapValues { $0 }
    }

    /// The fiche form (new, edit, or back with errors or a conflict): values, options of each coded field.
    struct CaseFormPage: Sendable, PageModel {
        let action: String
        let errors: [String]
        let values: ViewFields
        let communities, hidden: [ViewFields]
        let conflict: ViewFields?
        let newEdition: Bool
        let tnmSource: ViewFields?
        let reasons, discoveries, lateralities, performances, phases: [SelectOption]
        let sites: [ViewFields]
    }

    func renderForm(
        request: Request, context: AuthenticatedContext, values: [String: String], errors: [String], action: String,
        communities communityOptions: [ViewFields], hidden: [String: String], conflict: ViewFields? = nil, newEdition: Bool = false,
        tnmSource: ViewFields? = nil, status: HTTPResponse.Status = .ok
    ) throws -> Response {
        let pages = PageBuilder(request: request, context: context)
        let content = CaseFormPage(
            action: action, errors: errors, values: ViewFields(values), communities: communityOptions,
            hidden: hidden.map { ViewFields(["name": $0.key, "value": $0.value]) }, conflict: conflict, newEdition: newEdition,
            tnmSource: tnmSource,
            reasons: SelectOption.list(PresentationReason.allCases, labelledBy: "presentation", chosen: values["presentation_reason"], pages: pages),
            discoveries: SelectOption.list(DiscoveryMode.allCases, labelledBy: "discovery", chosen: values["discovery_mode"], pages: pages),
            lateralities: SelectOption.list(.lateralities, chosen: values["laterality"]), performances: SelectOption.list(.performanceStatuses, chosen: values["performance_status"]),
            phases: SelectOption.list(.cancerPhases, chosen: values["phase"]),
            sites: Terminology.tumourSites.concepts.map { ViewFields(["value": $0.code, "label": $0.label]) })
        return try renderer.html("case_form", pages.page(content), status: status)
    }

    /// Communities where the user may write this patient's clinical data.
    func writableCommunities(patientID: UUID, facts: AccessFacts, mine: UserCommunities) -> [Community] {
        mine.active.map(\.community).filter { community in
            facts.caseCommunities.contains(community.id) && guardian.policy.decide(.writeClinical, facts, community: community.id, at: Date()).allowed
        }
    }

    @Sendable func newCaseForm(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        guard let patientID = request.uri.queryParameters["patient"].flatMap({ UUID(storageKey: String($0)) }) else { throw AppError.badRequest }
        let outcome = try await guardian.require(.writeClinical, patient: patientID, auditAction: .caseRead, resourceType: "case_new", auditAllowed: false, context: context)
        let mine = try await UserCommunities.load(communities, user: context.user.id)
        var values: [String: String] = ["tnm_edition": "8"]
        var hidden = ["patient": patientID.storageKey]
        if let fromID = request.uri.queryParameters["from"].flatMap({ UUID(storageKey: String($0)) }) {
            // Re-presentation: the earlier fiche of the same patient, read under the same policy.
            guard let previous = try await cases.find(id: fromID), previous.patientID == patientID else { throw AppError.notFound }
            _ = try await guardian.require(.readClinical, patient: patientID, community: previous.communityID, auditAction: .caseRead, resourceType: "case",
                                           resourceID: previous.id.storageKey, context: context)
            values = Self.formValues(previous.content)
            hidden["previous"] = previous.id.storageKey
        }
        let writable = writableCommunities(patientID: patientID, facts: outcome.facts, mine: mine)
        return try renderForm(request: request, context: context, values: values, errors: [], action: SiteURL.cases.path,
                              communities: writable.map { ViewFields(["id": $0.id.storageKey, "name": $0.name]) }, hidden: hidden)
    }

    @Sendable func create(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let form = try context.requiredForm
        let pages = PageBuilder(request: request, context: context)
        guard let patientID = form["patient"].flatMap(UUID.init(storageKey:)), let communityID = form["community"].flatMap(UUID.init(storageKey:)) else {
            throw AppError.badRequest
        }
        let outcome = try await guardian.require(.writeClinical, patient: patientID, community: communityID, auditAction: .caseCreate, resourceType: "case",
                                                 auditAllowed: false, context: context)
        let previous = form["previous"].flatMap(UUID.init(storageKey:))
        if let previous { guard try await cases.find(id: previous)?.patientID == patientID else { throw AppError.badRequest } }
        let (content, errors) = Self.content(from: form, pages: pages)
        guard errors.isEmpty else {
            let mine = try await UserCommunities.load(communities, user: context.user.id)
            var hidden = ["patient": patientID.storageKey]
            if let previous { hidden["previous"] = previous.storageKey }
            return try renderForm(request: request, context: context, values: form.fields, errors: errors, action: SiteURL.cases.path,
                                  communities: writableCommunities(patientID: patientID, facts: outcome.facts, mine: mine).map {
                                      ViewFields(["id": $0.id.storageKey, "name": $0.name, "selected": $0.id == communityID ? true : nil]) },
                                  hidden: hidden, status: .badRequest)
        }
        let id = try await cases.create(patientID: patientID, communityID: communityID, by: context.user.id, content: content, previousCaseID: previous,
                                        audit: context.auditDraft(.caseCreate, resourceType: "case", patientID: patientID, mode: outcome.decision.mode,
                                                                  outcome: .success, reason: previous.map { "re_presentation:\($0.storageKey)" }))
        return context.sessions.redirect(to: SiteURL.caseItem(id), flash: .success, "flash_case_created")
    }

    func mayEdit(_ loaded: Loaded) -> Result<CaseWorkflow.Outcome, CaseWorkflow.Refusal> {
        // Clinical content is written by the community's physicians; coordinators and chairs
        // record the decision, not the fiche.
        guard loaded.mayWrite else { return .failure(.notAllowed) }
        return CaseWorkflow.apply(.edit, to: loaded.record.status, content: loaded.record.content, by: loaded.actor, at: Date())
    }

    @Sendable func editForm(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let loaded = try await load(context, auditAllowed: true)
        guard case .success(let outcome) = mayEdit(loaded) else { throw AppError.forbidden }
        var values = Self.formValues(loaded.record.content)
        let prefill = try await Self.tnmPrefill(&values, from: documents.documents(ofPatient: loaded.record.patientID)
            .filter { $0.communityID == loaded.record.communityID })
        return try renderForm(request: request, context: context, values: values, errors: [],
                              action: SiteURL.caseItem(loaded.record.id).path, communities: [], hidden: ["revision": String(loaded.record.revision)],
                              newEdition: outcome == .newEdition, tnmSource: prefill)
    }

    /// Empty TNM fields take the staging of the patient's newest document that has one;
    /// the form says which document, and nothing is saved until the user saves.
    static func tnmPrefill(_ values: inout [String: String], from documents: [DocumentRecord]) -> ViewFields? {
        let fields = ["cT": "ct", "cN": "cn", "cM": "cm", "pT": "pt", "pN": "pn"]
        guard fields.values.allSatisfy({ (values[$0] ?? "").isEmpty }),
              let source = documents.first(where: { document in fields.keys.contains { document.tnm[$0] != nil } }) else { return nil }
        for (key, field) in fields {
            if let stage = source.tnm[key] { values[field] = stage }
        }
        return ViewFields(["title": source.title ?? source.typeLabel ?? source.typeCode, "date": HL7Time.french(iso: source.effectiveTime),
                           "url": SiteURL.document(source.id).path])
    }

    @Sendable func save(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let loaded = try await load(context, auditAction: .caseUpdate)
        let form = try context.requiredForm
        let pages = PageBuilder(request: request, context: context)
        guard case .success(let outcome) = mayEdit(loaded) else { throw AppError.forbidden }
        guard let revision = form["revision"].flatMap(Int.init) else { throw AppError.badRequest }
        let (content, errors) = Self.content(from: form, pages: pages)
        let action = SiteURL.caseItem(loaded.record.id).path
        guard errors.isEmpty else {
            return try renderForm(request: request, context: context, values: form.fields, errors: errors, action: action, communities: [],
                                  hidden: ["revision": String(revision)], newEdition: outcome == .newEdition, status: .badRequest)
        }
        do {
            try await cases.save(id: loaded.record.id, revision: revision, content: content, newEdition: outcome == .newEdition, by: context.user.id,
                                 audit: draft(.caseUpdate, loaded, context: context, reason: outcome == .newEdition ? "new_edition" : nil))
        } catch StoreError.staleRevision {
            // Someone saved first: show what they saved, keep this user's text in the form
            // against the current revision; nothing is overwritten until they save again.
            let current = try await cases.find(id: loaded.record.id) ?? loaded.record
            return try renderForm(request: request, context: context, values: form.fields, errors: [pages.text("case_conflict")], action: action,
                                  communities: [], hidden: ["revision": String(current.revision)],
                                  conflict: ViewFields(["content": CasePresentation.contentFields(current.content, pages: pages), "by": current.updatedByName,
                                                        "at": current.updatedAt.map(DisplayFormat.dateTime)]),
                                  newEdition: current.status == .validated, status: .conflict)
        }
        context.sessions.flash(.success, outcome == .newEdition ? "flash_case_new_edition" : "flash_case_saved")
        return .redirect(to: action, type: .normal)
    }

    // MARK: Workflow

    func back(_ loaded: Loaded, form: FormData) -> Response {
        let target = form["return_to"].flatMap { SafeRedirect.isLocal($0) ? $0 : nil } ?? SiteURL.caseItem(loaded.record.id).path
        return .redirect(to: target, type: .normal)
    }

    /// What a workflow route does once `CaseWorkflow` has allowed its event: a page instead
    /// (a check the user must see first), a refusal, or the write with its success message.
    enum Next {
        case respond(Response)
        case refuse(CaseWorkflow.Refusal)
        case write(success: String, (AuditDraft) async throws -> Void)
    }

    /// The shape every workflow route shares: the case loaded once under the policy, its form
    /// read, the event asked of `CaseWorkflow`; then `next`. A refusal, or a status changed
    /// by someone else meanwhile (the store's guarded update), goes back to the page the form
    /// came from with its message, never an error page.
    func transition(
        _ context: AuthenticatedContext, access: AccessAction = .readClinical, audit auditAction: AuditAction,
        event: (Loaded, FormData) async throws -> Result<CaseWorkflow.Event, CaseWorkflow.Refusal>,
        then next: (Loaded, FormData) async throws -> Next
    ) async throws -> Response {
        let loaded = try await load(context, action: access, auditAction: auditAction)
        let form = try context.requiredForm
        let allowed = try await event(loaded, form).flatMap {
            CaseWorkflow.apply($0, to: loaded.record.status, content: loaded.record.content, by: loaded.actor, at: Date())
        }
        var step: Next
        if case .failure(let refusal) = allowed { step = .refuse(refusal) } else { step = try await next(loaded, form) }
        switch step {
        case .respond(let response):
            return response
        case .refuse(let refusal):
            context.sessions.flash(.error, Self.refusalMessage(refusal))
        case .write(let success, let write):
            do {
                try await write(draft(auditAction, loaded, context: context))
                context.sessions.flash(.success, success)
            } catch StoreError.statusChanged {
                context.sessions.flash(.error, "workflow_status_changed")
            }
        }
        return back(loaded, form: form)
    }

    @Sendable func register(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        var meeting: MeetingRecord?
        return try await transition(context, access: .readAdministrative, audit: .caseRegister) { loaded, form in
            guard let meetingID = form["meeting"].flatMap(UUID.init(storageKey:)), let found = try await meetings.find(id: meetingID),
                  found.communityID == loaded.record.communityID else { throw AppError.badRequest }
            meeting = found
            return .success(.register(found.registrationWindow, status: found.status, alreadyRegistered: found.registeredCases))
        } then: { loaded, form in
            guard let meeting else { throw AppError.badRequest }
            // The board's list: what is missing is shown before the file goes on the agenda.
            let rules = meeting.completeness
            var attested: [String] = []
            var override: String?
            if !rules.items.isEmpty {
                let labels = rules.items.compactMap { item -> String? in if case .attested(let label) = item.check { label } else { nil } }
                attested = labels.enumerated().filter { form["attest_\($0.offset)"] != nil }.map(\.element)
                var evidence = try await completeness.evidence(forCase: loaded.record.id)
                    ?? CompletenessEvidence(tumourSiteCode: loaded.record.content.tumourSiteCode, contentFacts: ContentFact.of(loaded.record.content))
                evidence.attested = Set(attested)
                let report = meeting.completenessReport(evidence)
                let reason = form.trimmed("override_reason").map { String($0.prefix(500)) }
                let mayOverride = loaded.actor.isCoordinator
                let blocked = !report.missingRequired.isEmpty && !(mayOverride && reason != nil)
                let unconfirmed = !report.missingRecommended.isEmpty && form["confirm_incomplete"] == nil
                if blocked || (report.missingRequired.isEmpty && unconfirmed) {
                    return .respond(try renderRegistrationCheck(
                        request: request, context: context, loaded: loaded, meeting: meeting, report: report,
                        attestations: labels.enumerated().map { ($0.offset, $0.element, attested.contains($0.element)) },
                        mayOverride: mayOverride, returnTo: form["return_to"], status: blocked ? .conflict : .ok))
                }
                if !report.missingRequired.isEmpty { override = reason }
            }
            return .write(success: "flash_case_registered") { audit in
                var audit = audit
                audit.reason = meeting.id.storageKey + (override == nil ? "" : " completeness_override")
                try await cases.register(id: loaded.record.id, meetingID: meeting.id, from: [loaded.record.status], by: context.user.id, attested: attested,
                                         override: override, audit: audit)
            }
        }
    }

    struct RegistrationCheckPage: Sendable, PageModel {
        struct Attestation: Sendable, PageModel {
            let name, label: String
            let checked: Bool
        }
        let caseURL: String
        let action: String
        let meetingID: String
        let meetingLabel: String
        let lines: [CompletenessLine]
        let attestations: [Attestation]
        /// Required items missing: a physician cannot register; a coordinator may, with a reason.
        let blocked: Bool
        let mayOverride: Bool
        let returnTo: String
    }

    func renderRegistrationCheck(request: Request, context: AuthenticatedContext, loaded: Loaded, meeting: MeetingRecord, report: CompletenessReport,
                                 attestations: [(Int, String, Bool)], mayOverride: Bool, returnTo: String?, status: HTTPResponse.Status) throws -> Response {
        let pages = PageBuilder(request: request, context: context)
        let page = RegistrationCheckPage(
            caseURL: SiteURL.caseItem(loaded.record.id).path, action: SiteURL.caseRegister(loaded.record.id).path, meetingID: meeting.id.storageKey,
            meetingLabel: "\(DisplayFormat.dateTime(meeting.startsAt)) · \(meeting.title)",
            lines: CompletenessPresentation.lines(report, caseID: loaded.record.id, pages: pages),
            attestations: attestations.map { .init(name: "attest_\($0.0)", label: $0.1, checked: $0.2) },
            blocked: !report.missingRequired.isEmpty, mayOverride: mayOverride,
            returnTo: returnTo.flatMap { SafeRedirect.isLocal($0) ? $0 : nil } ?? SiteURL.caseItem(loaded.record.id).path)
        return try renderer.html("case_registration_check", pages.page(page), status: status)
    }

    @Sendable func withdraw(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try await transition(context, access: .readAdministrative, audit: .caseWithdraw) { _, _ in .success(.withdraw) } then: { loaded, _ in
            guard let meetingID = loaded.record.meetingID else { throw AppError.badRequest }
            return .write(success: "flash_case_withdrawn") { audit in
                try await cases.withdraw(id: loaded.record.id, meetingID: meetingID, by: context.user.id, audit: audit)
            }
        }
    }

    @Sendable func recordDecision(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        var decision: CaseDecision?
        return try await transition(context, audit: .caseDecision) { loaded, form in
            guard let meeting = loaded.meeting else { return .failure(.wrongStatus(loaded.record.status)) }
            // The quorum is read from the attendance at this moment, never typed.
            let quorum = meeting.quorum(given: try await meetings.attendance(of: meeting.id))
            let recorded = CaseDecision(
                proposalTypes: ProposalType.allCases.filter { form["type_\($0.rawValue)"] != nil }, proposal: form.trimmed("proposal") ?? "",
                followsGuidelines: form["guidelines"] != "no", guidelinesDeviationReason: form.trimmed("deviation"),
                trialProposed: form["trial"] == "yes", trialReference: form.trimmed("trial_reference"), fileComplete: form["file_complete"] != "no",
                quorumMet: quorum.isMet, recordedWithoutQuorum: !quorum.isMet && form["without_quorum"] != nil
            )
            decision = recorded
            return .success(.recordDecision(recorded))
        } then: { loaded, _ in
            guard let decision, let meeting = loaded.meeting else { throw AppError.badRequest }
            // Whether the file held all its board asks for when it was discussed (the 3C's
            // indicator); unknown for a board without a list.
            var completeAtDiscussion: Bool?
            if !meeting.completeness.items.isEmpty, let evidence = try await completeness.evidence(forCase: loaded.record.id) {
                completeAtDiscussion = meeting.completenessReport(evidence).isComplete
            }
            return .write(success: "flash_decision_recorded") { audit in
                var audit = audit
                audit.reason = decision.quorumStatusCode
                try await cases.recordDecision(id: loaded.record.id, decision: decision, completeAtDiscussion: completeAtDiscussion, by: context.user.id,
                                               audit: audit)
            }
        }
    }

    @Sendable func validate(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try await transition(context, audit: .caseValidate) { loaded, _ in
            loaded.record.decision.map { .success(.validate($0)) } ?? .failure(.wrongStatus(loaded.record.status))
        } then: { loaded, _ in
            // A validated fiche is exported to hospitals: its header must be complete (CI-SIS FRCP).
            guard try await communities.missingRegistration(communityID: loaded.record.communityID, seriesID: loaded.meeting?.seriesID).isEmpty else {
                context.sessions.flash(.error, "workflow_registration_incomplete")
                return .respond(back(loaded, form: try context.requiredForm))
            }
            return .write(success: "flash_decision_validated") { audit in
                try await cases.validate(id: loaded.record.id, by: context.user.id, followUpDays: loaded.meeting?.followUpDays ?? FollowUpDelay.defaultDays,
                                         audit: audit)
            }
        }
    }

    @Sendable func sendBack(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        try await transition(context, audit: .caseSendBack) { _, _ in .success(.sendBack) } then: { loaded, _ in
            .write(success: "flash_case_sent_back") { audit in
                try await cases.sendBack(id: loaded.record.id, by: context.user.id, audit: audit)
            }
        }
    }

    // MARK: Search

    @Sendable func search(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let pages = PageBuilder(request: request, context: context)
        let query = request.uri.queryParameters
        func param(_ name: String) -> String? {
            guard let raw = query[Substring(name)] else { return nil }
            let value = String(raw).trimmingCharacters(in: .whitespaces)
            return value.isEmpty ? nil : String(value.prefix(200))
        }
        let mine = try await UserCommunities.load(communities, user: context.user.id)
        let page = max(1, min(Int(param("page") ?? "1") ?? 1, 500))
        let status = param("status").flatMap(CaseStatus.init(rawValue:))
        let site = param("site").map { $0.uppercased() }
        let search = CaseSearch(
            communityIDs: mine.activeIDs, fullTextCommunityIDs: mine.ids(withRoles: [.physician, .coordinator]), organisationID: context.user.organisationID,
            text: param("q"), status: status, tumourSite: site, meetingID: param("meeting").flatMap(UUID.init(storageKey:)),
            from: DisplayFormat.startOfDay(param("from")), to: DisplayFormat.startOfDay(param("to")).map { $0.addingTimeInterval(86_400) },
            limit: 20, offset: (page - 1) * 20
        )
        let searched = !(search.text == nil && status == nil && site == nil && search.meetingID == nil && search.from == nil && search.to == nil)
        let result = try await cases.search(search)
        try await guardian.audit.record(context.auditDraft(.caseSearch, resourceType: "case_list", outcome: .allowed, reason: "\(result.items.count) results"))
        func link(page: Int) -> String {
            var components = URLComponents()
            components.path = SiteURL.cases.path
            components.queryItems = ["q", "status", "site", "meeting", "from", "to"].compactMap { name in param(name).map { URLQueryItem(name: name, value: $0) } }
                + [URLQueryItem(name: "page", value: String(page))]
            return components.string ?? SiteURL.cases.path
        }
        let statuses = SelectOption.list(CaseStatus.allCases, labelledBy: "case_status", chosen: status?.rawValue, pages: pages)
        let results: [ViewFields] = result.items.map { item in
            let fields: [String: (any Sendable)?] = [
                "url": SiteURL.caseItem(item.id).path, "patient": item.patientName, "birthDate": CalendarDate(iso: item.birthDate)?.french,
                "community": item.communityName, "status": pages.text("case_status_\(item.status.rawValue)"), "statusCode": item.status.rawValue,
                "site": item.tumourSiteCode, "meeting": item.meetingStartsAt.map(DisplayFormat.dateTime), "meetingTitle": item.meetingTitle,
                "createdAt": DisplayFormat.dateTime(item.createdAt),
            ]
            return ViewFields(fields)
        }
        let fields: [String: (any Sendable)?] = [
            "query": param("q"), "siteFilter": site, "fromDate": param("from"), "toDate": param("to"), "meetingFilter": param("meeting"),
            "statuses": statuses, "results": results,
            "searched": searched ? true : nil, "noResults": searched && result.items.isEmpty ? true : nil,
            "previousURL": page > 1 ? link(page: page - 1) : nil, "nextURL": result.hasMore ? link(page: page + 1) : nil, "page": String(page),
        ]
        let content = ViewFields(fields)
        return try renderer.html("cases", pages.page(content))
    }
}
