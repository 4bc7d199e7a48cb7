import ConcertoCore
import Foundation
import Testing

private func day(_ iso: String) -> CalendarDate { CalendarDate(iso: iso)! }
private let twoPM = LocalTime(hour: 14, minute: 0)!

@Suite struct RecurrenceTests {
    @Test func weeklyEveryTwoWeeksOnThursdayFromTheFirstMatchingDay() {
        // 2026-01-01 is a Thursday.
        let dates = Recurrence.weekly(interval: 2, weekday: 4).dates(from: day("2025-12-30"), through: day("2026-02-12"))
        #expect(dates.map(\.iso) == ["2026-01-01", "2026-01-15", "2026-01-29", "2026-02-12"])
    }

    @Test func monthlyNthAndLastWeekday() {
        let second = Recurrence.monthly(ordinal: 2, weekday: 2).dates(from: day("2026-01-01"), through: day("2026-04-30"))
        #expect(second.map(\.iso) == ["2026-01-13", "2026-02-10", "2026-03-10", "2026-04-14"])
        let last = Recurrence.monthly(ordinal: -1, weekday: 5).dates(from: day("2026-01-01"), through: day("2026-03-31"))
        #expect(last.map(\.iso) == ["2026-01-30", "2026-02-27", "2026-03-27"])
        // The start date cuts the first month.
        let cut = Recurrence.monthly(ordinal: 1, weekday: 1).dates(from: day("2026-01-06"), through: day("2026-02-28"))
        #expect(cut.map(\.iso) == ["2026-02-02"])
    }

    @Test func invalidRulesGiveNothingAndDoNotRoundTrip() {
        #expect(Recurrence.weekly(interval: 0, weekday: 4).dates(from: day("2026-01-01"), through: day("2026-12-31")).isEmpty)
        #expect(Recurrence(storageValue: "monthly:5:2") == nil)
        #expect(Recurrence(storageValue: "weekly:1:8") == nil)
        #expect(Recurrence(storageValue: "monthly:-1:2") == .monthly(ordinal: -1, weekday: 2))
        #expect(Recurrence(storageValue: Recurrence.weekly(interval: 3, weekday: 1).storageValue) == .weekly(interval: 3, weekday: 1))
    }

    /// Day arithmetic never traps: past the last day a form accepts (2200-12-31), and with a
    /// forged number of days.
    @Test func dayArithmeticHasNoEdgeToCrashOn() {
        #expect(ParisCalendar.adding(days: 1, to: day("2200-12-31")).iso == "2201-01-01")
        #expect(ParisCalendar.adding(days: -1, to: day("1850-01-01")).iso == "1849-12-31")
        #expect(ParisCalendar.adding(days: Int.max, to: day("2026-01-01")).year > 2200)
        #expect(ParisCalendar.adding(days: Int.min, to: day("2026-01-01")).year < 1850)
        #expect(ParisCalendar.days(from: day("2200-12-31"), to: ParisCalendar.adding(days: 1, to: day("2200-12-31"))) == 1)
    }

    /// A weekly 14:00 board stays at 14:00 in Paris across both DST changes, so the UTC
    /// instants move by an hour.
    @Test func parisWallClockSurvivesDaylightSavingChanges() {
        let dates = Recurrence.weekly(interval: 1, weekday: 4).dates(from: day("2026-03-19"), through: day("2026-04-02"))
        let instants = dates.map { ParisCalendar.instant($0, twoPM) }
        #expect(instants.map { ParisCalendar.time(of: $0) } == [twoPM, twoPM, twoPM])
        #expect(instants[0].timeIntervalSince1970 == 1_773_925_200) // 13:00 UTC (CET)
        #expect(instants[2].timeIntervalSince1970 == 1_775_131_200) // 12:00 UTC (CEST)
        let autumn = Recurrence.weekly(interval: 1, weekday: 7).dates(from: day("2026-10-18"), through: day("2026-11-01"))
        let gaps = zip(autumn.dropFirst(), autumn).map { ParisCalendar.instant($0, twoPM).timeIntervalSince(ParisCalendar.instant($1, twoPM)) }
        let expected: [TimeInterval] = [608_400, 604_800] // one week plus the hour given back, then one week
        #expect(gaps == expected)
    }

