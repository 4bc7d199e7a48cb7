import ConcertoCore
import ConcertoStore
import ConcertoTestSupport
import Foundation
import SQLKit
import Testing

@Suite struct AuditLogTests {
    func fill(_ log: AuditLog, count: Int) async throws {
        for index in 0..<count {
            try await log.record(AuditDraft(actorID: UUID(), action: .patientRead, resourceType: "patient", resourceID: "r\(index)",
                                            patientID: UUID(), outcome: .allowed, reason: "care_team", clientAddress: "127.0.0.1", requestID: "q\(index)"))
        }
        try await log.sealWaiting()
    }

    /// What someone with rights on the schema could do first; the chain still tells.
    func dropAppendOnlyGuards(_ database: Database) async throws {
        try await database.write { sql in
            if database.engine == .sqlite {
                try await sql.raw("DROP TRIGGER audit_events_no_update").run()
                try await sql.raw("DROP TRIGGER audit_events_no_delete").run()
            } else {
                try await sql.raw("DROP TRIGGER audit_events_no_update_delete ON audit_events").run()
            }
            try await sql.raw("DROP TRIGGER audit_batches_no_update\(unsafeRaw: database.engine == .sqlite ? "" : "_delete ON audit_batches")").run()
            if database.engine == .sqlite { try await sql.raw("DROP TRIGGER audit_batches_no_delete").run() }
        }
    }

