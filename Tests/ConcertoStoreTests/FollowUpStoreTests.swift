import ConcertoCore
import ConcertoStore
import ConcertoTestSupport
import Foundation
import Testing

/// The follow-up of validated decisions (issue 20), on both engines: when a decision starts
/// to await it, who sees it overdue, what a physician's record and a care plan write.
@Suite struct FollowUpStoreTests {
    static let day: TimeInterval = 86_400

    /// A case of a new patient, through a meeting of `followUpDays`, validated at `at`.
    func validatedCase(_ fixture: WorkflowFixture, name: String, followUpDays: Int = 30, at: Date) async throws -> (caseID: UUID, patient: UUID) {
        let patient = try await fixture.patient(name, at: at.addingTimeInterval(-3 * Self.day))
        let caseID = try await fixture.newCase(patient: patient, summary: "Synthèse", at: at.addingTimeInterval(-3 * Self.day))
        let meetingID = UUID()
        try await fixture.meetings.create(id: meetingID, communityID: fixture.community.id, title: "RCP", startsAt: at.addingTimeInterval(-Self.day),
                                          endsAt: at.addingTimeInterval(-Self.day + 5400), followUpDays: followUpDays, at: at.addingTimeInterval(-3 * Self.day))
        let meeting = try #require(try await fixture.meetings.find(id: meetingID))
        #expect(meeting.followUpDays == followUpDays)
        try await fixture.cases.register(id: caseID, meetingID: meetingID, from: [.draft], by: fixture.physician.id, audit: fixture.draft(.caseRegister),
                                         at: at.addingTimeInterval(-2 * Self.day))
        try await fixture.cases.recordDecision(id: caseID, decision: CaseDecision(proposalTypes: [.surgery], proposal: "Lobectomie.", followsGuidelines: true,
                                                                                  trialProposed: false, fileComplete: true, quorumMet: true),
                                               by: fixture.coordinator.id, audit: fixture.draft(.caseDecision), at: at.addingTimeInterval(-Self.day + 3600))
        try await fixture.cases.validate(id: caseID, by: fixture.coordinator.id, followUpDays: meeting.followUpDays, audit: fixture.draft(.caseValidate), at: at)
        return (caseID, patient)
    }

