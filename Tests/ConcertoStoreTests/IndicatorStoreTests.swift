import ConcertoCore
import ConcertoStore
import ConcertoTestSupport
import Foundation
import SQLKit
import Testing

/// The 3C's indicators on a small data set checked by hand, on both engines.
@Suite struct IndicatorStoreTests {
    static func at(_ day: String, _ hour: Int = 14) -> Date {
        ParisCalendar.instant(CalendarDate(iso: day)!, LocalTime(hour: hour, minute: 0)!)
    }

    /// A 14:00–16:00 board of the fixture's community on `day`.
    static func meeting(on day: String, _ fixture: WorkflowFixture) async throws -> UUID {
        let id = UUID()
        try await fixture.meetings.create(id: id, communityID: fixture.community.id, title: "RCP", startsAt: at(day), endsAt: at(day, 16),
                                          at: at("2025-11-01"))
        return id
    }

    @Test func eachIndicatorOnAHandCheckedBoard() async throws {
        try await TestDatabase.withMigrated { database in
            let fixture = try await WorkflowFixture.make(database)
            let store = IndicatorStore(database: database), followUps = FollowUpStore(database: database)
            func meeting(_ day: String) async throws -> UUID { try await Self.meeting(on: day, fixture) }
            /// A fiche registered on `registered`, discussed at `meeting`, validated on `validated` when given.
            func fiche(_ patient: UUID, site: String, meeting: UUID, registered: String, quorum: Bool = true, trial: Bool = false,
                       complete: Bool? = nil, validated: String? = nil) async throws -> UUID {
                let caseID = try await fixture.newCase(patient: patient, summary: "Synthèse", site: site, at: Self.at("2025-11-02"))
                try await fixture.cases.register(id: caseID, meetingID: meeting, from: [.draft], by: fixture.physician.id, audit: fixture.draft(.caseRegister),
                                                 at: Self.at(registered, 9))
                let meetingDay = try #require(try await fixture.meetings.find(id: meeting)).startsAt
                try await fixture.cases.recordDecision(
                    id: caseID, decision: CaseDecision(proposalTypes: [.surgery], proposal: "P.", followsGuidelines: true, trialProposed: trial,
                                                       trialReference: trial ? "NCT0001" : nil, fileComplete: true, quorumMet: quorum,
                                                       recordedWithoutQuorum: !quorum),
                    completeAtDiscussion: complete, by: fixture.coordinator.id, audit: fixture.draft(.caseDecision), at: meetingDay.addingTimeInterval(3600))
                if let validated {
                    try await fixture.cases.validate(id: caseID, by: fixture.coordinator.id, audit: fixture.draft(.caseValidate), at: Self.at(validated, 10))
                }
                return caseID
            }
            let p1 = try await fixture.patient("UN"), p2 = try await fixture.patient("DEUX"), p3 = try await fixture.patient("TROIS")
            let december = try await meeting("2025-12-10"), january = try await meeting("2026-01-15"), february = try await meeting("2026-02-12")
            _ = try await fiche(p3, site: "C18.7", meeting: december, registered: "2025-12-01", validated: "2025-12-11") // before the period
            let first = try await fiche(p1, site: "C34.1", meeting: january, registered: "2026-01-10", trial: true, complete: true, validated: "2026-01-17")
            let second = try await fiche(p2, site: "C50.4", meeting: january, registered: "2026-01-01", complete: false, validated: "2026-01-20")
            _ = try await fiche(p1, site: "C34.1", meeting: february, registered: "2026-02-11", quorum: false)
            _ = try await fiche(p3, site: "C18.7", meeting: february, registered: "2026-02-05", quorum: false)
            _ = try await fixture.newCase(patient: p2, summary: "Brouillon jamais discuté")
            try await followUps.record(DecisionFollowUp(outcome: .carriedOut, firstTreatmentOn: CalendarDate(iso: "2026-01-25")), caseID: first, revision: 0,
                                       by: fixture.physician.id, audit: fixture.draft(.caseFollowUp))
            try await followUps.record(DecisionFollowUp(outcome: .notCarriedOut, reason: "Refus."), caseID: second, revision: 0, by: fixture.physician.id,
                                       audit: fixture.draft(.caseFollowUp))

            let result = try await store.indicators(community: fixture.community.id, from: CalendarDate(iso: "2026-01-01")!, to: CalendarDate(iso: "2026-04-01")!)
            var totals = IndicatorCounts()
            totals.fiches = 4; totals.meetings = 2; totals.meetingsWithQuorum = 1; totals.decisionsWithQuorum = 2; totals.withTrial = 1
            totals.completenessChecked = 2; totals.complete = 1; totals.validated = 2; totals.followedUp = 2; totals.carriedOut = 1
            #expect(result.totals == totals)
            #expect(result.totals.quorumShare == 0.5 && result.totals.meetingQuorumShare == 0.5 && result.totals.trialShare == 0.25)
            #expect(result.totals.completeShare == 0.5 && result.totals.followedUpShare == 1 && result.totals.carriedOutShare == 0.5)
            // P1 and P2 are new to the board; P3 was discussed in December.
            #expect(result.patients == 3 && result.newPatients == 2 && result.representedPatients == 1)
            // Registration → meeting: 5, 14, 1 and 7 days; meeting → validation: 2 and 5; decision → treatment: 10.
            #expect(result.registrationToMeeting == DelayHistogram([1: 1, 5: 1, 7: 1, 14: 1]))
            #expect(result.registrationToMeeting.median == 5 && result.registrationToMeeting.p90 == 14)
            #expect(result.meetingToValidation == DelayHistogram([2: 1, 5: 1]) && result.meetingToValidation.median == 2)
            #expect(result.decisionToTreatment == DelayHistogram([10: 1]))
            #expect(result.byMonth.map(\.month) == ["2026-01", "2026-02", "2026-03"])
            #expect(result.byMonth.map(\.counts.fiches) == [2, 2, 0] && result.byMonth.map(\.counts.meetings) == [1, 1, 0])
            #expect(result.byMonth.map(\.counts.meetingsWithQuorum) == [1, 0, 0])
            #expect(result.bySiteGroup.map(\.group) == [.digestive, .respiratory, .breast])
            #expect(result.bySiteGroup.map(\.counts.fiches) == [1, 2, 1])
            #expect(result.byOrganisation.count == 1 && result.byOrganisation.first?.counts.fiches == 4)

            // Another community, or another period, sees none of it.
            #expect(try await store.indicators(community: UUID(), from: CalendarDate(iso: "2026-01-01")!, to: CalendarDate(iso: "2026-04-01")!).totals.fiches == 0)
            let december2025 = try await store.indicators(community: fixture.community.id, from: CalendarDate(iso: "2025-12-01")!, to: CalendarDate(iso: "2026-01-01")!)
            #expect(december2025.totals.fiches == 1 && december2025.newPatients == 1 && december2025.meetingToValidation == DelayHistogram([1: 1]))
        }
    }