    @Test func theApplicationCannotEditOrDeleteEvents() async throws {
        try await TestDatabase.withMigrated { database in
            let log = AuditLog(database: database)
            try await fill(log, count: 3)
            await #expect(throws: (any Error).self) {
                try await database.write { try await $0.raw("UPDATE audit_events SET outcome = 'denied' WHERE seq = 2").run() }
            }
            await #expect(throws: (any Error).self) {
                try await database.write { try await $0.raw("DELETE FROM audit_events WHERE seq = 3").run() }
            }
            #expect(try await log.verify() == .init(checked: 3, firstBreak: nil))
        }
    }

    @Test func anIntactChainVerifies() async throws {
        try await TestDatabase.withMigrated { database in
            let log = AuditLog(database: database)
            #expect(try await log.verify() == .init(checked: 0, firstBreak: nil))
            try await fill(log, count: 25)
            #expect(try await log.verify(batchSize: 7) == .init(checked: 25, firstBreak: nil))
        }
    }

    @Test func concurrentAppendsKeepOneUnbrokenChain() async throws {
        try await TestDatabase.withMigrated { database in
            let log = AuditLog(database: database)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 { group.addTask { try await fill(log, count: 10) } }
                try await group.waitForAll()
            }
            #expect(try await log.verify() == .init(checked: 80, firstBreak: nil))
        }
    }

    /// Two writers (as two processes on one SQLite file) and appends inside transactions
    /// interleave: each notices the other's links and the chain stays whole.
    @Test func interleavedWritersKeepTheChain() async throws {
        try await TestDatabase.withMigrated { database in
            let first = AuditLog(database: database), second = AuditLog(database: database)
            for index in 0..<6 {
                try await (index % 2 == 0 ? first : second).record(AuditDraft(actorID: nil, action: .logout, resourceType: "session", outcome: .success))
                if index % 3 == 0 {
                    _ = try await database.write { sql in
                        try await AuditLog.append(AuditDraft(actorID: nil, action: .loginSucceeded, resourceType: "session", outcome: .success), on: sql, database: database)
                    }
                }
            }
            // A transaction that fails takes its event with it.
            await #expect(throws: (any Error).self) {
                try await database.write { sql in
                    _ = try await AuditLog.append(AuditDraft(actorID: nil, action: .logout, resourceType: "session", outcome: .success), on: sql, database: database)
                    throw AuditError.headMissing
                }
            }
            try await first.record(AuditDraft(actorID: nil, action: .logout, resourceType: "session", outcome: .success))
            // SQLite chains as it writes (the changes' events with the next batch); PostgreSQL's wait for the sequencer.
            #expect(try await first.verify() == (database.engine == .postgres ? .init(checked: 0, firstBreak: nil, waiting: 9) : .init(checked: 9, firstBreak: nil)))
            try await first.sealWaiting()
            #expect(try await first.verify() == .init(checked: 9, firstBreak: nil))
            let actions = try await first.events(matching: .init()).map(\.event).sorted { $0.sequence < $1.sequence }.map(\.action)
            #expect(actions.prefix(3) == ["logout", "login.success", "logout"], "the chain keeps the order of arrival")
        }
    }

    @Test func anEditedEventIsNamed() async throws {
        try await TestDatabase.withMigrated { database in
            let log = AuditLog(database: database)
            try await fill(log, count: 10)
            try await dropAppendOnlyGuards(database)
            try await database.write { try await $0.raw("UPDATE audit_events SET outcome = 'denied' WHERE seq = 4").run() }
            #expect(try await log.verify().firstBreak == .altered(sequence: 4))
        }
    }

    @Test func aDeletedEventIsNamed() async throws {
        try await TestDatabase.withMigrated { database in
            let log = AuditLog(database: database)
            try await fill(log, count: 10)
            try await dropAppendOnlyGuards(database)
            try await database.write { try await $0.raw("DELETE FROM audit_events WHERE seq = 6").run() }
            #expect(try await log.verify().firstBreak == .missing(sequence: 6))
        }
    }

    @Test func reorderedEventsAreNamed() async throws {
        try await TestDatabase.withMigrated { database in
            let log = AuditLog(database: database)
            try await fill(log, count: 10)
            try await dropAppendOnlyGuards(database)
            // Swap events 3 and 7 (their sequence numbers): the chain no longer links.
            try await database.write { sql in
                try await sql.raw("UPDATE audit_events SET seq = 1000 WHERE seq = 3").run()
                try await sql.raw("UPDATE audit_events SET seq = 3 WHERE seq = 7").run()
                try await sql.raw("UPDATE audit_events SET seq = 7 WHERE seq = 1000").run()
            }
            #expect(try await log.verify().firstBreak == .unlinked(sequence: 3))
        }
    }

    @Test func aDeletedTailAndARewrittenChainAreCaught() async throws {
        try await TestDatabase.withMigrated { database in
            let log = AuditLog(database: database)
            try await fill(log, count: 10)
            try await dropAppendOnlyGuards(database)
            try await database.write { try await $0.raw("DELETE FROM audit_events WHERE seq >= 9").run() }
            #expect(try await log.verify().firstBreak == .truncated(lastPresent: 8, expected: 10))
        }
        try await TestDatabase.withMigrated { database in
            let log = AuditLog(database: database)
            try await fill(log, count: 5)
            try await dropAppendOnlyGuards(database)
            // Rewriting an event together with its own hash still breaks the next link.
            try await database.write { try await $0.raw("UPDATE audit_events SET reason = 'x', hash = \(bind: String(repeating: "a", count: 64)) WHERE seq = 2").run() }
            #expect(try await log.verify().firstBreak == .altered(sequence: 2))
        }
    }

    @Test func eventsAreFilteredByPatientActorActionAndDate() async throws {
        try await TestDatabase.withMigrated { database in
            let log = AuditLog(database: database)
            let patient = UUID(), actor = UUID()
            let day = Date(timeIntervalSince1970: 1_800_000_000)
            try await log.record(AuditDraft(actorID: actor, action: .patientRead, resourceType: "patient", patientID: patient, outcome: .allowed), at: day)
            try await log.record(AuditDraft(actorID: actor, action: .loginSucceeded, resourceType: "session", outcome: .success), at: day.addingTimeInterval(86_400))
            try await log.record(AuditDraft(actorID: UUID(), action: .patientRead, resourceType: "patient", patientID: patient, outcome: .denied), at: day.addingTimeInterval(2 * 86_400))
            // Committed events show at once, newest first: on PostgreSQL before the sequencer
            // has placed them (sequence 0), on SQLite placed as they were written.
            #expect(try await log.events(matching: .init(patientIDs: [patient])).map(\.event.outcome) == ["denied", "allowed"])
            #expect(try await log.events(matching: .init(patientIDs: [patient])).map(\.event.sequence) == (database.engine == .postgres ? [0, 0] : [3, 1]))
            try await log.sealWaiting()
            #expect(try await log.events(matching: .init(patientIDs: [patient])).map(\.event.sequence) == [3, 1])
            #expect(try await log.events(matching: .init(actorID: actor)).map(\.event.sequence) == [2, 1])
            #expect(try await log.events(matching: .init(action: "login.success")).map(\.event.sequence) == [2])
            #expect(try await log.events(matching: .init(from: day.addingTimeInterval(3600), until: day.addingTimeInterval(2 * 86_400))).map(\.event.sequence) == [2])
        }
    }
}

