import Foundation

/// One case a board decided, as activity figures see it: the meeting, a pseudonymous
/// patient key (never the patient) and what was discussed and decided.
public struct PresentedCase: Sendable, Equatable {
    public var meetingStartsAt: Date
    public var meetingTitle: String
    public var patientKey: String
    public var content: CaseContent
    public var decision: CaseDecision

    public init(meetingStartsAt: Date, meetingTitle: String, patientKey: String, content: CaseContent, decision: CaseDecision) {
        self.meetingStartsAt = meetingStartsAt
        self.meetingTitle = meetingTitle
        self.patientKey = patientKey
        self.content = content
        self.decision = decision
    }
}