    /// The daily totals are kept by triggers (migration 0029): after each kind of change to
    /// a fiche (sent back and discussed again, validated, followed up then corrected, amended
    /// to another site, deleted, moved to another patient), the indicators equal what the
    /// fiches themselves give for every period.
    @Test func totalsFollowEveryChangeOfAFiche() async throws {
        try await TestDatabase.withMigrated { database in
            let fixture = try await WorkflowFixture.make(database)
            let store = IndicatorStore(database: database), followUps = FollowUpStore(database: database)
            func meeting(_ day: String) async throws -> UUID { try await Self.meeting(on: day, fixture) }
            func discuss(_ caseID: UUID, at meeting: UUID, from statuses: [CaseStatus] = [.draft], registered: String, quorum: Bool = true) async throws {
                try await fixture.cases.register(id: caseID, meetingID: meeting, from: statuses, by: fixture.physician.id, audit: fixture.draft(.caseRegister),
                                                 at: Self.at(registered, 9))
                let day = try #require(try await fixture.meetings.find(id: meeting)).startsAt
                try await fixture.cases.recordDecision(
                    id: caseID, decision: CaseDecision(proposalTypes: [.surgery], proposal: "P.", followsGuidelines: true, trialProposed: !quorum,
                                                       fileComplete: true, quorumMet: quorum, recordedWithoutQuorum: !quorum),
                    completeAtDiscussion: quorum, by: fixture.coordinator.id, audit: fixture.draft(.caseDecision), at: day.addingTimeInterval(3600))
            }
            let periods = [("2026-01-01", "2026-04-01"), ("2026-02-01", "2026-04-01"), ("2026-01-01", "2026-02-01"), ("2026-03-01", "2026-03-13")]
            func expectTotalsMatchTheFiches(_ step: String) async throws {
                for (from, to) in periods {
                    let indicators = try await store.indicators(community: fixture.community.id, from: CalendarDate(iso: from)!, to: CalendarDate(iso: to)!)
                    let fiches = try await Self.fromTheFiches(database, community: fixture.community.id, from: from, to: to)
                    #expect(indicators.summary == fiches, "\(step), \(from) → \(to)")
                }
                let negative = try await database.read { sql in
                    try await sql.raw("""
                        SELECT (SELECT COUNT(*) FROM indicator_days WHERE fiches < 0 OR quorum < 0 OR validated < 0 OR followed < 0 OR carried < 0)
                             + (SELECT COUNT(*) FROM indicator_delays WHERE fiches < 0) + (SELECT COUNT(*) FROM indicator_meetings WHERE fiches < 0) AS n
                        """).first()?.decode(column: "n", as: Int64.self)
                }
                #expect(negative == 0, "\(step): a total fell below zero")
            }
            let january = try await meeting("2026-01-15"), february = try await meeting("2026-02-12"), march = try await meeting("2026-03-12")
            let p1 = try await fixture.patient("UN"), p2 = try await fixture.patient("DEUX")
            let a = try await fixture.newCase(patient: p1, summary: "A", site: "C34.1")
            let b = try await fixture.newCase(patient: p1, summary: "B", site: "C34.1")
            let c = try await fixture.newCase(patient: p2, summary: "C", site: "C18.7")
            try await discuss(a, at: january, registered: "2026-01-05")
            try await discuss(c, at: january, registered: "2026-01-12", quorum: false)
            try await discuss(b, at: february, registered: "2026-02-01")
            try await expectTotalsMatchTheFiches("discussed")

            try await fixture.cases.validate(id: a, by: fixture.coordinator.id, audit: fixture.draft(.caseValidate), at: Self.at("2026-01-19", 10))
            try await expectTotalsMatchTheFiches("validated")

            try await fixture.cases.sendBack(id: c, by: fixture.coordinator.id, audit: fixture.draft(.caseSendBack), at: Self.at("2026-01-16"))
            try await expectTotalsMatchTheFiches("sent back")
            try await discuss(c, at: march, from: [.toRepresent], registered: "2026-03-02")
            try await expectTotalsMatchTheFiches("discussed again")

            try await followUps.record(DecisionFollowUp(outcome: .carriedOut, firstTreatmentOn: CalendarDate(iso: "2026-02-02")), caseID: a, revision: 0,
                                       by: fixture.physician.id, audit: fixture.draft(.caseFollowUp))
            try await followUps.record(DecisionFollowUp(outcome: .notCarriedOut, reason: "Refus."), caseID: a, revision: 1,
                                       by: fixture.physician.id, audit: fixture.draft(.caseFollowUp))
            try await expectTotalsMatchTheFiches("followed up, then corrected")

            let validated = try #require(try await fixture.cases.find(id: a))
            var amended = validated.content
            amended.tumourSiteCode = "C50.4"
            try await fixture.cases.save(id: a, revision: validated.revision, content: amended, newEdition: true, by: fixture.physician.id,
                                         audit: fixture.draft(.caseUpdate))
            try await expectTotalsMatchTheFiches("amended to another site")

            try await database.write { sql in
                for table in ["meeting_agenda", "meeting_events", "meeting_decision_drafts", "meeting_case_views"] {
                    try await sql.raw("DELETE FROM \(unsafeRaw: table) WHERE case_id = \(bind: b.storageKey)").run()
                }
                try await sql.raw("DELETE FROM cases WHERE id = \(bind: b.storageKey)").run()
            }
            try await expectTotalsMatchTheFiches("deleted")
            try await database.write { sql in
                try await sql.raw("UPDATE cases SET patient_id = \(bind: p2.storageKey) WHERE id = \(bind: a.storageKey)").run()
            }
            try await expectTotalsMatchTheFiches("moved to another patient")
        }
    }

