import ConcertoCore
import ConcertoStore
import Foundation

/// Six months of past boards for the demo, so the 3C's indicators and their charts show
/// something real: weekly thoracic boards in the south and monthly digestive ones in the
/// north, each fiche registered days before its meeting, discussed (some re-presented),
/// validated a few days later, and for most of them followed up. Deterministic: the same
/// history at every `make run`, dated from the day it runs.
extension DemoData {
    /// A fixed sequence, so the demo is the same each time.
    struct Dice {
        var sequence: SplitMix64
        init(state: UInt64) { sequence = SplitMix64(state: state) }
        mutating func roll(_ range: ClosedRange<Int>) -> Int { range.lowerBound + sequence.below(range.count) }
        mutating func chance(_ percent: Int) -> Bool { roll(1...100) <= percent }
    }

    static let historyNames: [(String, String, AdministrativeSex)] = [
        ("ROUSSEAU", "Bernard", .male), ("GIRARD", "Monique", .female), ("FAURE", "Alain", .male), ("ANDRE", "Sylvie", .female),
        ("MERCIER", "Gérard", .male), ("BLANC", "Nicole", .female), ("GUERIN", "Patrick", .male), ("BOYER", "Martine", .female),
        ("GARNIER", "Daniel", .male), ("CHEVALIER", "Françoise", .female), ("FRANCOIS", "Michel", .male), ("LEGRAND", "Chantal", .female),
        ("GAUTHIER", "Jacques", .male), ("PERRIN", "Isabelle", .female), ("ROBIN", "Christian", .male), ("CLEMENT", "Catherine", .female),
        ("MORIN", "Philippe", .male), ("NICOLAS", "Brigitte", .female), ("HENRY", "René", .male), ("ROUSSEL", "Josiane", .female),
    ]