    @Test func aDecisionAwaitsItsFollowUpAfterItsBoardsDelayUntilTheOutcomeIsRecorded() async throws {
        try await TestDatabase.withMigrated { database in
            let fixture = try await WorkflowFixture.make(database)
            let store = FollowUpStore(database: database)
            let validatedAt = Date().addingTimeInterval(-40 * Self.day).rounded
            let quick = try await validatedCase(fixture, name: "RAPIDE", followUpDays: 14, at: validatedAt)
            let usual = try await validatedCase(fixture, name: "HABITUEL", at: validatedAt.addingTimeInterval(Self.day))
            let community = [fixture.community.id]

            // Nothing is overdue before its board's delay; then the shorter delay first.
            #expect(try await store.overdue(inCommunities: community, at: validatedAt.addingTimeInterval(13 * Self.day)).isEmpty)
            let twoWeeks = try await store.overdue(inCommunities: community, at: validatedAt.addingTimeInterval(15 * Self.day))
            #expect(twoWeeks.map(\.item.id) == [quick.caseID])
            #expect(twoWeeks.first?.dueAt == validatedAt.addingTimeInterval(14 * Self.day))
            #expect(twoWeeks.first?.validatedAt == validatedAt)
            let later = try await store.overdue(inCommunities: community, at: validatedAt.addingTimeInterval(32 * Self.day))
            #expect(later.map(\.item.id) == [quick.caseID, usual.caseID])
            // The referring physician sees their fiches; nobody else's list, nor another community's, has them.
            #expect(try await store.overdue(inCommunities: community, createdBy: fixture.physician.id, at: Date()).count == 2)
            #expect(try await store.overdue(inCommunities: community, createdBy: fixture.coordinator.id, at: Date()).isEmpty)
            #expect(try await store.overdue(inCommunities: [UUID()], at: Date()).isEmpty)

            // A care-plan-less record of the outcome takes it off the lists, and only it.
            let record = DecisionFollowUp(outcome: .partially, reason: "Chimiothérapie seule : refus de la chirurgie.",
                                          firstTreatmentOn: ParisCalendar.date(of: validatedAt.addingTimeInterval(10 * Self.day)))
            var audit = fixture.draft(.caseFollowUp)
            audit.patientID = quick.patient
            try await store.record(record, caseID: quick.caseID, revision: 0, by: fixture.physician.id, audit: audit)
            #expect(try await store.overdue(inCommunities: community, at: Date()).map(\.item.id) == [usual.caseID])
            let saved = try #require(try await store.find(caseID: quick.caseID))
            #expect(saved.followUp == record)
            #expect(saved.revision == 1 && saved.recordedByName == fixture.physician.displayName && saved.carePlanDocumentID == nil)

            // A second physician who saves against the same revision is refused: nothing is overwritten unseen.
            await #expect(throws: StoreError.staleRevision) {
                try await store.record(DecisionFollowUp(outcome: .carriedOut, firstTreatmentOn: record.firstTreatmentOn), caseID: quick.caseID, revision: 0,
                                       by: fixture.coordinator.id, audit: fixture.draft(.caseFollowUp))
            }
            #expect(try await store.find(caseID: quick.caseID)?.followUp == record)
            let events = try await AuditLog(database: database).events(matching: .init(patientIDs: [quick.patient])).map(\.event.action)
            #expect(events.filter { $0 == AuditAction.caseFollowUp.rawValue }.count == 1)
        }
    }

    @Test func onlyAValidatedDecisionHasAFollowUp() async throws {
        try await TestDatabase.withMigrated { database in
            let fixture = try await WorkflowFixture.make(database)
            let patient = try await fixture.patient("BROUILLON")
            let draftCase = try await fixture.newCase(patient: patient, summary: "Synthèse")
            await #expect(throws: StoreError.statusChanged) {
                try await FollowUpStore(database: database).record(DecisionFollowUp(outcome: .notCarriedOut, reason: "r"), caseID: draftCase, revision: 0,
                                                                   by: fixture.physician.id, audit: fixture.draft(.caseFollowUp))
            }
            #expect(try await FollowUpStore(database: database).find(caseID: draftCase) == nil)
        }
    }

    func carePlan(_ fixture: WorkflowFixture, patient: UUID, dated day: String, carriesOut caseID: UUID?, treatments: [String]) -> DocumentImport {
        var plan = DocumentImport(
            patientID: patient, communityID: fixture.community.id, caseID: nil, documentRoot: "1.2.3", documentExtension: UUID().storageKey,
            setRoot: "1.2.3", setExtension: UUID().storageKey, version: 1, typeCode: "18776-5", typeLabel: "PPS", title: "PPS",
            effectiveTime: day + "T10:00:00+01:00", mediaType: nil, hasPDF: false, studyUIDs: [], tnm: [:], content: Data("<pps/>".utf8),
            source: .upload, importedBy: fixture.physician.id)
        plan.carePlanJSON = "[{}]"
        plan.carriesOutCaseID = caseID
        plan.carePlanTreatmentsStarted = treatments.compactMap(CalendarDate.init(iso:))
        return plan
    }

    @Test func aCarePlanFillsInWhatIsMissingAndNeverOverridesAPhysician() async throws {
        try await TestDatabase.withMigrated { database in
            let fixture = try await WorkflowFixture.make(database)
            let store = FollowUpStore(database: database), documents = DocumentStore(database: database)
            let validatedAt = try Date("2026-03-10T10:00:00Z", strategy: .iso8601)
            let audit = fixture.draft(.documentImport)

            // A plan given after the board, with a treatment done before it (another line) and one after.
            let first = try await validatedCase(fixture, name: "PREMIER", at: validatedAt)
            guard case .imported(let planID, _) = try await documents.importDocument(
                carePlan(fixture, patient: first.patient, dated: "2026-03-20", carriesOut: first.caseID, treatments: ["2026-02-01", "2026-03-25", "2026-04-02"]),
                audit: audit) else { Issue.record("not imported"); return }
            let filled = try #require(try await store.find(caseID: first.caseID))
            #expect(filled.followUp == DecisionFollowUp(outcome: .carriedOut, firstTreatmentOn: CalendarDate(iso: "2026-03-25"),
                                                        carePlanGivenOn: CalendarDate(iso: "2026-03-20")))
            #expect(filled.carePlanDocumentID == planID && filled.recordedByName == nil)
            #expect(try await store.overdue(inCommunities: [fixture.community.id], at: Date()).map(\.item.id).contains(first.caseID) == false)

            // A physician said it was not carried out: a plan linked later only adds its day.
            let second = try await validatedCase(fixture, name: "SECOND", at: validatedAt)
            let physicianRecord = DecisionFollowUp(outcome: .notCarriedOut, reason: "Décès avant traitement.")
            try await store.record(physicianRecord, caseID: second.caseID, revision: 0, by: fixture.physician.id, audit: fixture.draft(.caseFollowUp))
            guard case .imported(let unlinked, _) = try await documents.importDocument(
                carePlan(fixture, patient: second.patient, dated: "2026-03-15", carriesOut: nil, treatments: ["2026-03-16"]), audit: audit) else {
                Issue.record("not imported"); return
            }
            #expect(try await store.find(caseID: second.caseID)?.followUp == physicianRecord)
            try await documents.linkCarePlan(documentID: unlinked, caseID: second.caseID, treatmentsStarted: [CalendarDate(iso: "2026-03-16")!],
                                             by: fixture.physician.id, audit: fixture.draft(.documentCarePlanLink))
            let linked = try #require(try await store.find(caseID: second.caseID))
            #expect(linked.followUp == DecisionFollowUp(outcome: .notCarriedOut, reason: "Décès avant traitement.", carePlanGivenOn: CalendarDate(iso: "2026-03-15")))
            // The record stays the physician's, with the plan it now also cites.
            #expect(linked.recordedByName == fixture.physician.displayName && linked.carePlanDocumentID == unlinked && linked.revision == 2)

            // A plan for a fiche that is not validated writes nothing.
            let patient = try await fixture.patient("TROISIEME")
            let draftCase = try await fixture.newCase(patient: patient, summary: "Synthèse")
            _ = try await documents.importDocument(carePlan(fixture, patient: patient, dated: "2026-03-20", carriesOut: draftCase, treatments: ["2026-03-21"]),
                                                   audit: audit)
            #expect(try await store.find(caseID: draftCase) == nil)
        }
    }
}

