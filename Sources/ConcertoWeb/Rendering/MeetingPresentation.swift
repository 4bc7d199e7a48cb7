import ConcertoCore
import ConcertoStore
import Foundation

/// A meeting as its page, its agenda, the séance and the live page show it.
enum MeetingPresentation {
    static func quorumText(_ quorum: QuorumRequirement, pages: PageBuilder) -> String {
        let required = quorum.requiredDisciplines.map { pages.text("quorum_discipline_\($0.rawValue)") }.joined(separator: ", ")
        return pages.text("quorum_rule", ["n": String(quorum.minimumSpecialties), "required": required.isEmpty ? "—" : required])
    }

    static func fields(_ meeting: MeetingRecord, pages: PageBuilder) -> ViewFields {
        ViewFields([
            "id": meeting.id.storageKey, "title": meeting.title, "community": meeting.communityName,
            "when": DisplayFormat.dateTime(meeting.startsAt), "until": ParisCalendar.time(of: meeting.endsAt).description,
            "place": meeting.place, "videoLink": meeting.videoLink, "deadline": DisplayFormat.dateTime(meeting.registrationWindow.deadline),
            "registered": String(meeting.registeredCases), "maximum": meeting.maximumCases.map(String.init),
            "quorum": quorumText(meeting.quorum, pages: pages), "chair": meeting.chairName,
            "cancelled": meeting.status == .cancelled ? true : nil,
            "url": SiteURL.meeting(meeting.id).path, "agendaURL": SiteURL.meetingAgenda(meeting.id).path,
            "sessionURL": SiteURL.meetingSession(meeting.id).path, "liveURL": SiteURL.meetingLive(meeting.id).path, "icsURL": SiteURL.meetingICS(meeting.id).path,
            "minutesPDFURL": SiteURL.meetingMinutesPDF(meeting.id).path, "minutesZIPURL": SiteURL.meetingMinutesZIP(meeting.id).path,
            "casesURL": SiteURL.cases(meeting: meeting.id),
        ])
    }

    /// Estimated slots (`AgendaSlot`, shared with the séance's clock).
    static func slotMinutes(_ meeting: MeetingRecord, count: Int) -> Int {
        AgendaSlot.minutes(startsAt: meeting.startsAt, endsAt: meeting.endsAt, caseCount: count)
    }
}
