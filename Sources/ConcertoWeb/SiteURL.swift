import ConcertoStore
import Foundation

/// Every path of the site, produced in one place for the router and the view models.
public enum SiteURL: Sendable, Equatable {
    case home
    case login
    case loginTOTP
    case loginPSC
    case loginPSCCallback
    case loginPSCRequest
    case accessRequests
    case accessRequestApprove(UUID)
    case accessRequestRefuse(UUID)
    case logout
    case account
    case accountTOTP
    case accountTOTPDisable
    case accountPassword
    case passwordReset(token: String)
    case language
    case healthz
    case metrics
    case ping
    case stylesheet
    case community(UUID)
    case communityMembers(UUID)
    case communityMemberApprove(UUID, user: UUID)
    case communityMemberSuspend(UUID, user: UUID)
    case communityAccept(UUID)
    case communityOrganisations(UUID)
    case communityRegistration(UUID)
    case communityPSCRequirement(UUID)
    case communityAudit(UUID)
    case communityActivityCSV(UUID)
    case communityIndicators(UUID)
    case communityIndicatorsCSV(UUID)
    case communityIndicatorsPDF(UUID)
    case communityResearch(UUID)
    case communityResearchCSV(UUID)
    case newPatient
    case patients
    case patient(UUID)
    case patientCases(UUID)
    case patientCareTeam(UUID)
    case patientCareLinkEnd(UUID, link: UUID)
    case patientOppositions(UUID)
    case patientOppositionWithdraw(UUID, opposition: UUID)
    case patientLocalIDs(UUID)
    case patientEmergencyAccess(UUID)
    case patientIdentityValidate(UUID)
    case patientIdentityQualify(UUID)
    case patientAccessReport(UUID)
    case patientAccessReportCSV(UUID)
    case adminOrganisations
    case adminOrganisationIdentityTrust(UUID)
    case adminOrganisationAddress(UUID)
    case adminProfessionals
    case adminProfessionalDisable(user: UUID)
    case adminProfessionalEnable(user: UUID)
    case adminCommunities
    case adminAudit
    case adminPatientMerge
    case meetings
    case meetingNew
    case meetingSeriesNew
    case meetingSeries
    case meeting(UUID)
    case meetingMove(UUID)
    case meetingCancel(UUID)
    case meetingChair(UUID)
    case meetingAgenda(UUID)
    case meetingAgendaMove(UUID, case: UUID)
    case meetingSession(UUID)
    case meetingAttendance(UUID)
    case meetingCurrentCase(UUID)
    case meetingLive(UUID)
    case meetingLiveEvents(UUID)
    case meetingLiveStatus(UUID)
    case meetingLiveCase(UUID)
    case meetingLiveDraft(UUID)
    case meetingLivePresent(UUID)
    case meetingLiveRecorder(UUID)
    case meetingICS(UUID)
    case calendarFeed
    case calendarFeedRevoke
    case calendarFeedICS(token: String)
    case cases
    case caseNew
    case caseItem(UUID)
    case caseEdit(UUID)
    case caseRegister(UUID)
    case caseWithdraw(UUID)
    case caseDecision(UUID)
    case caseValidate(UUID)
    case caseSendBack(UUID)
    case caseFollowUp(UUID)
    case caseDocuments(UUID)
    case caseImaging(UUID)
    case caseFicheXML(UUID)
    case caseFichePDF(UUID)
    case meetingMinutesPDF(UUID)
    case meetingMinutesZIP(UUID)
    case caseImagingDetach(UUID, study: UUID)
    case caseImagingThumbnail(UUID, study: UUID)
    case caseImagingViewer(UUID, study: UUID)
    case document(UUID)
    case documentOriginal(UUID)
    case documentPDF(UUID)
    case documentCarePlan(UUID)
    case apiDocuments

