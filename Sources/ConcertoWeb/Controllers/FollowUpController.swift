import ConcertoCore
import ConcertoStore
import Foundation
import HTTPTypes
import Hummingbird
import Mustache

/// The follow-up of a validated decision: whether the board's proposal was carried out,
/// when the first treatment started, when the care plan (PPS) was given. Read like the
/// fiche (clinical content, audited); recorded by the physicians who may write the
/// patient's clinical data in the fiche's community, the referring physician first.
struct FollowUpController: Sendable {
    let cases: CaseStore
    let meetings: MeetingStore
    let patients: PatientStore
    let followUps: FollowUpStore
    let guardian: AccessGuard
    let renderer: Renderer

    func addRoutes(to group: some RouterMethods<AuthenticatedContext>) {
        group.get(SiteURL.route { id, _ in .caseFollowUp(id) }, use: show)
        group.post(SiteURL.route { id, _ in .caseFollowUp(id) }, use: save)
    }

    struct FollowUpPage: Sendable, MustacheParent {
        let caseURL: String
        let patientName: String
        let decidedOn: String
        let proposal: String
        let proposalTypes: String
        /// The record as it stands; nil: nothing recorded yet.
        let recorded: FollowUpSummary?
        /// The form, for those who may record; nil for the others.
        let formAction: String?
        let outcomes: [SelectOption]
        /// The form's values (named apart from the record's, which Mustache would otherwise
        /// find from inside the record's section).
        let reasonValue: String
        let firstTreatmentValue: String
        let carePlanValue: String
        let revision: String
        let earliest: String
        let latest: String
        let errors: [String]

        func child(named name: String) -> Any? {
            switch name {
            case "caseURL": caseURL
            case "patientName": patientName
            case "decidedOn": decidedOn
            case "proposal": proposal
            case "proposalTypes": proposalTypes
            // false, not nil: the case page's own `recorded` must not be found instead.
            case "recorded": recorded.map { $0 as Any } ?? false
            case "formAction": formAction
            case "outcomes": outcomes
            case "reasonValue": reasonValue
            case "firstTreatmentValue": firstTreatmentValue
            case "carePlanValue": carePlanValue
            case "revision": revision
            case "earliest": earliest
            case "latest": latest
            case "errors": errors
            default: nil
            }
        }
    }

    struct Loaded {
        let record: CaseRecord
        let outcome: AccessGuard.Outcome
        let decision: CaseDecision
        let decidedOn: CalendarDate
        let mayRecord: Bool
        let patientName: String
    }

    /// The validated fiche, after the policy allowed reading its clinical content. A fiche
    /// not validated has no follow-up: the page does not exist for it.
    func load(_ context: AuthenticatedContext, auditAction: AuditAction, auditAllowed: Bool, at now: Date = Date()) async throws -> Loaded {
        let (record, outcome) = try await guardian.requireCase(.readClinical, cases: cases, auditAction: auditAction, auditAllowed: auditAllowed,
                                                               context: context, at: now)
        guard record.status == .validated, let decision = record.decision, let validatedAt = record.validatedAt else { throw AppError.notFound }
        // The board's day: nothing that carries its proposal out happened before it.
        let meetingStart = try await record.meetingID.asyncMap { try await meetings.find(id: $0)?.startsAt } ?? nil
        let decidedOn = ParisCalendar.date(of: min(meetingStart ?? validatedAt, validatedAt))
        let mayRecord = guardian.policy.decide(.writeClinical, outcome.facts, community: record.communityID, at: now).allowed
        let patientName = try await patients.find(id: record.patientID)?.identity.displayName ?? ""
        return Loaded(record: record, outcome: outcome, decision: decision, decidedOn: decidedOn, mayRecord: mayRecord, patientName: patientName)
    }

    @Sendable func show(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let loaded = try await load(context, auditAction: .caseRead, auditAllowed: true)
        let current = try await followUps.find(caseID: loaded.record.id)
        let followUp = current?.followUp
        return try render(request, context, loaded, current: current, values: [
            "outcome": followUp?.outcome?.rawValue ?? "", "reason": followUp?.reason ?? "",
            "first_treatment_on": followUp?.firstTreatmentOn?.iso ?? "", "care_plan_given_on": followUp?.carePlanGivenOn?.iso ?? "",
        ], revision: current?.revision ?? 0, errors: [])
    }

