import Foundation

/// What happened during a séance, as every follower's page learns it. An event names what
/// changed (ids only, never clinical content): each page then fetches what it shows through
/// the access policy.
public enum MeetingEventKind: String, Sendable, CaseIterable, Codable {
    /// The chair presents a case (the case id says which).
    case casePresented = "case"
    /// The decision draft of the case changed as the recorder types.
    case draft
    /// The case's decision was recorded, validated or the case sent back.
    case decision
    /// Someone was checked in (or out): the quorum may have changed.
    case attendance
    /// The chair designated who types the decision.
    case recorder
}

public struct MeetingEvent: Sendable, Hashable, Codable {
    public let meetingID: UUID
    /// 1, 2, 3... per meeting: the SSE event id.
    public let seq: Int64
    public let kind: MeetingEventKind
    public let caseID: UUID?
    public let at: Date

    public init(meetingID: UUID, seq: Int64, kind: MeetingEventKind, caseID: UUID?, at: Date) {
        self.meetingID = meetingID; self.seq = seq; self.kind = kind; self.caseID = caseID; self.at = at
    }

    /// The NOTIFY payload: ids, kind and time only.
    public var wirePayload: String {
        "\(meetingID.storageKey) \(seq) \(kind.rawValue) \(caseID?.storageKey ?? "-") \(at.epochMilliseconds)"
    }

    public init?(wirePayload: String) {
        let parts = wirePayload.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 5, let meeting = UUID(storageKey: String(parts[0])), let seq = Int64(parts[1]), seq > 0,
              let kind = MeetingEventKind(rawValue: String(parts[2])), let millis = Int64(parts[4]) else { return nil }
        let caseID: UUID?
        if parts[3] == "-" {
            caseID = nil
        } else {
            guard let id = UUID(storageKey: String(parts[3])) else { return nil }
            caseID = id
        }
        self.init(meetingID: meeting, seq: seq, kind: kind, caseID: caseID, at: Date(epochMilliseconds: millis))
    }
}

/// The text/event-stream framing (WHATWG HTML, "Server-sent events").
public enum ServerSentEvents {
    /// One event: the follower's `EventSource` keeps `id` and sends it back as
    /// `Last-Event-ID` when it reconnects.
    public static func frame(_ event: MeetingEvent) -> String {
        let caseField = event.caseID.map { ",\"case\":\"\($0.storageKey)\"" } ?? ""
        return "id: \(event.seq)\nevent: \(event.kind.rawValue)\ndata: {\"seq\":\(event.seq)\(caseField),\"at\":\(event.at.epochMilliseconds)}\n\n"
    }

    /// A comment line: keeps proxies from closing an idle stream, and tells a server whose
    /// follower left that the connection is gone.
    public static let heartbeat = ": ping\n\n"

    /// Sent first: how long the browser waits before reconnecting after a cut.
    public static func opening(retryMilliseconds: Int) -> String { "retry: \(retryMilliseconds)\n\n" }

    /// The `Last-Event-ID` a reconnecting follower sends (or the page's own `?after=`):
    /// a positive number, anything else means "from now".
    public static func lastEventID(_ raw: String?) -> Int64? {
        guard let raw = raw?.trimmingCharacters(in: .whitespaces), raw.count <= 19, let value = Int64(raw), value >= 0 else { return nil }
        return value
    }
}

/// The séance's clock, read from its events: which case is on screen since when, how long
/// each case has been discussed in all (a case can be presented twice).
public struct LiveTimeline: Sendable, Equatable {
    public private(set) var currentCaseID: UUID?
    public private(set) var currentSince: Date?
    private var spentBefore: [UUID: TimeInterval] = [:]

    public init(events: [MeetingEvent]) {
        for event in events.sorted(by: { $0.seq < $1.seq }) where event.kind == .casePresented {
            close(at: event.at)
            currentCaseID = event.caseID
            currentSince = event.caseID == nil ? nil : event.at
        }
    }

    private mutating func close(at instant: Date) {
        guard let current = currentCaseID, let since = currentSince else { return }
        spentBefore[current, default: 0] += max(0, instant.timeIntervalSince(since))
    }

    /// Seconds spent on the case: its earlier turns, plus the running one if it is on screen.
    public func secondsSpent(on caseID: UUID, at now: Date) -> TimeInterval {
        let running = caseID == currentCaseID ? currentSince.map { max(0, now.timeIntervalSince($0)) } ?? 0 : 0
        return (spentBefore[caseID] ?? 0) + running
    }

    /// The seconds spent before the current turn (the page's clock adds the running part).
    public func secondsSpentBefore(_ caseID: UUID) -> TimeInterval { spentBefore[caseID] ?? 0 }

    /// "12:05": minutes and seconds (hours counted in the minutes: a case never takes hours).
    public static func clock(_ seconds: TimeInterval) -> String {
        let total = max(0, Int(seconds.rounded(.down)))
        return "\(total / 60):\(Digits.padded(total % 60, 2))"
    }
}

/// What the recorder has typed so far, shown to followers before it becomes the decision.
public struct DecisionDraft: Sendable, Hashable, Codable {
    public var proposalTypes: [ProposalType]
    public var proposal: String
    public var trialProposed: Bool
    public var trialReference: String?

    /// Long enough for any proposal; the recorded decision has its own checks.
    public static let maximumProposalLength = 8_000

    public init(proposalTypes: [ProposalType], proposal: String, trialProposed: Bool, trialReference: String?) {
        self.proposalTypes = proposalTypes
        self.proposal = String(proposal.prefix(Self.maximumProposalLength))
        self.trialProposed = trialProposed
        self.trialReference = trialReference.map { String($0.prefix(200)) }
    }
}

/// Who may drive the séance and who types the decision.
public enum LiveRoles {
    /// The chair and the community's coordinators present and designate the recorder.
    public static func presents(isCoordinator: Bool, isChair: Bool) -> Bool { isCoordinator || isChair }

    /// The recorder types the decision draft; without a designated recorder, those who present.
    public static func types(isCoordinator: Bool, isChair: Bool, isRecorder: Bool) -> Bool {
        isRecorder || presents(isCoordinator: isCoordinator, isChair: isChair)
    }
}
