import ConcertoCore
import ConcertoStore
import Foundation
import Mustache

/// What the case page and the follow-up page show of a recorded follow-up.
struct FollowUpSummary: Sendable, MustacheParent {
    let outcome: String?
    let outcomeCode: String?
    let reason: String?
    let firstTreatmentOn: String?
    let carePlanGivenOn: String?
    let recordedBy: String?
    let recordedAt: String
    let carePlanURL: String?

    init(_ record: FollowUpRecord, pages: PageBuilder) {
        outcome = record.followUp.outcome.map { pages.text("follow_up_outcome_\($0.rawValue)") }
        outcomeCode = record.followUp.outcome?.rawValue
        reason = record.followUp.reason
        firstTreatmentOn = record.followUp.firstTreatmentOn?.french
        carePlanGivenOn = record.followUp.carePlanGivenOn?.french
        recordedBy = record.recordedByName
        recordedAt = DisplayFormat.dateTime(record.recordedAt)
        carePlanURL = record.carePlanDocumentID.map { SiteURL.document($0).path }
    }

    /// false, not nil, for what the record lacks: Mustache would look a missing value up
    /// in the enclosing page.
    func child(named name: String) -> Any? {
        switch name {
        case "outcome": outcome ?? false
        case "outcomeCode": outcomeCode ?? false
        case "reason": reason ?? false
        case "firstTreatmentOn": firstTreatmentOn ?? false
        case "carePlanGivenOn": carePlanGivenOn ?? false
        case "recordedBy": recordedBy ?? false
        case "recordedAt": recordedAt
        case "carePlanURL": carePlanURL ?? false
        default: nil
        }
    }
}

/// The follow-up as the case page shows it.
enum FollowUpPresentation {
    /// The case page's follow-up card: the record, whether it is overdue, the way to it.
    static func caseCard(_ followUp: FollowUpRecord?, record: CaseRecord, meeting: MeetingRecord?, mayRecord: Bool, pages: PageBuilder,
                         now: Date) -> ViewFields {
        let days = meeting?.followUpDays ?? FollowUpDelay.defaultDays
        let overdue = followUp?.followUp.outcome == nil && record.validatedAt.map { FollowUpDelay.due(validatedAt: $0, days: days) <= now } == true
        return ViewFields([
            "recorded": followUp.map { FollowUpSummary($0, pages: pages) },
            "overdue": overdue ? true : nil, "mayRecord": mayRecord ? true : nil, "url": SiteURL.caseFollowUp(record.id).path,
        ])
    }
}
