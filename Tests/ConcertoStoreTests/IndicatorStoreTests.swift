import ConcertoCore
import ConcertoStore
import ConcertoTestSupport
import Foundation
import Testing

/// The 3C's indicators on a small data set checked by hand, on both engines.
@Suite struct IndicatorStoreTests {
    static func at(_ day: String, _ hour: Int = 14) -> Date {
        ParisCalendar.instant(CalendarDate(iso: day)!, LocalTime(hour: hour, minute: 0)!)
    }

    @Test func eachIndicatorOnAHandCheckedBoard() async throws {
        try await TestDatabase.withMigrated { database in
            let fixture = try await WorkflowFixture.make(database)
            let store = IndicatorStore(database: database), followUps = FollowUpStore(database: database)
            func meeting(_ day: String) async throws -> UUID {
                let id = UUID()
                try await fixture.meetings.create(id: id, communityID: fixture.community.id, title: "RCP", startsAt: Self.at(day), endsAt: Self.at(day, 16),
                                                  at: Self.at("2025-11-01"))
                return id
            }
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

    @Test func percentilesAndSiteGroups() {
        let histogram = DelayHistogram([3: 2, 10: 1, 30: 1])
        #expect(histogram.median == 3 && histogram.percentile(75) == 10 && histogram.p90 == 30 && DelayHistogram().median == nil)
        #expect(TumourSiteGroup.of("C34.1") == .respiratory && TumourSiteGroup.of("C50") == .breast && TumourSiteGroup.of("C16.2") == .digestive)
        #expect(TumourSiteGroup.of("D05.1") == .inSitu && TumourSiteGroup.of("C97") == .multiple && TumourSiteGroup.of(nil) == .unknown)
        #expect(TumourSiteGroup.of("C42") == .unknown && TumourSiteGroup.of("X") == .unknown)
        #expect(CommunityIndicators.months(from: CalendarDate(iso: "2025-11-15")!, to: CalendarDate(iso: "2026-02-01")!) == ["2025-11", "2025-12", "2026-01"])
    }
}