    /// Two records of one person, each with its first discussion in the community: merged,
    /// they are one patient, new once (the later fiche is a re-presentation).
    @Test func aMergedPatientIsNewOnce() async throws {
        try await TestDatabase.withMigrated { database in
            let fixture = try await WorkflowFixture.make(database)
            let store = IndicatorStore(database: database)
            let january = try await Self.meeting(on: "2026-01-15", fixture), february = try await Self.meeting(on: "2026-02-12", fixture)
            let first = try await fixture.patient("MARTIN"), duplicate = try await fixture.patient("MARTINN")
            for (patient, meeting, registered) in [(first, january, "2026-01-05"), (duplicate, february, "2026-02-02")] {
                let caseID = try await fixture.newCase(patient: patient, summary: "S", site: "C34.1")
                try await fixture.cases.register(id: caseID, meetingID: meeting, from: [.draft], by: fixture.physician.id,
                                                 audit: fixture.draft(.caseRegister), at: Self.at(registered, 9))
                let day = try #require(try await fixture.meetings.find(id: meeting)).startsAt
                try await fixture.cases.recordDecision(
                    id: caseID, decision: CaseDecision(proposalTypes: [.surgery], proposal: "P.", followsGuidelines: true, trialProposed: false,
                                                       fileComplete: true, quorumMet: true, recordedWithoutQuorum: false),
                    by: fixture.coordinator.id, audit: fixture.draft(.caseDecision), at: day.addingTimeInterval(3600))
            }
            let from = try #require(CalendarDate(iso: "2026-01-01")), to = try #require(CalendarDate(iso: "2026-03-01"))
            let before = try await store.indicators(community: fixture.community.id, from: from, to: to)
            #expect(before.patients == 2 && before.newPatients == 2)
            try await fixture.patients.merge(survivorID: first, mergedID: duplicate, by: fixture.coordinator.id, reason: "doublon",
                                             audit: fixture.draft(.patientMerge))
            let after = try await store.indicators(community: fixture.community.id, from: from, to: to)
            #expect(after.patients == 1 && after.newPatients == 1 && after.representedPatients == 0, "\(after.patients) patients, \(after.newPatients) new")
            let february2026 = try await store.indicators(community: fixture.community.id, from: try #require(CalendarDate(iso: "2026-02-01")), to: to)
            #expect(february2026.patients == 1 && february2026.newPatients == 0 && february2026.representedPatients == 1)
        }
    }

    /// The same figures, counted from the fiches one by one (the statements the daily totals
    /// replaced).
    static func fromTheFiches(_ database: Database, community: UUID, from: String, to: String) async throws -> IndicatorSummary {
        try await database.read { sql in
            let scope: SQLQueryString = """
                community_id = \(bind: community.storageKey) AND discussed_on >= \(bind: from) AND discussed_on < \(bind: to)
                  AND status IN ('discussed', 'validated')
                """
            var summary = IndicatorSummary()
            for row in try await sql.raw("""
                SELECT substr(discussed_on, 1, 7) AS month, substr(COALESCE(tumour_site, ''), 1, 3) AS site, COALESCE(quorum_met, 0) AS quorum,
                       COALESCE(trial_proposed, 0) AS trial, complete_at_discussion AS complete, status, follow_up_outcome AS outcome,
                       COALESCE(first_presentation, 0) AS first, registration_lead_days AS lead, validation_delay_days AS validation,
                       treatment_delay_days AS treatment
                FROM cases WHERE \(scope)
                """).all() {
                let complete = try row.decode(column: "complete", as: Int64?.self), outcome = try row.decode(column: "outcome", as: String?.self)
                summary.fiches += 1
                summary.quorum += Int(try row.decode(column: "quorum", as: Int64.self))
                summary.trial += Int(try row.decode(column: "trial", as: Int64.self))
                summary.checked += complete == nil ? 0 : 1
                summary.complete += complete == 1 ? 1 : 0
                summary.validated += try row.decode(column: "status", as: String.self) == "validated" ? 1 : 0
                summary.followed += outcome == nil ? 0 : 1
                summary.carried += outcome == "carried_out" ? 1 : 0
                summary.newPatients += Int(try row.decode(column: "first", as: Int64.self))
                summary.byMonth[try row.decode(column: "month", as: String.self), default: 0] += 1
                summary.bySite[TumourSiteGroup.of(try row.decode(column: "site", as: String.self)), default: 0] += 1
                for (kind, column) in [("registration", "lead"), ("validation", "validation"), ("treatment", "treatment")] {
                    if let days = try row.decode(column: column, as: Int64?.self) { summary.delays[kind, default: [:]][Int(days), default: 0] += 1 }
                }
            }
            summary.patients = Int(try await sql.raw("SELECT COUNT(DISTINCT patient_id) AS n FROM cases WHERE \(scope)").first()?
                .decode(column: "n", as: Int64.self) ?? 0)
            for row in try await sql.raw("SELECT MIN(COALESCE(quorum_met, 0)) AS all_quorum FROM cases WHERE \(scope) GROUP BY meeting_id").all() {
                summary.meetings += 1
                summary.meetingsWithQuorum += Int(try row.decode(column: "all_quorum", as: Int64.self))
            }
            return summary
        }
    }

    @Test func percentilesAndSiteGroups() {
        let histogram = DelayHistogram([3: 2, 10: 1, 30: 1])
        #expect(histogram.median == 3 && histogram.percentile(75) == 10 && histogram.p90 == 30 && DelayHistogram().median == nil)
        #expect(TumourSiteGroup.of("C34.1") == .respiratory && TumourSiteGroup.of("C50") == .breast && TumourSiteGroup.of("C16.2") == .digestive)
        #expect(TumourSiteGroup.of("D05.1") == .inSitu && TumourSiteGroup.of("C97") == .multiple && TumourSiteGroup.of(nil) == .unknown)
        #expect(TumourSiteGroup.of("C42") == .unknown && TumourSiteGroup.of("X") == .unknown)
        #expect(CommunityIndicators.months(from: CalendarDate(iso: "2025-11-15")!, to: CalendarDate(iso: "2026-02-01")!) == ["2025-11", "2025-12", "2026-01"])
    }
}

/// The figures `totalsFollowEveryChangeOfAFiche` compares, as plain values.
struct IndicatorSummary: Equatable, CustomStringConvertible {
    var fiches = 0, quorum = 0, trial = 0, checked = 0, complete = 0, validated = 0, followed = 0, carried = 0, newPatients = 0
    var patients = 0, meetings = 0, meetingsWithQuorum = 0
    var byMonth: [String: Int] = [:], bySite: [TumourSiteGroup: Int] = [:], delays: [String: [Int: Int]] = [:]