    @Test func aTimeSkippedBySpringChangeMovesForward() {
        // 2026-03-29 02:30 does not exist in Paris.
        let instant = ParisCalendar.instant(day("2026-03-29"), LocalTime(hour: 2, minute: 30)!)
        #expect(ParisCalendar.time(of: instant) == LocalTime(hour: 3, minute: 30))
    }
}

@Suite struct QuorumTests {
    let oncology = "G15_10/SM36", surgeon = "G15_10/SM14", radiotherapist = "G15_10/SM37", radiologist = "G15_10/SM74"
    let nurse = "G15_60", secretary = "SECRETARIAT_MEDICAL", thoracicSurgeon = "G15_10/SM11"

    @Test func standardQuorumNeedsOncologySurgeryAndRadiotherapy() {
        let rule = QuorumRequirement.standard
        #expect(rule.evaluate(presentSpecialtyCodes: [oncology, surgeon, radiotherapist]).isMet)
        let missing = rule.evaluate(presentSpecialtyCodes: [oncology, surgeon, radiologist])
        #expect(!missing.isMet)
        #expect(missing.missingDisciplines == [.radiotherapy])
        #expect(missing.statusCode == "ORG-133")
    }

    @Test func nursesSecretariesAndDuplicatesDoNotCount() {
        let rule = QuorumRequirement(minimumSpecialties: 3, requiredDisciplines: [])
        #expect(!rule.evaluate(presentSpecialtyCodes: [oncology, oncology, nurse, secretary]).isMet)
        #expect(rule.evaluate(presentSpecialtyCodes: [oncology, oncology, nurse, secretary]).distinctSpecialties == 1)
        // Two surgical specialties are two specialties.
        #expect(rule.evaluate(presentSpecialtyCodes: [surgeon, thoracicSurgeon, radiologist]).isMet)
        #expect(rule.evaluate(presentSpecialtyCodes: ["unknown", surgeon, radiologist]).distinctSpecialties == 2)
    }

    @Test func configurableRequirementWithPathologyAndRadiology() {
        let rule = QuorumRequirement(minimumSpecialties: 4, requiredDisciplines: [.radiology, .pathology, .medicalOncology])
        #expect(rule.requiredDisciplines == [.medicalOncology, .radiology, .pathology])
        let met = rule.evaluate(presentSpecialtyCodes: [oncology, radiologist, "G15_10/SM01", surgeon])
        #expect(met.isMet)
        #expect(met.statusCode == "ORG-126")
        #expect(!rule.evaluate(presentSpecialtyCodes: [oncology, radiologist, "G15_10/SM01"]).isMet)
    }
}

@Suite struct CaseWorkflowTests {
    let now = Date(timeIntervalSince1970: 1_790_000_000)
    var physician: CaseActor { CaseActor(isPhysician: true) }
    var coordinator: CaseActor { CaseActor(isCoordinator: true) }
    var ready: CaseContent { CaseContent(tumourSiteCode: "C34.1", summary: "Nodule LSD 25 mm", question: "Chirurgie d'emblée ?") }
    func window(startingIn hours: Double, deadline: Int = 48, maximum: Int? = nil) -> RegistrationWindow {
        RegistrationWindow(startsAt: now.addingTimeInterval(hours * 3600), deadlineHours: deadline, maximumCases: maximum)
    }
    func decision(quorum: Bool, without: Bool = false) -> CaseDecision {
        CaseDecision(proposalTypes: [.surgery], proposal: "Lobectomie", followsGuidelines: true, trialProposed: false,
                     fileComplete: true, quorumMet: quorum, recordedWithoutQuorum: without)
    }

    @Test func physicianRegistersBeforeTheDeadline() {
        let result = CaseWorkflow.apply(.register(window(startingIn: 72), status: .scheduled, alreadyRegistered: 0), to: .draft, content: ready, by: physician, at: now)
        #expect(result == .success(.moveTo(.registered)))
    }

