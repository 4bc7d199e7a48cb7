import ConcertoCore
import ConcertoStore
import Foundation
import Logging

/// The access facts of a list's rows (the agenda's 40 patients), as the agenda and the
/// dashboard load them: the whole call, and the query alone, per call. Runs on a database
/// prepared by `seed-agenda` (`--database`, the server's, stopped).
enum ListFactsBench {
    static func run(_ options: Options) async throws {
        try await withServerDatabase(options) { database in
            let communities = CommunityStore(database: database), meetings = MeetingStore(database: database)
            let users = UserStore(database: database), care = CareStore(database: database)
            guard let south = try await communities.all().first(where: { $0.name == "RCP Nouvelle-Aquitaine Sud" }),
                  let reader = try await users.findWithCredentials(email: "oncologue@concerto.test")?.user,
                  let meeting = try await meetings.meetings(inCommunities: [south.id], from: Date(), to: Date().addingTimeInterval(14 * 86_400)).first
            else { throw BenchError.missingFacts }
            let patients = try await meetings.agenda(of: meeting.id).map(\.patientID)
            let clock = ContinuousClock()
            var whole: [Double] = []
            for _ in 0..<options.iterations {
                let start = clock.now
                let facts = try await care.accessFacts(userID: reader.id, patientIDs: patients)
                whole.append(milliseconds(clock.now - start))
                precondition(facts.count == patients.count)
            }
            whole.sort()
            print(String(format: "list access facts (%d patients): p50 %.3f ms, p99 %.3f ms per call", patients.count,
                         percentile(whole, 0.5), percentile(whole, 0.99)))
        }
    }
}