    static func seedHistory(_ dependencies: DemoData.Stores, south: UUID, north: UUID, users: [String: UUID], now: Date) async throws {
        guard let oncologist = users["oncologue@concerto.test"], let radiotherapist = users["radiotherapeute@concerto.test"],
              let thoracicSurgeon = users["chirurgien@concerto.test"], let digestiveSurgeon = users["chirurgienne@concerto.test"],
              let coordinator = users["coordination@concerto.test"] else { return }
        var dice = Dice(state: 20_261_202)
        let today = ParisCalendar.date(of: now)
        func audit(_ action: AuditAction, by user: UUID, patient: UUID? = nil) -> AuditDraft {
            AuditDraft(actorID: user, action: action, resourceType: "case", patientID: patient, outcome: .success, reason: "demo_seed")
        }
        // What each board asks for: the thoracic board checks files (the indicator needs a list).
        let thoracicList = CompletenessRules([
            CompletenessItem(.tnmStaged, .required), CompletenessItem(.performanceStatus, .recommended),
            CompletenessItem(.molecularResults(sites: ["C34"]), .recommended),
        ])
        struct Board { let community: UUID; let title: String; let sites: [String]; let authors: [UUID]; let weekday: Int; let monthly: Bool }
        let boards = [
            Board(community: south, title: "RCP thoracique", sites: ["C34.1", "C34.3", "C34.9", "C50.4", "C61", "C67.9"],
                  authors: [oncologist, radiotherapist, thoracicSurgeon], weekday: 4, monthly: false),
            Board(community: north, title: "RCP digestive", sites: ["C18.7", "C20", "C16.9", "C25.0", "C22.0"], authors: [digestiveSurgeon], weekday: 2, monthly: true),
        ]
        for board in boards {
            // Patients of this board, some of whom come back.
            var pool: [UUID] = []
            for (index, name) in historyNames.enumerated() where (index % 2 == 0) == (board.community == south) || pool.count < 6 {
                let author = board.authors[index % board.authors.count]
                let identity = PatientIdentity(birthName: name.0, firstNames: name.1, birthDate: CalendarDate(year: 1940 + dice.roll(0...40), month: dice.roll(1...12), day: dice.roll(1...28))!,
                                               sex: name.2, birthPlaceCode: "33063", ins: nil, status: .provisional)
                pool.append(try await dependencies.patients.create(identity, in: board.community, by: author, careReason: "Médecin référent", localID: nil,
                                                                   audit: AuditDraft(actorID: author, action: .patientCreate, resourceType: "patient", outcome: .success,
                                                                                     reason: "demo_seed"), at: now.addingTimeInterval(-200 * 86_400)))
            }
            var day = ParisCalendar.adding(days: -182, to: today)
            var presented = 0
            while day < ParisCalendar.adding(days: -8, to: today) {
                defer { day = ParisCalendar.adding(days: board.monthly ? 28 : 7, to: day) }
                let startsAt = ParisCalendar.instant(day, LocalTime(hour: board.monthly ? 17 : 14, minute: 0)!)
                let meetingID = UUID()
                try await dependencies.meetings.create(id: meetingID, communityID: board.community, title: board.title, startsAt: startsAt,
                                                       endsAt: startsAt.addingTimeInterval(2 * 3600), place: "Salle du conseil",
                                                       completeness: board.community == south ? thoracicList : .none, at: startsAt.addingTimeInterval(-30 * 86_400))
                // The quorum is the meeting's: every decision of a meeting shares it.
                let quorum = dice.chance(90)
                for _ in 0..<dice.roll(board.monthly ? 4...7 : 2...5) {
                    let patient = pool[presented % pool.count]
                    presented += 1
                    let author = board.authors[dice.roll(0...(board.authors.count - 1))]
                    let site = board.sites[dice.roll(0...(board.sites.count - 1))]
                    let staged = dice.chance(85)
                    let content = CaseContent(
                        presentationReason: presented > pool.count ? .followUp : .initialTreatment, tumourSiteCode: site,
                        tnm: staged ? TNM(cT: "T\(dice.roll(1...3))", cN: "N\(dice.roll(0...1))", cM: "M0", edition: 8) : TNM(),
                        performanceStatusCode: dice.chance(80) ? "MED-240" : nil, summary: "Dossier de démonstration.", question: "Quelle prise en charge ?")
                    let registeredAt = startsAt.addingTimeInterval(-Double(dice.roll(2...14)) * 86_400)
                    let caseID = try await dependencies.cases.create(patientID: patient, communityID: board.community, by: author, content: content,
                                                                     audit: audit(.caseCreate, by: author, patient: patient), at: registeredAt.addingTimeInterval(-86_400))
                    try await dependencies.cases.register(id: caseID, meetingID: meetingID, from: [.draft], by: author,
                                                          audit: audit(.caseRegister, by: author, patient: patient), at: registeredAt)
                    let trial = dice.chance(12)
                    let decision = CaseDecision(proposalTypes: [[.surgery], [.chemotherapy], [.radiotherapy], [.surgery, .chemotherapy]][dice.roll(0...3)],
                                                proposal: "Proposition de démonstration.", followsGuidelines: true, trialProposed: trial,
                                                trialReference: trial ? "NCT-DEMO-\(dice.roll(1000...9999))" : nil, fileComplete: staged, quorumMet: quorum,
                                                recordedWithoutQuorum: !quorum)
                    try await dependencies.cases.recordDecision(id: caseID, decision: decision,
                                                                completeAtDiscussion: board.community == south ? staged : nil, by: coordinator,
                                                                audit: audit(.caseDecision, by: coordinator, patient: patient), at: startsAt.addingTimeInterval(3600))
                    let validatedAt = startsAt.addingTimeInterval(Double(dice.roll(0...6)) * 86_400 + 7200)
                    try await dependencies.cases.validate(id: caseID, by: coordinator, audit: audit(.caseValidate, by: coordinator, patient: patient), at: validatedAt)
                    // Most decisions older than a month are followed up by their author.
                    guard validatedAt < now.addingTimeInterval(-30 * 86_400), dice.chance(75) else { continue }
                    let roll = dice.roll(1...100)
                    let outcome: FollowUpOutcome = roll <= 82 ? .carriedOut : roll <= 92 ? .partially : .notCarriedOut
                    let first = ParisCalendar.adding(days: dice.roll(7...45), to: day)
                    try await dependencies.followUps.record(
                        DecisionFollowUp(outcome: outcome, reason: outcome == .carriedOut ? nil : "Altération de l'état général.",
                                         firstTreatmentOn: outcome == .notCarriedOut ? nil : first, carePlanGivenOn: ParisCalendar.adding(days: dice.roll(2...10), to: day)),
                        caseID: caseID, revision: 0, by: author, audit: audit(.caseFollowUp, by: author, patient: patient), at: validatedAt.addingTimeInterval(35 * 86_400))
                }
            }
        }
    }
}
