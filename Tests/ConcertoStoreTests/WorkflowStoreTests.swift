import ConcertoCore
import ConcertoStore
import ConcertoTestSupport
import Foundation
import SQLKit
import Testing

/// A community with a coordinator and a physician, and a patient with a draft case.
struct WorkflowFixture {
    let database: Database
    let community = Community(name: "Sud", region: "NA")
    let coordinator = User(email: "coord@t.fr", displayName: "Claire Coord", role: .coordinator)
    let physician = User(email: "onco@t.fr", displayName: "Olivier Onco", rppsNumber: TestIdentifiers.rpps(2), role: .physician)
    var cases: CaseStore { CaseStore(database: database) }
    var meetings: MeetingStore { MeetingStore(database: database) }
    var patients: PatientStore { PatientStore(database: database) }

    static func make(_ database: Database) async throws -> WorkflowFixture {
        let fixture = WorkflowFixture(database: database)
        try await CommunityStore(database: database).create(fixture.community)
        for (user, role) in [(fixture.coordinator, CommunityRole.coordinator), (fixture.physician, .physician)] {
            try await UserStore(database: database).create(user, passwordHash: "x")
            try await CommunityStore(database: database).addMember(userID: user.id, to: fixture.community.id, role: role)
        }
        return fixture
    }

    func draft(_ action: AuditAction, by user: UUID? = nil) -> AuditDraft {
        AuditDraft(actorID: user ?? physician.id, action: action, resourceType: "test", outcome: .success)
    }

    func patient(_ birthName: String, first: String = "Anne", ins: String? = nil, at now: Date = Date()) async throws -> UUID {
        let identity = PatientIdentity(birthName: birthName, firstNames: first, birthDate: CalendarDate(iso: "1958-04-12")!, sex: .female,
                                       ins: try ins.map { try INS(matricule: $0, kind: .test) }, status: ins == nil ? .provisional : .qualified)
        return try await patients.create(identity, in: community.id, by: physician.id, careReason: "r", localID: nil, audit: draft(.patientCreate), at: now)
    }

    func newCase(patient: UUID, summary: String, question: String = "Quelle stratégie ?", site: String = "C34.1", at now: Date = Date()) async throws -> UUID {
        try await cases.create(patientID: patient, communityID: community.id, by: physician.id,
                               content: CaseContent(tumourSiteCode: site, summary: summary, question: question), audit: draft(.caseCreate), at: now)
    }
}