    public var path: String {
        switch self {
        case .home: "/"
        case .login: "/login"
        case .loginTOTP: "/login/totp"
        case .loginPSC: "/login/psc"
        case .loginPSCCallback: "/login/psc/callback"
        case .loginPSCRequest: "/login/psc/request"
        case .accessRequests: "/access-requests"
        case .accessRequestApprove(let id): "/access-requests/\(id.storageKey)/approve"
        case .accessRequestRefuse(let id): "/access-requests/\(id.storageKey)/refuse"
        case .logout: "/logout"
        case .account: "/account"
        case .accountTOTP: "/account/totp"
        case .accountTOTPDisable: "/account/totp/disable"
        case .accountPassword: "/account/password"
        case .passwordReset(let token): "/password-reset/\(token)"
        case .language: "/language"
        case .healthz: "/healthz"
        case .metrics: "/metrics"
        case .ping: "/ping"
        case .stylesheet: "/css/concerto.css"
        case .community(let id): "/communities/\(id.storageKey)"
        case .communityMembers(let id): "/communities/\(id.storageKey)/members"
        case .communityMemberApprove(let id, let user): "/communities/\(id.storageKey)/members/\(user.storageKey)/approve"
        case .communityMemberSuspend(let id, let user): "/communities/\(id.storageKey)/members/\(user.storageKey)/suspend"
        case .communityAccept(let id): "/communities/\(id.storageKey)/accept"
        case .communityOrganisations(let id): "/communities/\(id.storageKey)/organisations"
        case .communityRegistration(let id): "/communities/\(id.storageKey)/registration"
        case .communityPSCRequirement(let id): "/communities/\(id.storageKey)/psc-requirement"
        case .communityAudit(let id): "/communities/\(id.storageKey)/audit"
        case .communityActivityCSV(let id): "/communities/\(id.storageKey)/activity.csv"
        case .communityIndicators(let id): "/communities/\(id.storageKey)/indicators"
        case .communityIndicatorsCSV(let id): "/communities/\(id.storageKey)/indicators.csv"
        case .communityIndicatorsPDF(let id): "/communities/\(id.storageKey)/indicators.pdf"
        case .communityResearch(let id): "/communities/\(id.storageKey)/research"
        case .communityResearchCSV(let id): "/communities/\(id.storageKey)/research.csv"
        case .newPatient: "/patients/new"
        case .patients: "/patients"
        case .patient(let id): "/patients/\(id.storageKey)"
        case .patientCases(let id): "/patients/\(id.storageKey)/cases"
        case .patientCareTeam(let id): "/patients/\(id.storageKey)/care-team"
        case .patientCareLinkEnd(let id, let link): "/patients/\(id.storageKey)/care-team/\(link.storageKey)/end"
        case .patientOppositions(let id): "/patients/\(id.storageKey)/oppositions"
        case .patientOppositionWithdraw(let id, let opposition): "/patients/\(id.storageKey)/oppositions/\(opposition.storageKey)/withdraw"
        case .patientLocalIDs(let id): "/patients/\(id.storageKey)/local-ids"
        case .patientEmergencyAccess(let id): "/patients/\(id.storageKey)/emergency-access"
        case .patientIdentityValidate(let id): "/patients/\(id.storageKey)/identity/validate"
        case .patientIdentityQualify(let id): "/patients/\(id.storageKey)/identity/qualify"
        case .patientAccessReport(let id): "/patients/\(id.storageKey)/access-report"
        case .patientAccessReportCSV(let id): "/patients/\(id.storageKey)/access-report.csv"
        case .adminOrganisations: "/admin/organisations"
        case .adminOrganisationIdentityTrust(let id): "/admin/organisations/\(id.storageKey)/identity-trust"
        case .adminOrganisationAddress(let id): "/admin/organisations/\(id.storageKey)/address"
        case .adminProfessionals: "/admin/professionals"
        case .adminProfessionalDisable(let user): "/admin/professionals/\(user.storageKey)/disable"
        case .adminProfessionalEnable(let user): "/admin/professionals/\(user.storageKey)/enable"
        case .adminCommunities: "/admin/communities"
        case .adminAudit: "/admin/audit"
        case .adminPatientMerge: "/admin/patients/merge"
        case .meetings: "/meetings"
        case .meetingNew: "/meetings/new"
        case .meetingSeriesNew: "/meetings/series/new"
        case .meetingSeries: "/meetings/series"
        case .meeting(let id): "/meetings/\(id.storageKey)"
        case .meetingMove(let id): "/meetings/\(id.storageKey)/move"
        case .meetingCancel(let id): "/meetings/\(id.storageKey)/cancel"
        case .meetingChair(let id): "/meetings/\(id.storageKey)/chair"
        case .meetingAgenda(let id): "/meetings/\(id.storageKey)/agenda"
        case .meetingAgendaMove(let id, let caseID): "/meetings/\(id.storageKey)/agenda/\(caseID.storageKey)/move"
        case .meetingSession(let id): "/meetings/\(id.storageKey)/session"
        case .meetingAttendance(let id): "/meetings/\(id.storageKey)/attendance"
        case .meetingCurrentCase(let id): "/meetings/\(id.storageKey)/session/current"
        case .meetingLive(let id): "/meetings/\(id.storageKey)/live"
        case .meetingLiveEvents(let id): "/meetings/\(id.storageKey)/live/events"
        case .meetingLiveStatus(let id): "/meetings/\(id.storageKey)/live/status"
        case .meetingLiveCase(let id): "/meetings/\(id.storageKey)/live/case"
        case .meetingLiveDraft(let id): "/meetings/\(id.storageKey)/live/draft"
        case .meetingLivePresent(let id): "/meetings/\(id.storageKey)/live/present"
        case .meetingLiveRecorder(let id): "/meetings/\(id.storageKey)/live/recorder"
        case .meetingICS(let id): "/meetings/\(id.storageKey).ics"
        case .calendarFeed: "/calendar/feed"
        case .calendarFeedRevoke: "/calendar/feed/revoke"
        case .calendarFeedICS(let token): "/calendar/\(token).ics"
        case .cases: "/cases"
        case .caseNew: "/cases/new"
        case .caseItem(let id): "/cases/\(id.storageKey)"
        case .caseEdit(let id): "/cases/\(id.storageKey)/edit"
        case .caseRegister(let id): "/cases/\(id.storageKey)/register"
        case .caseWithdraw(let id): "/cases/\(id.storageKey)/withdraw"
        case .caseDecision(let id): "/cases/\(id.storageKey)/decision"
        case .caseValidate(let id): "/cases/\(id.storageKey)/validate"
        case .caseSendBack(let id): "/cases/\(id.storageKey)/send-back"
        case .caseFollowUp(let id): "/cases/\(id.storageKey)/follow-up"
        case .caseDocuments(let id): "/cases/\(id.storageKey)/documents"
        case .caseImaging(let id): "/cases/\(id.storageKey)/imaging"
        case .caseFicheXML(let id): "/cases/\(id.storageKey)/fiche.xml"
        case .caseFichePDF(let id): "/cases/\(id.storageKey)/fiche.pdf"
        case .meetingMinutesPDF(let id): "/meetings/\(id.storageKey)/minutes.pdf"
        case .meetingMinutesZIP(let id): "/meetings/\(id.storageKey)/minutes.zip"
        case .caseImagingDetach(let id, let study): "/cases/\(id.storageKey)/imaging/\(study.storageKey)/detach"
        case .caseImagingThumbnail(let id, let study): "/cases/\(id.storageKey)/imaging/\(study.storageKey)/thumbnail"
        case .caseImagingViewer(let id, let study): "/cases/\(id.storageKey)/imaging/\(study.storageKey)/viewer"
        case .document(let id): "/documents/\(id.storageKey)"
        case .documentOriginal(let id): "/documents/\(id.storageKey)/original.xml"
        case .documentPDF(let id): "/documents/\(id.storageKey)/document.pdf"
        case .documentCarePlan(let id): "/documents/\(id.storageKey)/care-plan"
        case .apiDocuments: "/api/v1/documents"
        }
    }