extension Date {
    /// Whole seconds, as stored.
    var rounded: Date { Date(timeIntervalSince1970: timeIntervalSince1970.rounded(.down)) }
}

/// What a completeness check reads of a fiche, on both engines.
@Suite struct CompletenessStoreTests {
    func report(_ fixture: WorkflowFixture, patient: UUID, type: String, set: String, version: Int, day: String) -> DocumentImport {
        DocumentImport(
            patientID: patient, communityID: fixture.community.id, caseID: nil, documentRoot: "1.2.3", documentExtension: "\(set)-\(version)",
            setRoot: "1.2.3", setExtension: set, version: version, typeCode: type, typeLabel: nil, title: nil, effectiveTime: day + "T10:00:00+01:00",
            mediaType: nil, hasPDF: false, studyUIDs: [], tnm: [:], content: Data("<cr v=\"\(version)\"/>".utf8), source: .upload, importedBy: fixture.physician.id)
    }

    @Test func theEvidenceIsTheFichesFactsAndItsPatientsCurrentReports() async throws {
        try await TestDatabase.withMigrated { database in
            let fixture = try await WorkflowFixture.make(database)
            let store = CompletenessStore(database: database), documents = DocumentStore(database: database)
            let patient = try await fixture.patient("PREUVE")
            let caseID = try await fixture.newCase(patient: patient, summary: "Synthèse")
            let other = try await fixture.newCase(patient: try await fixture.patient("AUTRE"), summary: "Synthèse", question: "")
            let audit = fixture.draft(.documentImport)
            // A pathology report and its second version, a molecular report, an imaging report (not read).
            for document in [report(fixture, patient: patient, type: "60568-3", set: "ap", version: 1, day: "2026-01-10"),
                             report(fixture, patient: patient, type: "60568-3", set: "ap", version: 2, day: "2026-01-20"),
                             report(fixture, patient: patient, type: "51969-4", set: "mol", version: 1, day: "2026-02-01"),
                             report(fixture, patient: patient, type: "18748-4", set: "img", version: 1, day: "2026-02-02")] {
                _ = try await documents.importDocument(document, audit: audit)
            }
            let evidence = try await store.evidence(forCases: [caseID, other])
            let mine = try #require(evidence[caseID])
            #expect(mine.reports.sorted { $0.type < $1.type } == [.init(type: "51969-4", day: CalendarDate(iso: "2026-02-01")),
                                                                    .init(type: "60568-3", day: CalendarDate(iso: "2026-01-20"))])
            #expect(mine.contentFacts == [.question] && mine.tumourSiteCode == "C34.1" && mine.attested.isEmpty && mine.override == nil)
            #expect(evidence[other]?.reports.isEmpty == true && evidence[other]?.contentFacts.isEmpty == true)

            // Saving the fiche writes its facts with it.
            let record = try #require(try await fixture.cases.find(id: caseID))
            var content = record.content
            content.tnm = TNM(cT: "T1", cN: "N0", cM: "M0")
            content.performanceStatusCode = "MED-240"
            try await fixture.cases.save(id: caseID, revision: record.revision, content: content, newEdition: false, by: fixture.physician.id,
                                         audit: fixture.draft(.caseUpdate))
            #expect(try await store.evidence(forCase: caseID)?.contentFacts == [.tnm, .performanceStatus, .question])
        }
    }
}