@Suite struct MeetingSeriesStoreTests {
    @Test func seriesGeneratesItsMeetingsOnceAcrossDSTAndKeepsMovedOnes() async throws {
        try await TestDatabase.withMigrated { database in
            let fixture = try await WorkflowFixture.make(database)
            let now = ParisCalendar.instant(CalendarDate(iso: "2026-03-02")!, LocalTime(hour: 9, minute: 0)!)
            let series = MeetingSeries(communityID: fixture.community.id, title: "RCP thoracique", kind: .organ, organs: ["312419003"],
                                       recurrence: .weekly(interval: 1, weekday: 4), firstDate: CalendarDate(iso: "2026-03-01")!,
                                       startTime: LocalTime(hour: 14, minute: 0)!, durationMinutes: 90, place: "Salle 3")
            #expect(series.problems().isEmpty)
            let created = try await fixture.meetings.createSeries(series, by: fixture.coordinator.id, through: CalendarDate(iso: "2026-04-05")!,
                                                                  audit: fixture.draft(.seriesCreate), at: now)
            #expect(created == 5) // 5, 12, 19, 26 March and 2 April
            let list = try await fixture.meetings.meetings(inCommunities: [fixture.community.id], from: now, to: now.addingTimeInterval(60 * 86_400))
            #expect(list.map { ParisCalendar.time(of: $0.startsAt) }.allSatisfy { $0 == LocalTime(hour: 14, minute: 0) })
            #expect(list.last!.endsAt.timeIntervalSince(list.last!.startsAt) == 5400)
            #expect(list.first!.quorum == .standard)
            #expect(list.first!.place == "Salle 3")

            // Moving one meeting does not make the generator add it again.
            let moved = list[1]
            #expect(try await fixture.meetings.move(id: moved.id, startsAt: moved.startsAt.addingTimeInterval(86_400), endsAt: moved.endsAt.addingTimeInterval(86_400),
                                                     place: "Salle 5", videoLink: nil, audit: fixture.draft(.meetingMove)))
            #expect(try await fixture.meetings.generateAll(through: CalendarDate(iso: "2026-04-05")!, at: now) == 0)
            #expect(try await fixture.meetings.generateAll(through: CalendarDate(iso: "2026-04-12")!, at: now) == 1)
            let after = try #require(try await fixture.meetings.find(id: moved.id))
            #expect(after.sequence == 1)
            #expect(after.place == "Salle 5")
            #expect(try await fixture.meetings.series(inCommunities: [fixture.community.id]) == [series])
        }
    }

    @Test func cancellingSendsRegisteredCasesBackAndAttendanceJoinsTheCareScope() async throws {
        try await TestDatabase.withMigrated { database in
            let fixture = try await WorkflowFixture.make(database)
            let now = Date()
            let meetingID = UUID()
            try await fixture.meetings.create(id: meetingID, communityID: fixture.community.id, title: "RCP", startsAt: now.addingTimeInterval(3 * 86_400),
                                              endsAt: now.addingTimeInterval(3 * 86_400 + 3600), audit: fixture.draft(.meetingCreate))
            let patient = try await fixture.patient("MARTIN")
            let caseID = try await fixture.newCase(patient: patient, summary: "Nodule")
            try await fixture.cases.register(id: caseID, meetingID: meetingID, from: [.draft], by: fixture.physician.id, audit: fixture.draft(.caseRegister))
            #expect(try await fixture.meetings.find(id: meetingID)?.registeredCases == 1)
            #expect(try await fixture.meetings.agenda(of: meetingID).map(\.caseID) == [caseID])

            // A guest and an excused member do not join the participants; a present member does.
            let radiologist = User(email: "radio@t.fr", displayName: "Rémi Radio", rppsNumber: TestIdentifiers.rpps(3), role: .physician)
            try await UserStore(database: database).create(radiologist, passwordHash: "x")
            try await CommunityStore(database: database).addMember(userID: radiologist.id, to: fixture.community.id, role: .physician)
            try await fixture.meetings.recordAttendance(meetingID: meetingID, member: radiologist.id, guestName: nil, specialtyCode: "G15_10/SM74", status: .excused,
                                                        by: fixture.coordinator.id, audit: fixture.draft(.meetingAttendance))
            var facts = try #require(try await CareStore(database: database).accessFacts(userID: radiologist.id, patientID: patient))
            #expect(facts.meetings.isEmpty)
            try await fixture.meetings.recordAttendance(meetingID: meetingID, member: radiologist.id, guestName: nil, specialtyCode: "G15_10/SM74", status: .present,
                                                        by: fixture.coordinator.id, audit: fixture.draft(.meetingAttendance))
            try await fixture.meetings.recordAttendance(meetingID: meetingID, member: nil, guestName: "Dr Invitée", specialtyCode: "G15_10/SM01", status: .present,
                                                        by: fixture.coordinator.id, audit: fixture.draft(.meetingAttendance))
            let attendance = try await fixture.meetings.attendance(of: meetingID)
            #expect(attendance.map(\.name) == ["Dr Invitée", "Rémi Radio"])
            #expect(attendance.map(\.status) == [.present, .present])
            #expect(attendance.map(\.isGuest) == [true, false])
            facts = try #require(try await CareStore(database: database).accessFacts(userID: radiologist.id, patientID: patient))
            #expect(facts.meetings.count == 1)

            #expect(try await fixture.meetings.cancel(id: meetingID, audit: fixture.draft(.meetingCancel)) == 1)
            #expect(try await fixture.cases.find(id: caseID)?.status == .toRepresent)
            #expect(try await fixture.meetings.cancel(id: meetingID, audit: fixture.draft(.meetingCancel)) == nil)
            #expect(try await fixture.meetings.find(id: meetingID)?.status == .cancelled)
        }
    }

    @Test func agendaReorderAndCalendarFeeds() async throws {
        try await TestDatabase.withMigrated { database in
            let fixture = try await WorkflowFixture.make(database)
            let meetingID = UUID()
            try await fixture.meetings.create(id: meetingID, communityID: fixture.community.id, title: "RCP", startsAt: Date().addingTimeInterval(5 * 86_400),
                                              endsAt: Date().addingTimeInterval(5 * 86_400 + 3600))
            var ids: [UUID] = []
            for name in ["ALPHA", "BRAVO", "CHARLIE"] {
                let caseID = try await fixture.newCase(patient: try await fixture.patient(name), summary: name)
                try await fixture.cases.register(id: caseID, meetingID: meetingID, from: [.draft], by: fixture.physician.id, audit: fixture.draft(.caseRegister))
                ids.append(caseID)
            }
            #expect(try await fixture.meetings.agenda(of: meetingID).map(\.caseID) == ids)
            #expect(try await fixture.meetings.move(caseID: ids[2], in: meetingID, by: -1, audit: fixture.draft(.meetingAgendaReorder)))
            #expect(try await fixture.meetings.agenda(of: meetingID).map(\.caseID) == [ids[0], ids[2], ids[1]])
            #expect(try await !fixture.meetings.move(caseID: ids[0], in: meetingID, by: -1, audit: fixture.draft(.meetingAgendaReorder)))
            try await fixture.cases.withdraw(id: ids[2], meetingID: meetingID, by: fixture.physician.id, audit: fixture.draft(.caseWithdraw))
            #expect(try await fixture.meetings.agenda(of: meetingID).map(\.caseID) == [ids[0], ids[1]])

            let token = try await fixture.meetings.createCalendarFeed(userID: fixture.physician.id)
            #expect(token.count >= 43)
            #expect(try await fixture.meetings.calendarFeedOwner(token: token) == fixture.physician.id)
            #expect(try await fixture.meetings.calendarFeedOwner(token: token + "x") == nil)
            try await fixture.meetings.revokeCalendarFeeds(userID: fixture.physician.id)
            #expect(try await fixture.meetings.calendarFeedOwner(token: token) == nil)
            #expect(try await !fixture.meetings.hasCalendarFeed(userID: fixture.physician.id))
        }
    }
}