@Suite struct PatientStoreTests {
    struct Fixture {
        let database: Database
        let patients: PatientStore
        let care: CareStore
        let community: Community
        let user: User
        let organisation: Organisation

        static func make(_ database: Database) async throws -> Fixture {
            let organisation = Organisation(name: "Bergonié", finess: FINESSNumber("330000662")!, city: "Bordeaux")
            try await OrganisationStore(database: database).create(organisation, audit: nil)
            let user = User(email: "a@b.fr", displayName: "A", rppsNumber: TestIdentifiers.rpps(4), organisationID: organisation.id, role: .physician)
            try await UserStore(database: database).create(user, passwordHash: "x")
            let community = Community(name: "Sud", region: "NA")
            try await CommunityStore(database: database).create(community)
            try await CommunityStore(database: database).addMember(userID: user.id, to: community.id, role: .physician)
            return Fixture(database: database, patients: PatientStore(database: database), care: CareStore(database: database),
                           community: community, user: user, organisation: organisation)
        }

        func draft(_ action: AuditAction = .patientCreate) -> AuditDraft {
            AuditDraft(actorID: user.id, action: action, resourceType: "patient", outcome: .success)
        }

        func count(_ table: String) async throws -> Int64 {
            struct Count: Decodable { var count: Int64 }
            return try await database.read { try await $0.raw("SELECT COUNT(*) AS count FROM \(unsafeRaw: table)").first(decoding: Count.self)?.count ?? -1 }
        }
    }

    static let qualified = PatientIdentity(
        birthName: "DUPONT", firstNames: "Marie Louise", usedName: "MARTIN", birthDate: CalendarDate(iso: "1961-05-12")!, sex: .female,
        birthPlaceCode: "33063", ins: try! INS(matricule: "261053306312304", kind: .test), status: .qualified)

    @Test func aPatientIsCreatedWithItsCaseCareLinkLocalIDAndAuditEvent() async throws {
        try await TestDatabase.withMigrated { database in
            let f = try await Fixture.make(database)
            let id = try await f.patients.create(Self.qualified, in: f.community.id, by: f.user.id, careReason: "Référent",
                                                 localID: (f.organisation.id, "IPP1"), audit: f.draft())
            let record = try #require(try await f.patients.find(id: id))
            #expect(record.identity == Self.qualified)
            #expect(try await f.patients.cases(of: id).map(\.communityID) == [f.community.id])
            #expect(try await f.patients.localIDs(of: id).map(\.ipp) == ["IPP1"])
            #expect(try await f.care.careLinks(of: id).map(\.link.party) == [.professional(f.user.id)])
            let events = try await AuditLog(database: database).events(matching: .init(patientIDs: [id]))
            #expect(events.map(\.event.action) == ["patient.create"])
        }
    }