    var description: String {
        "\(fiches) fiches, \(patients) patients (\(newPatients) new), \(meetings) meetings (\(meetingsWithQuorum) with quorum), quorum \(quorum), "
            + "trial \(trial), complete \(complete)/\(checked), validated \(validated), followed \(followed) (carried \(carried)), "
            + "months \(byMonth.sorted { $0.key < $1.key }), sites \(bySite.map { "\($0.key)=\($0.value)" }.sorted()), delays \(delays.sorted { $0.key < $1.key })"
    }
}

extension CommunityIndicators {
    var summary: IndicatorSummary {
        var summary = IndicatorSummary()
        summary.fiches = totals.fiches; summary.quorum = totals.decisionsWithQuorum; summary.trial = totals.withTrial
        summary.checked = totals.completenessChecked; summary.complete = totals.complete; summary.validated = totals.validated
        summary.followed = totals.followedUp; summary.carried = totals.carriedOut; summary.newPatients = newPatients
        summary.patients = patients; summary.meetings = totals.meetings; summary.meetingsWithQuorum = totals.meetingsWithQuorum
        for (month, counts) in byMonth where counts.fiches > 0 { summary.byMonth[month] = counts.fiches }
        for (group, counts) in bySiteGroup where counts.fiches > 0 { summary.bySite[group] = counts.fiches }
        for (kind, histogram) in [("registration", registrationToMeeting), ("validation", meetingToValidation), ("treatment", decisionToTreatment)] {
            let counts = histogram.counts
            if !counts.isEmpty { summary.delays[kind] = counts }
        }
        return summary
    }
}