    /// Paths that take multipart uploads (a fiche's documents): `/cases/{uuid}/documents`.
    static func isUploadPath(_ path: String) -> Bool {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0].isEmpty && parts[1] == "cases" && UUID(storageKey: String(parts[2])) != nil && parts[3] == "documents"
    }

    /// This page with a `next` path to return to afterwards (login and its second step).
    public func withNext(_ next: String) -> String {
        guard SafeRedirect.isLocal(next), next != SiteURL.home.path else { return path }
        var components = URLComponents()
        components.path = path
        components.queryItems = [URLQueryItem(name: "next", value: next)]
        return components.string ?? path
    }
}

/// Only same-site paths are followed after login (and by every `return_to`), never
/// another host. Browsers drop TAB, CR and LF from URLs and read `\\` as `/`, so
/// `/<TAB>/evil.example` or `/\\evil.example` lead off-site: the path is checked as sent
/// and after each round of percent-decoding (a proxy or framework may decode it again).
enum SafeRedirect {
    static func isLocal(_ target: String) -> Bool {
        var candidate = target
        for _ in 0..<3 {
            guard isPlainLocalPath(candidate) else { return false }
            guard let decoded = candidate.removingPercentEncoding else { return false }
            if decoded == candidate { return true }
            candidate = decoded
        }
        return false // still encoded after three rounds: nothing legitimate looks like that
    }

    private static func isPlainLocalPath(_ path: String) -> Bool {
        let bytes = Array(path.utf8)
        guard bytes.first == UInt8(ascii: "/"), bytes.count < 2048 else { return false }
        if bytes.count > 1, bytes[1] == UInt8(ascii: "/") || bytes[1] == UInt8(ascii: "\\") { return false }
        // No control characters, no backslash, and no non-ASCII (some browsers fold
        // look-alike characters to `/`); our own paths are plain ASCII.
        return !bytes.contains { $0 < 0x20 || $0 >= 0x7F || $0 == UInt8(ascii: "\\") }
    }

    static func target(_ candidate: String?) -> String {
        guard let candidate, isLocal(candidate) else { return SiteURL.home.path }
        return candidate
    }

    /// What a form may carry over to the next step: the path when it is safe, else nothing.
    static func keep(_ candidate: String?) -> String {
        guard let candidate, isLocal(candidate) else { return "" }
        return candidate
    }
}