    @Test func aTakenLocalIDStoresNothingOfTheNewPatient() async throws {
        try await TestDatabase.withMigrated { database in
            let f = try await Fixture.make(database)
            _ = try await f.patients.create(Self.qualified, in: f.community.id, by: f.user.id, careReason: nil, localID: (f.organisation.id, "IPP1"), audit: f.draft())
            var other = Self.qualified
            other.birthName = "AUTRE"
            other.ins = nil // one INS, one record: that rule is tested apart
            other.status = .provisional
            await #expect(throws: StoreError.duplicateLocalID) {
                try await f.patients.create(other, in: f.community.id, by: f.user.id, careReason: "r", localID: (f.organisation.id, "IPP1"), audit: f.draft())
            }
            #expect(try await f.count("patients") == 1)
            #expect(try await f.count("cases") == 1)
            #expect(try await f.count("care_relationships") == 0)
            #expect(try await f.count("audit_events") == 1)
        }
    }

    @Test func matchesAreFoundByINSOrTraits() async throws {
        try await TestDatabase.withMigrated { database in
            let f = try await Fixture.make(database)
            let id = try await f.patients.create(Self.qualified, in: f.community.id, by: f.user.id, careReason: nil, localID: nil, audit: f.draft())
            var provisional = Self.qualified
            provisional.ins = nil
            provisional.status = .provisional
            provisional.usedName = nil
            #expect(try await f.patients.matches(for: provisional).map(\.record.id) == [id])
            #expect(try await f.patients.matches(for: Self.qualified).map(\.strength) == [.ins])
            provisional.firstName = "Louise"
            #expect(try await f.patients.matches(for: provisional).isEmpty)
        }
    }

    @Test func mergingMovesTheRecordsAndKeepsTheMergedOne() async throws {
        try await TestDatabase.withMigrated { database in
            let f = try await Fixture.make(database)
            let survivor = try await f.patients.create(Self.qualified, in: f.community.id, by: f.user.id, careReason: nil, localID: nil, audit: f.draft())
            var duplicate = Self.qualified
            duplicate.ins = nil
            duplicate.status = .provisional
            let merged = try await f.patients.create(duplicate, in: f.community.id, by: f.user.id, careReason: "r", localID: (f.organisation.id, "IPP9"), audit: f.draft())
            #expect(try await f.patients.suspectedDuplicates().count == 1)
            try await f.patients.merge(survivorID: survivor, mergedID: merged, by: f.user.id, reason: "même personne", audit: f.draft(.patientMerge))
            #expect(try await f.patients.find(id: merged)?.mergedInto == survivor)
            #expect(try await f.patients.cases(of: survivor).count == 2)
            #expect(try await f.patients.localIDs(of: survivor).map(\.ipp) == ["IPP9"])
            #expect(try await f.care.careLinks(of: survivor).count == 1)
            #expect(try await f.patients.mergedRecords(into: survivor) == [merged])
            #expect(try await f.patients.suspectedDuplicates().isEmpty)
            #expect(try await f.care.accessFacts(userID: f.user.id, patientID: merged) == nil)
            await #expect(throws: PatientStore.MergeError.alreadyMerged) {
                try await f.patients.merge(survivorID: survivor, mergedID: merged, by: f.user.id, reason: "x", audit: f.draft(.patientMerge))
            }
            await #expect(throws: PatientStore.MergeError.samePatient) {
                try await f.patients.merge(survivorID: survivor, mergedID: survivor, by: f.user.id, reason: "x", audit: f.draft(.patientMerge))
            }
        }
    }

    @Test func organisationsAreUniqueByFINESSAndMembershipsChangeStatusWithAnEvent() async throws {
        try await TestDatabase.withMigrated { database in
            let f = try await Fixture.make(database)
            await #expect(throws: StoreError.duplicateFINESS) {
                try await OrganisationStore(database: database).create(Organisation(name: "Autre", finess: FINESSNumber("330000662")!, city: "X"), audit: nil)
            }
            let communities = CommunityStore(database: database)
            let invitee = User(email: "b@b.fr", displayName: "B", role: .secretary)
            try await UserStore(database: database).create(invitee, passwordHash: "x")
            try await communities.invite(userID: invitee.id, to: f.community.id, role: .secretary, audit: f.draft(.memberInvite))
            await #expect(throws: StoreError.alreadyMember) {
                try await communities.invite(userID: invitee.id, to: f.community.id, role: .secretary, audit: f.draft(.memberInvite))
            }
            #expect(try await communities.membership(userID: invitee.id, in: f.community.id)?.status == .invited)
            #expect(try await communities.changeStatus(userID: invitee.id, in: f.community.id, from: [.invited], to: .active, audit: f.draft(.memberAccept)))
            #expect(try await !communities.changeStatus(userID: invitee.id, in: f.community.id, from: [.invited], to: .active, audit: f.draft(.memberAccept)))
            #expect(try await communities.changeStatus(userID: invitee.id, in: f.community.id, from: [.active], to: .suspended, audit: f.draft(.memberSuspend)))
            #expect(try await communities.membership(userID: invitee.id, in: f.community.id)?.status == .suspended)
            let actions = try await AuditLog(database: database).events(matching: .init()).map(\.event.action)
            #expect(actions == ["community.member.suspend", "community.member.accept", "community.member.invite"])
        }
    }
}
