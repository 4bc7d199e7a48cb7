import Foundation

/// Whether the board's proposal was carried out (*oui / partiellement / non*).
public enum FollowUpOutcome: String, Sendable, CaseIterable, Codable {
    case carriedOut = "carried_out"
    case partially
    case notCarriedOut = "not_carried_out"
}

/// What became of a validated decision, as the referring physician records it (or as a
/// personalised care plan imported for the patient tells it): the 3C's follow-up.
public struct DecisionFollowUp: Sendable, Hashable {
    /// nil while only a care plan said something (its hand-over date) and nobody has said
    /// whether the proposal was carried out: the decision still awaits its follow-up.
    public var outcome: FollowUpOutcome?
    /// Why it was not, or only partly, carried out.
    public var reason: String?
    public var firstTreatmentOn: CalendarDate?
    /// The day the personalised care plan (PPS) was given to the patient.
    public var carePlanGivenOn: CalendarDate?

    public init(outcome: FollowUpOutcome?, reason: String? = nil, firstTreatmentOn: CalendarDate? = nil, carePlanGivenOn: CalendarDate? = nil) {
        self.outcome = outcome; self.reason = reason; self.firstTreatmentOn = firstTreatmentOn; self.carePlanGivenOn = carePlanGivenOn
    }

    public enum Problem: String, Sendable, Error, CaseIterable {
        case noOutcome = "no_outcome", reasonRequired = "reason_required", treatmentDateRequired = "treatment_date_required"
        case dateBeforeDecision = "date_before_decision", dateInFuture = "date_in_future", tooLong = "too_long"
    }

    /// What a physician's record must hold. `decidedOn` is the board's day: nothing that
    /// carries its proposal out happened before it; `today` bounds the other end.
    public func problems(decidedOn: CalendarDate, today: CalendarDate) -> [Problem] {
        var found: [Problem] = []
        guard let outcome else { return [.noOutcome] }
        let reasonGiven = !(reason ?? "").trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
        if outcome != .carriedOut, !reasonGiven { found.append(.reasonRequired) }
        // The 3C's delay from decision to first treatment needs the day when it was carried out.
        if outcome == .carriedOut, firstTreatmentOn == nil { found.append(.treatmentDateRequired) }
        let days = [firstTreatmentOn, carePlanGivenOn].compactMap { $0 }
        if days.contains(where: { $0 < decidedOn }) { found.append(.dateBeforeDecision) }
        if days.contains(where: { $0 > today }) { found.append(.dateInFuture) }
        if (reason ?? "").count > 2_000 { found.append(.tooLong) }
        return found
    }

    /// What a personalised care plan tells of the decision it carries out: the day it was
    /// given (the document's date) and, when it records a treatment as done from the board's
    /// day on, that the proposal was carried out and when it started. A record a physician
    /// made is never overwritten; only the fields it lacks are filled.
    public static func fillingIn(_ current: DecisionFollowUp?, carePlanDated planDay: CalendarDate, treatmentsStarted: [CalendarDate],
                                 decidedOn: CalendarDate) -> DecisionFollowUp {
        var result = current ?? DecisionFollowUp(outcome: nil)
        if result.carePlanGivenOn == nil, planDay >= decidedOn { result.carePlanGivenOn = planDay }
        if result.outcome == nil, let first = treatmentsStarted.filter({ $0 >= decidedOn }).min() {
            result.outcome = .carriedOut
            result.firstTreatmentOn = result.firstTreatmentOn ?? first
        }
        return result
    }
}

/// How long after validation a decision waits for its follow-up before dashboards list it.
public enum FollowUpDelay {
    public static let defaultDays = 30
    public static let allowedDays = 7...365

    /// The instant from which a decision validated at `validatedAt` is overdue.
    public static func due(validatedAt: Date, days: Int) -> Date {
        validatedAt.addingTimeInterval(Double(days) * 86_400)
    }
}
