import ConcertoCore
import ConcertoStore
import Foundation
import Logging

/// Fills the demo's next southern board up to 40 registered cases (new patients with a
/// complete fiche), so `scripts/bench/run` can load a full agenda page; prints its path.
enum AgendaSeed {
    static func run(_ options: Options) async throws {
        try await withServerDatabase(options) { database in
            let communities = CommunityStore(database: database), meetings = MeetingStore(database: database)
            let users = UserStore(database: database), cases = CaseStore(database: database), patients = PatientStore(database: database)
            guard let south = try await communities.all().first(where: { $0.name == "RCP Nouvelle-Aquitaine Sud" }),
                  let author = try await users.findWithCredentials(email: "oncologue@concerto.test")?.user,
                  let meeting = try await meetings.meetings(inCommunities: [south.id], from: Date(), to: Date().addingTimeInterval(14 * 86_400)).first else {
                throw BenchError.missingFacts
            }
            let audit = AuditDraft(actorID: author.id, action: .caseRegister, resourceType: "case", outcome: .success, reason: "bench_seed")
            let sites = ["C34.1", "C50.4", "C18.7", "C61", "C25.0", "C67.9", "C64", "C16.9"]
            for index in try await meetings.agenda(of: meeting.id).count..<40 {
                let identity = PatientIdentity(birthName: "AGENDA\(index)", firstNames: "Patient", birthDate: CalendarDate(year: 1950 + index, month: 3, day: 1)!,
                                               sex: index % 2 == 0 ? .female : .male, status: .provisional)
                let patient = try await patients.create(identity, in: south.id, by: author.id, careReason: "Référent", localID: nil,
                                                        audit: AuditDraft(actorID: author.id, action: .patientCreate, resourceType: "patient", outcome: .success))
                let caseID = try await cases.create(patientID: patient, communityID: south.id, by: author.id, content: CaseContent(
                    tumourSiteCode: sites[index % sites.count], summary: "Dossier de charge numéro \(index).", question: "Quelle stratégie ?"), audit: audit)
                try await cases.register(id: caseID, meetingID: meeting.id, from: [.draft], by: author.id, audit: audit)
                if options.decide {
                    // Decided and validated, for the minutes and fiche exports' benchmark.
                    try await cases.recordDecision(id: caseID, decision: CaseDecision(
                        proposalTypes: [.chemotherapy, .radiotherapy], proposal: "Proposition détaillée pour le dossier \(index). " + String(repeating: "Modalités et suivi. ", count: 12),
                        followsGuidelines: true, trialProposed: index % 3 == 0, trialReference: index % 3 == 0 ? "NCT-\(index)" : nil, fileComplete: true,
                        quorumMet: true), by: author.id, audit: audit)
                    try await cases.validate(id: caseID, by: author.id, audit: audit)
                }
            }
            print(options.decide ? "/meetings/\(meeting.id.storageKey)" : "/meetings/\(meeting.id.storageKey)/agenda")
        }
    }
}