    @Test func lateFullOrCancelledRegistrationsAreRefusedUnlessCoordinator() {
        let late = CaseWorkflow.Event.register(window(startingIn: 24), status: .scheduled, alreadyRegistered: 0)
        #expect(CaseWorkflow.apply(late, to: .draft, content: ready, by: physician, at: now) == .failure(.registration(.deadlinePassed)))
        #expect(CaseWorkflow.apply(late, to: .draft, content: ready, by: coordinator, at: now) == .success(.moveTo(.registered)))
        let full = CaseWorkflow.Event.register(window(startingIn: 72, maximum: 2), status: .scheduled, alreadyRegistered: 2)
        #expect(CaseWorkflow.apply(full, to: .draft, content: ready, by: physician, at: now) == .failure(.registration(.full)))
        let cancelled = CaseWorkflow.Event.register(window(startingIn: 72), status: .cancelled, alreadyRegistered: 0)
        #expect(CaseWorkflow.apply(cancelled, to: .draft, content: ready, by: coordinator, at: now) == .failure(.registration(.cancelled)))
        let started = CaseWorkflow.Event.register(window(startingIn: -1), status: .scheduled, alreadyRegistered: 0)
        #expect(CaseWorkflow.apply(started, to: .draft, content: ready, by: physician, at: now) == .failure(.registration(.started)))
    }

    @Test func forbiddenTransitions() {
        let register = CaseWorkflow.Event.register(window(startingIn: 72), status: .scheduled, alreadyRegistered: 0)
        #expect(CaseWorkflow.apply(register, to: .validated, content: ready, by: physician, at: now) == .failure(.wrongStatus(.validated)))
        #expect(CaseWorkflow.apply(register, to: .draft, content: CaseContent(), by: physician, at: now) == .failure(.incompleteCase))
        #expect(CaseWorkflow.apply(register, to: .draft, content: ready, by: CaseActor(), at: now) == .failure(.notAllowed))
        // A physician does not record or validate the board's decision.
        #expect(CaseWorkflow.apply(.recordDecision(decision(quorum: true)), to: .registered, content: ready, by: physician, at: now) == .failure(.notAllowed))
        #expect(CaseWorkflow.apply(.validate(decision(quorum: true)), to: .registered, content: ready, by: coordinator, at: now) == .failure(.wrongStatus(.registered)))
        #expect(CaseWorkflow.apply(.recordDecision(decision(quorum: true)), to: .draft, content: ready, by: coordinator, at: now) == .failure(.wrongStatus(.draft)))
        #expect(CaseWorkflow.apply(.withdraw, to: .discussed, content: ready, by: physician, at: now) == .failure(.wrongStatus(.discussed)))
        #expect(CaseWorkflow.apply(.meetingCancelled, to: .validated, content: ready, by: coordinator, at: now) == .failure(.wrongStatus(.validated)))
    }

