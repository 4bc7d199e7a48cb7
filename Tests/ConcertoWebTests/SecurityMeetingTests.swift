import ConcertoCore
import ConcertoStore
import ConcertoTestSupport
@testable import ConcertoWeb
import Foundation
import HummingbirdTesting
import SQLKit
import Testing

/// Attack: a coordinator created a meeting starting now, registered a case late, checked
/// themselves in and read the clinical record (a present participant is in the care scope
/// of the agenda's patients).
@Suite("Security: meetings do not mint access") struct SecurityMeetingTests {
    func meeting(_ d: AppDependencies, _ world: AccessWorld, startingIn hours: Double) async throws -> UUID {
        let id = UUID(), start = Date().addingTimeInterval(hours * 3600)
        try await d.meetings.create(id: id, communityID: world.south.id, title: "RCP minute", startsAt: start, endsAt: start.addingTimeInterval(3600),
                                    place: "Salle 1", deadlineHours: 0)
        return id
    }

    func clinicalAccess(_ d: AppDependencies, _ user: UUID, _ patient: UUID) async throws -> Bool {
        let facts = try #require(try await d.care.accessFacts(userID: user, patientID: patient))
        return AccessPolicy().decide(.readClinical, facts, at: Date()).allowed
    }

    func participants(_ d: AppDependencies, _ meeting: UUID) async throws -> Int {
        try await d.database.read { sql in
            Int(try await sql.raw("SELECT COUNT(*) AS n FROM meeting_participants WHERE meeting_id = \(bind: meeting.storageKey)")
                .first()?.decode(column: "n", as: Int64.self) ?? -1)
        }
    }

    @Test func aCoordinatorCannotCheckThemselvesIn() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let meetingID = try await meeting(d, world, startingIn: 0)
            let caseID = try #require(try await d.patients.cases(of: world.southPatient).first).id
            try await browser.logIn(email: "coord@t.fr")
            try await browser.get(SiteURL.meetingSession(meetingID).path)
            // The case on the agenda (registered late by the coordinator).
            try await d.meetings.addToAgenda(patientID: world.southPatient, meetingID: meetingID, position: 1)
            #expect(try await !clinicalAccess(d, world.southCoordinator.id, world.southPatient))
            let own = try await browser.post(SiteURL.meetingAttendance(meetingID).path,
                                             form: [("user", world.southCoordinator.id.storageKey), ("specialty", "G15_10/SM36"), ("status", "present")])
            #expect(own.status == .seeOther)
            let page = try await browser.follow(own)
            #expect(page.text.contains("on ne se déclare pas soi-même présent"))
            #expect(try await participants(d, meetingID) == 0)
            #expect(try await !clinicalAccess(d, world.southCoordinator.id, world.southPatient))
            #expect(try await browser.get(SiteURL.caseItem(caseID).path).text.contains("data-test=\"clinical\"") == false)
            let denied = try await d.audit.events(matching: .init(action: "meeting.attendance")).map(\.event)
            #expect(denied.map(\.outcome) == ["denied"])
            #expect(denied.first?.reason == "own_check_in")
        }
    }

    @Test func checkInIsOnlyDuringTheSeance() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let future = try await meeting(d, world, startingIn: 3)
            let past = try await meeting(d, world, startingIn: -2)
            try await browser.logIn(email: "coord@t.fr")
            for meetingID in [future, past] {
                try await browser.get(SiteURL.meetingSession(meetingID).path)
                let early = try await browser.post(SiteURL.meetingAttendance(meetingID).path,
                                                   form: [("user", world.southColleague.id.storageKey), ("status", "present")])
                #expect(try await browser.follow(early).text.contains("pendant la séance"))
                #expect(try await participants(d, meetingID) == 0)
            }
            // From an hour before the start, a coordinator checks someone else in.
            let soon = try await meeting(d, world, startingIn: 0.75)
            try await browser.get(SiteURL.meetingSession(soon).path)
            _ = try await browser.post(SiteURL.meetingAttendance(soon).path, form: [("user", world.southColleague.id.storageKey), ("status", "present")])
            #expect(try await participants(d, soon) == 1)
        }
    }

    @Test func markingAbsentOrExcusedTakesBackWhatTheCheckInGave() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let meetingID = try await meeting(d, world, startingIn: 0)
            try await browser.logIn(email: "coord@t.fr")
            try await browser.get(SiteURL.meetingSession(meetingID).path)
            try await d.meetings.addToAgenda(patientID: world.southPatient, meetingID: meetingID, position: 1)
            #expect(try await !clinicalAccess(d, world.southColleague.id, world.southPatient))
            for status in ["absent", "excused"] {
                try await browser.get(SiteURL.meetingSession(meetingID).path)
                _ = try await browser.post(SiteURL.meetingAttendance(meetingID).path, form: [("user", world.southColleague.id.storageKey), ("status", "present")])
                #expect(try await clinicalAccess(d, world.southColleague.id, world.southPatient))
                _ = try await browser.post(SiteURL.meetingAttendance(meetingID).path, form: [("user", world.southColleague.id.storageKey), ("status", status)])
                #expect(try await !clinicalAccess(d, world.southColleague.id, world.southPatient), "\(status)")
                #expect(try await participants(d, meetingID) == 0)
            }
        }
    }

    @Test func onlyTheChairOrACoordinatorRecordsAttendance() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let meetingID = try await meeting(d, world, startingIn: 0)
            try await browser.logIn(email: "collegue@t.fr")
            try await browser.get(SiteURL.meetingSession(meetingID).path)
            let refused = try await browser.post(SiteURL.meetingAttendance(meetingID).path, form: [("user", world.southPhysician.id.storageKey), ("status", "present")])
            #expect(refused.status == .forbidden)
            #expect(try await participants(d, meetingID) == 0)
        }
    }

    @Test func attendanceRules() {
        let me = UUID(), other = UUID(), start = Date(timeIntervalSince1970: 1_800_000_000), end = start.addingTimeInterval(7200)
        #expect(AttendanceRules.refusal(recorder: me, member: me, startsAt: start, endsAt: end, at: start) == .ownCheckIn)
        #expect(AttendanceRules.refusal(recorder: me, member: other, startsAt: start, endsAt: end, at: start.addingTimeInterval(-3601)) == .outsideSeance)
        #expect(AttendanceRules.refusal(recorder: me, member: other, startsAt: start, endsAt: end, at: start.addingTimeInterval(-3600)) == nil)
        #expect(AttendanceRules.refusal(recorder: me, member: other, startsAt: start, endsAt: end, at: end) == nil)
        #expect(AttendanceRules.refusal(recorder: me, member: other, startsAt: start, endsAt: end, at: end.addingTimeInterval(1)) == .outsideSeance)
        #expect(AttendanceRules.refusal(recorder: me, member: nil, startsAt: start, endsAt: end, at: start) == nil)
    }
}
