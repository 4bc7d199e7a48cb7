import ConcertoCore
import Foundation

/// The demo's and the tests' INS verifier: answers from a file of test identities as the
/// national INSi teleservice answers for real ones (the INS exists or not; its reference
/// traits are, or are not, the identity's).
struct FixtureINSVerifier: INSVerifier {
    struct Entry: Decodable, Sendable {
        let matricule: String
        let oid: String
        let birthName: String
        let firstNames: String
        let birthDate: String
        let sex: String
    }

    struct File: Decodable { let identities: [Entry] }

    let name = "fixtures"
    let identities: [Entry]

    init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw ConfigurationError.invalid("CONCERTO_INS_FIXTURES", path) }
        identities = try JSONDecoder().decode(File.self, from: data).identities
    }

    func verify(_ ins: INS, identity: PatientIdentity) async throws -> INSVerificationResult {
        guard let reference = identities.first(where: { $0.matricule == ins.matricule && $0.oid == ins.oid }) else { return .unknown }
        var differing: [String] = []
        if PatientMatching.normalized(reference.birthName) != PatientMatching.normalized(identity.birthName) { differing.append("birth_name") }
        let firstName = reference.firstNames.split(separator: " ").first.map(String.init) ?? ""
        if PatientMatching.normalized(firstName) != PatientMatching.normalized(identity.firstName) { differing.append("first_name") }
        if reference.birthDate != identity.birthDate.iso { differing.append("birth_date") }
        if reference.sex != identity.sex.rawValue { differing.append("sex") }
        return differing.isEmpty ? .confirmed : .traitsDiffer(differing)
    }
}