@Suite struct CaseStoreTests {
    @Test func concurrentSaveIsRefusedAndNothingIsOverwritten() async throws {
        try await TestDatabase.withMigrated { database in
            let fixture = try await WorkflowFixture.make(database)
            let caseID = try await fixture.newCase(patient: try await fixture.patient("MARTIN"), summary: "Premier")
            let loaded = try #require(try await fixture.cases.find(id: caseID))
            #expect(loaded.revision == 1)
            var mine = loaded.content
            mine.summary = "Version A"
            try await fixture.cases.save(id: caseID, revision: loaded.revision, content: mine, newEdition: false, by: fixture.physician.id, audit: fixture.draft(.caseUpdate))
            var theirs = loaded.content
            theirs.summary = "Version B"
            await #expect(throws: StoreError.staleRevision) {
                try await fixture.cases.save(id: caseID, revision: loaded.revision, content: theirs, newEdition: false, by: fixture.coordinator.id, audit: fixture.draft(.caseUpdate))
            }
            let after = try #require(try await fixture.cases.find(id: caseID))
            #expect(after.content.summary == "Version A")
            #expect(after.revision == 2)
            #expect(after.updatedByName == "Olivier Onco")
        }
    }

    @Test func decisionValidationAndNewEditionKeepThePreviousOne() async throws {
        try await TestDatabase.withMigrated { database in
            let fixture = try await WorkflowFixture.make(database)
            let meetingID = UUID()
            try await fixture.meetings.create(id: meetingID, communityID: fixture.community.id, title: "RCP", startsAt: Date(), endsAt: Date().addingTimeInterval(3600))
            let caseID = try await fixture.newCase(patient: try await fixture.patient("MARTIN"), summary: "Nodule")
            await #expect(throws: StoreError.statusChanged) {
                try await fixture.cases.validate(id: caseID, by: fixture.coordinator.id, audit: fixture.draft(.caseValidate))
            }
            try await fixture.cases.register(id: caseID, meetingID: meetingID, from: [.draft], by: fixture.coordinator.id, audit: fixture.draft(.caseRegister))
            let decision = CaseDecision(proposalTypes: [.surgery, .chemotherapy], proposal: "Lobectomie puis chimiothérapie adjuvante", followsGuidelines: true,
                                        trialProposed: true, trialReference: "NCT0001", fileComplete: true, quorumMet: true)
            try await fixture.cases.recordDecision(id: caseID, decision: decision, by: fixture.coordinator.id, audit: fixture.draft(.caseDecision))
            try await fixture.cases.validate(id: caseID, by: fixture.coordinator.id, audit: fixture.draft(.caseValidate))
            let validated = try #require(try await fixture.cases.find(id: caseID))
            #expect(validated.status == .validated)
            #expect(validated.decision == decision)
            #expect(validated.validatedByName == "Claire Coord")
            // A plain save cannot touch a validated fiche; an amendment makes edition 2.
            var amended = validated.content
            amended.summary = "Nodule, compte rendu ACP ajouté"
            await #expect(throws: StoreError.staleRevision) {
                try await fixture.cases.save(id: caseID, revision: validated.revision, content: amended, newEdition: false, by: fixture.physician.id, audit: fixture.draft(.caseUpdate))
            }
            try await fixture.cases.save(id: caseID, revision: validated.revision, content: amended, newEdition: true, by: fixture.physician.id, audit: fixture.draft(.caseUpdate))
            let second = try #require(try await fixture.cases.find(id: caseID))
            #expect(second.edition == 2)
            #expect(second.status == .validated)
            #expect(second.content.summary == "Nodule, compte rendu ACP ajouté")
            let editions = try await fixture.cases.editions(of: caseID)
            #expect(editions.map(\.edition) == [1])
            #expect(editions.first?.content.summary == "Nodule")
            #expect(editions.first?.decision == decision)
            #expect(editions.first?.supersededByName == "Olivier Onco")
        }
    }

    @Test func searchByNameINSIPPFullTextAndFilters() async throws {
        try await TestDatabase.withMigrated { database in
            let fixture = try await WorkflowFixture.make(database)
            let base = Date().addingTimeInterval(-10 * 86_400)
            let martin = try await fixture.patient("MARTIN", ins: "255081416802538", at: base)
            let dupont = try await fixture.patient("DUPONT", at: base)
            let organisation = Organisation(name: "CHU", finess: FINESSNumber("330781196")!, city: "Bordeaux")
            try await OrganisationStore(database: database).create(organisation, audit: nil)
            try await fixture.patients.addLocalID(patientID: dupont, organisationID: organisation.id, ipp: "IPP-778", audit: fixture.draft(.patientLocalID))
            let first = try await fixture.newCase(patient: martin, summary: "Adénocarcinome pulmonaire lobe supérieur", site: "C34.1", at: base.addingTimeInterval(60))
            let second = try await fixture.newCase(patient: dupont, summary: "Carcinome canalaire infiltrant du sein", question: "Chimiothérapie néoadjuvante ?",
                                                   site: "C50.4", at: base.addingTimeInterval(120))
            let all = [fixture.community.id]
            func ids(_ search: CaseSearch) async throws -> [UUID] { try await fixture.cases.search(search).items.map(\.id) }

            func patientsFound(_ search: CaseSearch) async throws -> Set<UUID> { Set(try await fixture.cases.search(search).items.map(\.patientID)) }
            // Each patient also has the draft opened when the record was created: two cases each.
            #expect(try await ids(CaseSearch(communityIDs: all, text: "mart")).first == first)
            #expect(try await patientsFound(CaseSearch(communityIDs: all, text: "mart")) == [martin])
            #expect(try await patientsFound(CaseSearch(communityIDs: all, text: "2 55 08 14 168 025 38")) == [martin])
            #expect(try await ids(CaseSearch(communityIDs: all, text: "2 55 08 14 168 025 38")).count == 2)
            #expect(try await patientsFound(CaseSearch(communityIDs: all, text: "IPP-778")) == [dupont])
            // Full text: accents and case ignored, every word needed, only where clinical reading is allowed.
            #expect(try await ids(CaseSearch(communityIDs: all, fullTextCommunityIDs: all, text: "ADENOCARCINOME lobe")) == [first])
            #expect(try await ids(CaseSearch(communityIDs: all, fullTextCommunityIDs: all, text: "neoadjuvante")) == [second])
            #expect(try await ids(CaseSearch(communityIDs: all, fullTextCommunityIDs: all, text: "adénocarcinome sein")).isEmpty)
            #expect(try await ids(CaseSearch(communityIDs: all, fullTextCommunityIDs: [], text: "neoadjuvante")).isEmpty)
            // Filters and paging, newest first (patient creation opened two empty drafts too).
            #expect(try await ids(CaseSearch(communityIDs: all, tumourSite: "C50")) == [second])
            #expect(try await ids(CaseSearch(communityIDs: all, tumourSite: "C34.1")) == [first])
            #expect(try await ids(CaseSearch(communityIDs: all, status: .validated)).isEmpty)
            let page = try await fixture.cases.search(CaseSearch(communityIDs: all, limit: 3))
            #expect(page.items.count == 3)
            #expect(page.hasMore)
            #expect(page.items.first?.id == second)
            #expect(try await fixture.cases.search(CaseSearch(communityIDs: all, limit: 3, offset: 3)).hasMore == false)
            #expect(try await ids(CaseSearch(communityIDs: [UUID()], text: "mart")).isEmpty)
            // An active opposition to the community takes the patient out of lists.
            try await CareStore(database: database).recordOpposition(patientID: martin, target: .community(fixture.community.id), by: fixture.physician.id,
                                                                     audit: fixture.draft(.oppositionRecord))
            #expect(try await ids(CaseSearch(communityIDs: all, text: "mart")).isEmpty)
        }
    }
}