    func render(_ request: Request, _ context: AuthenticatedContext, _ loaded: Loaded, current: FollowUpRecord?, values: [String: String], revision: Int,
                errors: [String], status: HTTPResponse.Status = .ok) throws -> Response {
        let pages = PageBuilder(request: request, context: context)
        let page = FollowUpPage(
            caseURL: SiteURL.caseItem(loaded.record.id).path,
            patientName: loaded.patientName,
            decidedOn: loaded.decidedOn.french,
            proposal: loaded.decision.proposal,
            proposalTypes: loaded.decision.proposalTypes.map { pages.text("proposal_\($0.rawValue)") }.joined(separator: ", "),
            recorded: current.map { FollowUpSummary($0, pages: pages) },
            formAction: loaded.mayRecord ? SiteURL.caseFollowUp(loaded.record.id).path : nil,
            outcomes: SelectOption.list(FollowUpOutcome.allCases, labelledBy: "follow_up_outcome", chosen: values["outcome"], pages: pages),
            reasonValue: values["reason"] ?? "", firstTreatmentValue: values["first_treatment_on"] ?? "", carePlanValue: values["care_plan_given_on"] ?? "",
            revision: String(revision), earliest: loaded.decidedOn.iso, latest: ParisCalendar.date(of: Date()).iso, errors: errors)
        return try renderer.html("case_follow_up", pages.page(page), status: status)
    }

    @Sendable func save(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let now = Date()
        let loaded = try await load(context, auditAction: .caseFollowUp, auditAllowed: false, at: now)
        guard loaded.mayRecord else { throw AppError.forbidden }
        let form = try context.requiredForm
        guard let revision = form["revision"].flatMap(Int.init), revision >= 0 else { throw AppError.badRequest }
        let pages = PageBuilder(request: request, context: context)
        var errors: [String] = []
        func day(_ field: String) -> CalendarDate? {
            guard let raw = form.trimmed(field) else { return nil }
            guard let day = CalendarDate(iso: raw) else { errors.append(pages.text("follow_up_error_invalid_date")); return nil }
            return day
        }
        let outcomeValue = form.trimmed("outcome")
        let outcome = outcomeValue.flatMap(FollowUpOutcome.init(rawValue:))
        if outcomeValue != nil, outcome == nil { throw AppError.badRequest }
        let followUp = DecisionFollowUp(outcome: outcome, reason: form.trimmed("reason"), firstTreatmentOn: day("first_treatment_on"),
                                        carePlanGivenOn: day("care_plan_given_on"))
        errors += followUp.problems(decidedOn: loaded.decidedOn, today: ParisCalendar.date(of: now)).map {
            pages.text("follow_up_error_\($0.rawValue)", ["date": loaded.decidedOn.french])
        }
        guard errors.isEmpty else {
            return try render(request, context, loaded, current: try await followUps.find(caseID: loaded.record.id), values: form.fields,
                              revision: revision, errors: errors, status: .badRequest)
        }
        do {
            try await followUps.record(followUp, caseID: loaded.record.id, revision: revision, by: context.user.id, audit: context.auditDraft(
                .caseFollowUp, resourceType: "case", resourceID: loaded.record.id.storageKey, patientID: loaded.record.patientID,
                mode: loaded.outcome.decision.mode, outcome: .success, reason: followUp.outcome?.rawValue), at: now)
        } catch StoreError.staleRevision {
            // Someone recorded first: show theirs, keep this user's entry against it.
            let current = try await followUps.find(caseID: loaded.record.id)
            return try render(request, context, loaded, current: current, values: form.fields, revision: current?.revision ?? 0,
                              errors: [pages.text("follow_up_conflict")], status: .conflict)
        }
        return context.sessions.redirect(to: SiteURL.caseItem(loaded.record.id), flash: .success, "flash_follow_up_recorded")
    }
}