    @Test func decisionThenValidationNeedsQuorumOrItsExplicitAbsence() {
        let chair = CaseActor(isChair: true)
        let incomplete = CaseDecision(proposalTypes: [], proposal: " ", followsGuidelines: false, trialProposed: true, fileComplete: true, quorumMet: true)
        #expect(CaseWorkflow.apply(.recordDecision(incomplete), to: .registered, content: ready, by: chair, at: now)
            == .failure(.decision([.noProposalType, .noProposal, .deviationWithoutReason, .trialWithoutReference])))
        #expect(CaseWorkflow.apply(.recordDecision(decision(quorum: false)), to: .registered, content: ready, by: chair, at: now) == .success(.moveTo(.discussed)))
        #expect(CaseWorkflow.apply(.validate(decision(quorum: false)), to: .discussed, content: ready, by: chair, at: now) == .failure(.quorumNotMet))
        #expect(CaseWorkflow.apply(.validate(decision(quorum: false, without: true)), to: .discussed, content: ready, by: chair, at: now) == .success(.moveTo(.validated)))
        #expect(CaseWorkflow.apply(.validate(decision(quorum: true)), to: .discussed, content: ready, by: coordinator, at: now) == .success(.moveTo(.validated)))
    }

    @Test func editsAfterValidationMakeANewEditionAndSendBackReturnsToTheQueue() {
        #expect(CaseWorkflow.apply(.edit, to: .validated, content: ready, by: physician, at: now) == .success(.newEdition))
        #expect(CaseWorkflow.apply(.edit, to: .draft, content: ready, by: CaseActor(), at: now) == .failure(.notAllowed))
        #expect(CaseWorkflow.apply(.sendBack, to: .discussed, content: ready, by: coordinator, at: now) == .success(.moveTo(.toRepresent)))
        #expect(CaseWorkflow.apply(.meetingCancelled, to: .registered, content: ready, by: CaseActor(), at: now) == .success(.moveTo(.toRepresent)))
        let again = CaseWorkflow.Event.register(window(startingIn: 72), status: .scheduled, alreadyRegistered: 0)
        #expect(CaseWorkflow.apply(again, to: .toRepresent, content: ready, by: physician, at: now) == .success(.moveTo(.registered)))
    }

    @Test func contentProblems() {
        var content = ready
        content.tumourSiteCode = "Z99"
        content.tnm = TNM(cT: "T2a", cN: "N7", cM: "M0", edition: 8)
        content.lateralityCode = "7771000"
        #expect(content.problems() == [.unknownTumourSite, .invalidTNM])
        for valid in ["Tis", "Tx", "T1a", "T0"] { #expect(TNM.isValid(valid, axis: "T"), "\(valid)") }
        #expect(TNM.isValid("M1c", axis: "M"))
        for invalid in ["N1", "T5", "T1a; DROP", ""] { #expect(!TNM.isValid(invalid, axis: "T"), "\(invalid)") }
        #expect(TNM(cT: "T2a", cN: "N0", pT: "T1b").summary == "cT2a cN0 pT1b")
    }
}

@Suite struct ICalendarTests {
    let stamp = Date(timeIntervalSince1970: 1_790_000_000)

    @Test func rendersRFC5545WithParisTimeZoneEscapingAndFolding() {
        let start = ParisCalendar.instant(day("2026-07-02"), twoPM)
        let event = ICalendar.Event(uid: "m1@concerto", startsAt: start, endsAt: start.addingTimeInterval(5400),
                                    summary: "RCP thoracique; séance, n°12", location: "Salle 3\nBâtiment B",
                                    description: String(repeating: "é", count: 60), cancelled: true, sequence: 2, lastModified: stamp)
        let text = ICalendar(name: "Mes RCP", events: [event]).render(stampedAt: stamp)
        let lines = text.components(separatedBy: "\r\n")
        #expect(text.hasSuffix("END:VCALENDAR\r\n"))
        #expect(lines.first == "BEGIN:VCALENDAR")
        #expect(lines.contains("VERSION:2.0"))
        #expect(lines.contains("TZID:Europe/Paris"))
        #expect(lines.contains("DTSTART;TZID=Europe/Paris:20260702T140000"))
        #expect(lines.contains("DTEND;TZID=Europe/Paris:20260702T153000"))
        #expect(lines.contains("DTSTAMP:20260921T141320Z"))
        #expect(lines.contains("SUMMARY:RCP thoracique\\; séance\\, n°12"))
        #expect(lines.contains("LOCATION:Salle 3\\nBâtiment B"))
        #expect(lines.contains("STATUS:CANCELLED"))
        #expect(lines.contains("SEQUENCE:2"))
        // Folded lines: at most 75 octets, continuation starts with a space, text unchanged.
        #expect(lines.allSatisfy { $0.utf8.count <= 75 })
        let unfolded = text.replacingOccurrences(of: "\r\n ", with: "")
        #expect(unfolded.contains("DESCRIPTION:" + String(repeating: "é", count: 60)))
        #expect(!text.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
    }
}

@Suite struct TerminologyTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/spec/valuesets")

    /// The generated lists match the value sets they came from, code system and label included.
    @Test(arguments: [Terminology.tumourSites, .lateralities, .cancerPhases, .performanceStatuses, .boardNatures, .treatmentTypes,
                      .quorumStatuses, .presentedCaseStatuses, .boardOrgans])
    func generatedTerminologyMatchesTheValueSet(_ terminology: Terminology) throws {
        let text = try String(contentsOf: Self.folder.appendingPathComponent(terminology.valueSet + ".xml"), encoding: .utf8)
        var concepts = Set<String>()
        for match in text.matches(of: #/<Concept code="([^"]*)"\s+codeSystem="([^"]*)"[^>]*?displayName="([^"]*)"/#) {
            concepts.insert("\(match.1)|\(match.2)|\(String(match.3).replacingOccurrences(of: "&apos;", with: "'"))")
        }
        #expect(!terminology.concepts.isEmpty)
        for concept in terminology.concepts {
            #expect(concepts.contains("\(concept.code)|\(concept.codeSystem)|\(concept.label)"), "\(concept.code)")
        }
    }

    @Test func tumourSitesAreTheC00ToD48Topographies() {
        #expect(Terminology.tumourSites.concepts.allSatisfy { $0.code.hasPrefix("C") || ("D00"..."D48.9").contains($0.code) })
        #expect(Terminology.tumourSites.concept("C34.1") != nil)
        #expect(Terminology.tumourSites.contains("C50"))
        #expect(!Terminology.tumourSites.contains("B21"))
        // Codes the decision form exports exist in the treatment value set.
        for type in ProposalType.allCases { if let code = type.treatmentTypeCode { #expect(Terminology.treatmentTypes.contains(code)) } }
    }
}

@Suite struct LiveSessionTests {
    let meeting = UUID(), a = UUID(), b = UUID()

    func event(_ seq: Int64, _ kind: MeetingEventKind, _ caseID: UUID?, at seconds: Double) -> MeetingEvent {
        MeetingEvent(meetingID: meeting, seq: seq, kind: kind, caseID: caseID, at: Date(timeIntervalSince1970: 1_800_000_000 + seconds))
    }

    @Test func theClockAddsEachTurnOfACase() {
        let timeline = LiveTimeline(events: [
            event(1, .casePresented, a, at: 0), event(2, .draft, a, at: 30), event(3, .casePresented, b, at: 120),
            event(4, .casePresented, a, at: 300),
        ])
        let now = Date(timeIntervalSince1970: 1_800_000_000 + 360)
        #expect(timeline.currentCaseID == a)
        #expect(timeline.secondsSpent(on: a, at: now) == 180)
        #expect(timeline.secondsSpentBefore(a) == 120)
        #expect(timeline.secondsSpent(on: b, at: now) == 180)
        #expect(LiveTimeline.clock(185.9) == "3:05")
        // The agenda's slot: two hours shared by 40 cases is three minutes each, but never
        // under five; by 4 cases, thirty, but never over twenty.
        #expect(AgendaSlot.minutes(startsAt: now, endsAt: now.addingTimeInterval(7200), caseCount: 40) == 5)
        #expect(AgendaSlot.minutes(startsAt: now, endsAt: now.addingTimeInterval(7200), caseCount: 4) == 20)
        #expect(AgendaSlot.minutes(startsAt: now, endsAt: now.addingTimeInterval(7200), caseCount: 0) == 20)
    }

    @Test func theWireCarriesIdsOnlyAndReadsBackExactly() {
        let original = event(7, .decision, a, at: 12.345)
        #expect(MeetingEvent(wirePayload: original.wirePayload) == original)
        let none = event(8, .attendance, nil, at: 1)
        #expect(MeetingEvent(wirePayload: none.wirePayload) == none)
        for bad in ["", "x 1 case - 1", "\(meeting.storageKey) 0 case - 1", "\(meeting.storageKey) 1 gossip - 1", "\(meeting.storageKey) 1 case zz 1"] {
            #expect(MeetingEvent(wirePayload: bad) == nil, "\(bad)")
        }
        #expect(ServerSentEvents.frame(original) == "id: 7\nevent: decision\ndata: {\"seq\":7,\"case\":\"\(a.storageKey)\",\"at\":1800000012345}\n\n")
        #expect(ServerSentEvents.lastEventID("12") == 12)
        #expect(ServerSentEvents.lastEventID(" 3 ") == 3)
        for bad in [nil, "", "-1", "abc", "99999999999999999999"] as [String?] {
            #expect(ServerSentEvents.lastEventID(bad) == nil)
        }
    }

    @Test func theRecorderRecordsButNeverValidates() {
        let decision = CaseDecision(proposalTypes: [.surgery], proposal: "Chirurgie", followsGuidelines: true, trialProposed: false, fileComplete: true, quorumMet: true)
        let recorder = CaseActor(isRecorder: true)
        #expect(CaseWorkflow.apply(.recordDecision(decision), to: .registered, content: CaseContent(), by: recorder, at: Date()).isSuccess)
        #expect(!CaseWorkflow.apply(.validate(decision), to: .discussed, content: CaseContent(), by: recorder, at: Date()).isSuccess)
        #expect(!CaseWorkflow.apply(.sendBack, to: .registered, content: CaseContent(), by: recorder, at: Date()).isSuccess)
        #expect(LiveRoles.types(isCoordinator: false, isChair: false, isRecorder: true))
        #expect(!LiveRoles.presents(isCoordinator: false, isChair: false))
    }
}
