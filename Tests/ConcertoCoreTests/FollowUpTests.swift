import ConcertoCore
import Testing

/// What a decision's follow-up must hold, and what a care plan fills in.
@Suite struct FollowUpTests {
    let board = CalendarDate(iso: "2026-03-10")!
    let today = CalendarDate(iso: "2026-05-01")!

    @Test func aRecordSaysWhetherItWasCarriedOutWithTheReasonWhenNotAndTheDayWhenSo() {
        #expect(DecisionFollowUp(outcome: nil).problems(decidedOn: board, today: today) == [.noOutcome])
        #expect(DecisionFollowUp(outcome: .carriedOut).problems(decidedOn: board, today: today) == [.treatmentDateRequired])
        #expect(DecisionFollowUp(outcome: .carriedOut, firstTreatmentOn: CalendarDate(iso: "2026-03-20")).problems(decidedOn: board, today: today).isEmpty)
        #expect(DecisionFollowUp(outcome: .notCarriedOut, reason: "  ").problems(decidedOn: board, today: today) == [.reasonRequired])
        #expect(DecisionFollowUp(outcome: .partially).problems(decidedOn: board, today: today) == [.reasonRequired])
        #expect(DecisionFollowUp(outcome: .notCarriedOut, reason: "Refus du patient.").problems(decidedOn: board, today: today).isEmpty)
        #expect(DecisionFollowUp(outcome: .notCarriedOut, reason: String(repeating: "x", count: 2_001)).problems(decidedOn: board, today: today) == [.tooLong])
    }

    @Test func itsDaysLieBetweenTheBoardAndToday() {
        let before = DecisionFollowUp(outcome: .carriedOut, firstTreatmentOn: CalendarDate(iso: "2026-03-09"))
        #expect(before.problems(decidedOn: board, today: today) == [.dateBeforeDecision])
        let sameDay = DecisionFollowUp(outcome: .carriedOut, firstTreatmentOn: board, carePlanGivenOn: today)
        #expect(sameDay.problems(decidedOn: board, today: today).isEmpty)
        let future = DecisionFollowUp(outcome: .partially, reason: "r", carePlanGivenOn: CalendarDate(iso: "2026-05-02"))
        #expect(future.problems(decidedOn: board, today: today) == [.dateInFuture])
    }

    @Test func aCarePlanFillsOnlyWhatIsMissing() {
        let days = ["2026-02-01", "2026-04-02", "2026-03-25"].compactMap(CalendarDate.init(iso:))
        let fromNothing = DecisionFollowUp.fillingIn(nil, carePlanDated: CalendarDate(iso: "2026-03-20")!, treatmentsStarted: days, decidedOn: board)
        #expect(fromNothing == DecisionFollowUp(outcome: .carriedOut, firstTreatmentOn: CalendarDate(iso: "2026-03-25"), carePlanGivenOn: CalendarDate(iso: "2026-03-20")))
        // No treatment done yet: the hand-over day only; the decision still awaits its outcome.
        let planned = DecisionFollowUp.fillingIn(nil, carePlanDated: CalendarDate(iso: "2026-03-20")!, treatmentsStarted: [], decidedOn: board)
        #expect(planned == DecisionFollowUp(outcome: nil, carePlanGivenOn: CalendarDate(iso: "2026-03-20")))
        // A plan older than the board tells nothing of this decision.
        let older = DecisionFollowUp.fillingIn(nil, carePlanDated: CalendarDate(iso: "2026-01-20")!, treatmentsStarted: [days[0]], decidedOn: board)
        #expect(older == DecisionFollowUp(outcome: nil))
        // A physician's word stands.
        let physician = DecisionFollowUp(outcome: .notCarriedOut, reason: "Refus.", carePlanGivenOn: CalendarDate(iso: "2026-03-12"))
        #expect(DecisionFollowUp.fillingIn(physician, carePlanDated: CalendarDate(iso: "2026-03-20")!, treatmentsStarted: days, decidedOn: board) == physician)
    }

    @Test func aSeriesDelayIsAWeekToAYear() {
        func series(_ days: Int) -> MeetingSeries {
            MeetingSeries(communityID: .init(), title: "RCP", kind: .transversal, recurrence: .weekly(interval: 1, weekday: 4),
                          firstDate: board, startTime: LocalTime(hour: 14, minute: 0)!, durationMinutes: 60, place: "Salle", followUpDays: days)
        }
        #expect(series(30).problems().isEmpty && series(7).problems().isEmpty && series(365).problems().isEmpty)
        #expect(series(6).problems() == [.invalidFollowUpDays] && series(366).problems() == [.invalidFollowUpDays])
    }
}
