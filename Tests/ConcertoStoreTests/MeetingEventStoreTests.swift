import ConcertoCore
import ConcertoStore
import ConcertoTestSupport
import Foundation
import SQLKit
import Testing

/// The séance's events: numbered per meeting, stored, fanned out to followers (in process on
/// SQLite, through NOTIFY to every instance on PostgreSQL), caught up after a lost connection.
@Suite struct MeetingEventStoreTests {
    func meeting(_ fixture: WorkflowFixture) async throws -> (meetingID: UUID, caseID: UUID) {
        let meetingID = UUID()
        let now = Date()
        try await fixture.meetings.create(id: meetingID, communityID: fixture.community.id, title: "RCP", startsAt: now, endsAt: now.addingTimeInterval(3600),
                                          audit: fixture.draft(.meetingCreate))
        let caseID = try await fixture.newCase(patient: try await fixture.patient("DURAND"), summary: "Résumé")
        try await fixture.cases.register(id: caseID, meetingID: meetingID, from: [.draft], by: fixture.physician.id, audit: fixture.draft(.caseRegister))
        return (meetingID, caseID)
    }

    /// The next signal that is an event, within 5 s.
    func nextEvent(_ iterator: inout AsyncStream<LiveSignal>.Iterator) async throws -> MeetingEvent? {
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            guard let signal = await iterator.next() else { return nil }
            if case .event(let event) = signal { return event }
        }
        return nil
    }

    @Test func eventsAreNumberedPerMeetingInOrderAndTheWorkflowAnnouncesItsChanges() async throws {
        try await TestDatabase.withMigrated { database in
            let fixture = try await WorkflowFixture.make(database)
            let (meetingID, caseID) = try await meeting(fixture)
            let (otherID, _) = try await meeting(fixture)
            let events = MeetingEventStore(database: database)
            // Concurrent presentations still get 1, 2, 3... without gaps or duplicates.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 {
                    group.addTask { try await events.present(meetingID: meetingID, caseID: caseID, by: fixture.coordinator.id) }
                }
                try await group.waitForAll()
            }
            try await events.present(meetingID: otherID, caseID: nil, by: fixture.coordinator.id)
            #expect(try await events.events(of: meetingID).map(\.seq) == Array(1...8))
            #expect(try await events.events(of: otherID).map(\.seq) == [1])
            #expect(try await events.events(of: meetingID, after: 6).map(\.seq) == [7, 8])
            // Attendance and the decision are announced in the transaction that makes them.
            try await fixture.meetings.recordAttendance(meetingID: meetingID, member: fixture.physician.id, guestName: nil, specialtyCode: "G15_10/SM36",
                                                        status: .present, by: fixture.coordinator.id, audit: fixture.draft(.meetingAttendance))
            try await fixture.cases.recordDecision(id: caseID, decision: CaseDecision(proposalTypes: [.surgery], proposal: "Chirurgie", followsGuidelines: true,
                                                                                       trialProposed: false, fileComplete: true, quorumMet: true),
                                                   by: fixture.coordinator.id, audit: fixture.draft(.caseDecision))
            let tail = try await events.events(of: meetingID, after: 8)
            #expect(tail.map(\.kind) == [.attendance, .decision])
            #expect(tail.last?.caseID == caseID)
            // Validated: announced; validated again (refused): nothing announced.
            try await fixture.cases.validate(id: caseID, by: fixture.coordinator.id, audit: fixture.draft(.caseValidate))
            await #expect(throws: StoreError.self) {
                try await fixture.cases.validate(id: caseID, by: fixture.coordinator.id, audit: fixture.draft(.caseValidate))
            }
            #expect(try await events.lastSeq(of: meetingID) == 11)
            // The clock: the first case was presented eight times in a row, never left.
            let timeline = LiveTimeline(events: try await events.presentations(of: meetingID))
            #expect(timeline.currentCaseID == caseID)
        }
    }

    @Test func aCaseViewIsRecordedAndAuditedOnce() async throws {
        try await TestDatabase.withMigrated { database in
            let fixture = try await WorkflowFixture.make(database)
            let (meetingID, caseID) = try await meeting(fixture)
            let events = MeetingEventStore(database: database)
            let audit = AuditLog(database: database)
            try await audit.bindKey()
            let before = try await audit.events(matching: .init(actorID: fixture.physician.id, action: AuditAction.caseRead.rawValue)).count
            let draft = AuditDraft(actorID: fixture.physician.id, action: .caseRead, resourceType: "case", resourceID: caseID.storageKey, outcome: .allowed)
            #expect(try await events.recordFirstView(meetingID: meetingID, userID: fixture.physician.id, caseID: caseID, allowed: true, audit: draft))
            #expect(try await !events.recordFirstView(meetingID: meetingID, userID: fixture.physician.id, caseID: caseID, allowed: true, audit: draft))
            // Refused after being allowed (checked out): a new fact, audited once too.
            #expect(try await events.recordFirstView(meetingID: meetingID, userID: fixture.physician.id, caseID: caseID, allowed: false, audit: draft))
            #expect(try await audit.events(matching: .init(actorID: fixture.physician.id, action: AuditAction.caseRead.rawValue)).count == before + 2)
        }
    }

    /// Two instances on one database: an event committed by one reaches the other's
    /// followers; the listener's connection killed, it comes back and catches up.
    @Test func eventsReachTheOtherInstanceAndAreCaughtUpAfterALostConnection() async throws {
        try await TestDatabase.withFreshURL { url in
            let first = try await Database.open(url, auditKey: TestDatabase.testAuditKey, logger: TestDatabase.quietLogger)
            let second = try await Database.open(url, auditKey: TestDatabase.testAuditKey, logger: TestDatabase.quietLogger)
            defer { Task { await first.shutdown(); await second.shutdown() } }
            try await Migrator(directory: Repository.migrations, engine: first.engine, logger: TestDatabase.quietLogger).migrate(first)
            let fixture = try await WorkflowFixture.make(first)
            let (meetingID, caseID) = try await meeting(fixture)
            // On SQLite one process serves everyone: the second "instance" is the same database object.
            let followerDatabase = first.engine == .postgres ? second : first
            let feed = MeetingEventFeed(database: followerDatabase, heartbeat: .seconds(60), logger: TestDatabase.quietLogger)
            let running = Task { await feed.run() }
            defer { running.cancel() }
            if first.engine == .postgres {
                for _ in 0..<250 where !feed.isListening { try await Task.sleep(for: .milliseconds(20)) }
                #expect(feed.isListening)
            }
            var signals = feed.follow(meetingID: meetingID).makeAsyncIterator()
            feed.noteDelivered(meetingID: meetingID, seq: 0)
            let presenter = MeetingEventStore(database: first)
            try await presenter.present(meetingID: meetingID, caseID: caseID, by: fixture.coordinator.id)
            let delivered = try await nextEvent(&signals)
            #expect(delivered?.seq == 1)
            #expect(delivered?.caseID == caseID)
            #expect(delivered?.kind == .casePresented)
            guard first.engine == .postgres else { return }

            // The listener's connection is killed; events committed meanwhile are caught up.
            _ = try await first.write { sql in
                try await sql.raw("""
                    SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'
                    """).run()
            }
            try await presenter.present(meetingID: meetingID, caseID: nil, by: fixture.coordinator.id)
            try await presenter.present(meetingID: meetingID, caseID: caseID, by: fixture.coordinator.id)
            var seen: [Int64] = []
            while seen.count < 2, let event = try await nextEvent(&signals) {
                if !seen.contains(event.seq) { seen.append(event.seq) }
            }
            #expect(seen.sorted() == [2, 3])
            for _ in 0..<250 where !feed.isListening { try await Task.sleep(for: .milliseconds(20)) }
            #expect(feed.isListening)
            // And afterwards, notifications flow again. Events 2 and 3 may come twice (an
            // event committed after the new LISTEN but before the catch-up's read is both
            // notified and read back): followers skip what they have, as the live page does.
            try await presenter.present(meetingID: meetingID, caseID: nil, by: fixture.coordinator.id)
            var next = try await nextEvent(&signals)
            while let event = next, event.seq <= 3 { next = try await nextEvent(&signals) }
            #expect(next?.seq == 4)
        }
    }
}
