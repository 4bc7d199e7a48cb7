import CDA
import ConcertoCore
import ConcertoServices
import ConcertoStore
import Documents
import Foundation
import HTTPTypes
import Hummingbird

/// Exports hospitals file: the fiche RCP as CDA R2. Each download passes `AccessGuard`
/// (reading the case's clinical data) and is audited as `case.export`.
struct ExportController: Sendable {
    let cases: CaseStore
    let meetings: MeetingStore
    let communities: CommunityStore
    let activity: ActivityStore
    let exporter: FicheExporter
    let guardian: AccessGuard
    let renderer: Renderer

    func addRoutes(to group: some RouterMethods<AuthenticatedContext>) {
        group.get(SiteURL.route { id, _ in .caseFicheXML(id) }, use: ficheXML)
        group.get(SiteURL.route { id, _ in .caseFichePDF(id) }, use: fichePDF)
        group.get(SiteURL.route { id, _ in .meetingMinutesPDF(id) }, use: minutesPDF)
        group.get(SiteURL.route { id, _ in .meetingMinutesZIP(id) }, use: minutesZIP)
        group.get(SiteURL.route { id, _ in .communityActivityCSV(id) }, use: activityCSV)
    }

    /// `?from=YYYY-MM-DD&to=YYYY-MM-DD` (to inclusive; default: the last 12 months) and
    /// `format=plain` for the comma flavour. Coordinators of the community and platform
    /// admins only: the figures are pseudonymous but still about patients.
    @Sendable func activityCSV(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let id = try context.parameters.uuid(.community)
        guard let community = try await communities.find(id: id) else { throw AppError.notFound }
        let membership = try await communities.membership(userID: context.user.id, in: id)
        guard context.user.isAdmin || membership != nil else { throw AppError.notFound }
        guard context.user.isAdmin || (membership?.role == .coordinator && membership?.status == .active) else {
            _ = try await guardian.audit.record(context.auditDraft(.activityExport, resourceType: "community", resourceID: id.storageKey, outcome: .denied,
                                                                   reason: "not_coordinator"))
            throw AppError.forbidden
        }
        let query = request.uri.queryParameters
        let today = ParisCalendar.date(of: Date())
        guard let range = ExportPeriod.parse(from: query["from"].map(String.init), to: query["to"].map(String.init), today: today) else { throw AppError.badRequest }
        let flavour: ActivityCSV.Flavour = query["format"] == "plain" ? .plain : .french
        let rows = try await activity.presentedCases(community: community.id, from: range.from, to: range.to)
        _ = try await guardian.audit.record(context.auditDraft(.activityExport, resourceType: "community", resourceID: id.storageKey, outcome: .success,
                                                               reason: "rows:\(rows.count)"))
        let name = "activite-\(community.name.filter { $0.isLetter || $0.isNumber })-\(range.label).csv"
        return Responses.download(ActivityCSV.render(rows, flavour: flavour), type: "text/csv; charset=utf-8", name: name)
    }


    /// A validated fiche, once the policy allows reading it (audited as `case.export`).
    func exportableCase(_ context: AuthenticatedContext, suffix: String) async throws -> CaseRecord {
        try await guardian.requireCase(.readClinical, cases: cases, auditAction: .caseExport, resourceID: { "\($0.id.storageKey)/\(suffix)" },
                                       auditAllowed: true, context: context).record
    }

    func refusal(_ message: String, back: String, pages: PageBuilder, status: HTTPResponse.Status) throws -> Response {
        try renderer.html("imaging_refused", pages.page(ImagingRefusalPage(message: message, backURL: back, caseURL: back)), status: status)
    }

    /// `?pdf=1` embeds the PDF copy (section FR-Document-PDF-copie).
    @Sendable func ficheXML(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let record = try await exportableCase(context, suffix: "fiche.xml")
        do {
            let data = try await exporter.cda(of: record, embedPDF: request.uri.queryParameters["pdf"] == "1")
            return Responses.download(data, type: "application/xml", name: "fiche-rcp-\(record.id.storageKey)-v\(record.edition).xml")
        } catch FicheExporter.Problem.notValidated {
            let pages = PageBuilder(request: request, context: context)
            return try refusal(pages.text("case_export_not_validated"), back: SiteURL.caseItem(record.id).path, pages: pages, status: .conflict)
        }
    }

    @Sendable func fichePDF(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let record = try await exportableCase(context, suffix: "fiche.pdf")
        do {
            let data = try await exporter.pdf(of: record)
            return Responses.download(data, type: "application/pdf", name: "fiche-rcp-\(record.id.storageKey)-v\(record.edition).pdf")
        } catch FicheExporter.Problem.notValidated {
            let pages = PageBuilder(request: request, context: context)
            return try refusal(pages.text("case_export_not_validated"), back: SiteURL.caseItem(record.id).path, pages: pages, status: .conflict)
        }
    }

    /// The minutes carry every agenda case's clinical content: members of the meeting's
    /// community only (else 404), and only when the policy lets them read every case
    /// (each check audited; otherwise 403 saying how many they may not read).
    enum MinutesAccess {
        case allowed(MeetingRecord)
        case refused(Response)
    }

    func minutesMeeting(_ request: Request, context: AuthenticatedContext, format: String) async throws -> MinutesAccess {
        let id = try context.parameters.uuid(.meeting)
        guard let (meeting, _) = try await meetings.find(id: id, member: context.user.id) else { throw AppError.notFound }
        var denied = 0
        for item in try await meetings.agenda(of: meeting.id) {
            let outcome = try await guardian.evaluate(.readClinical, patient: item.patientID, community: meeting.communityID, auditAction: .caseExport,
                                                      resourceType: "case", resourceID: "\(item.caseID.storageKey)/minutes", context: context)
            if outcome.decision.allowed {
                try await guardian.audit.record(guardian.allowedEvent(outcome.decision, auditAction: .caseExport, resourceType: "case",
                                                                      resourceID: "\(item.caseID.storageKey)/minutes", patientID: item.patientID, context: context))
            } else {
                denied += 1
            }
        }
        let pages = PageBuilder(request: request, context: context)
        guard denied == 0 else {
            _ = try await guardian.audit.record(context.auditDraft(.minutesExport, resourceType: "meeting", resourceID: meeting.id.storageKey, outcome: .denied,
                                                                   reason: "cases_denied:\(denied)"))
            return .refused(try refusal(pages.text("minutes_denied", ["count": String(denied)]), back: SiteURL.meeting(meeting.id).path, pages: pages,
                                        status: .forbidden))
        }
        _ = try await guardian.audit.record(context.auditDraft(.minutesExport, resourceType: "meeting", resourceID: meeting.id.storageKey, outcome: .success,
                                                               reason: format))
        return .allowed(meeting)
    }

    @Sendable func minutesPDF(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        switch try await minutesMeeting(request, context: context, format: "pdf") {
        case .refused(let refusal): return refusal
        case .allowed(let meeting):
            return Responses.download(try await exporter.minutesPDF(of: meeting), type: "application/pdf",
                                               name: "compte-rendu-rcp-\(ParisCalendar.date(of: meeting.startsAt).iso).pdf")
        }
    }

    @Sendable func minutesZIP(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        switch try await minutesMeeting(request, context: context, format: "zip") {
        case .refused(let refusal): return refusal
        case .allowed(let meeting):
            return Responses.download(try await exporter.minutesArchive(of: meeting), type: "application/zip",
                                               name: "rcp-\(ParisCalendar.date(of: meeting.startsAt).iso).zip")
        }
    }
}
