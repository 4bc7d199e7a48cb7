import ConcertoCore
import Foundation

/// The demo's and the tests' INS verifier: answers from a file of test identities as the
/// national INSi teleservice answers for real ones (the INS exists or not; its reference
/// traits are, or are not, the identity's).
public struct FixtureINSVerifier: INSVerifier {
    struct Entry: Decodable, Sendable {
        let matricule: String
        let oid: String
        let birthName: String
        let firstNames: String
        let birthDate: String
        let sex: String
    }

    struct File: Decodable { let identities: [Entry] }

    public let name = "fixtures"
    /// The reference traits of each test INS, by matricule and OID.
    let identities: [(matricule: String, oid: String, traits: PatientIdentity)]

    /// The fixtures file could not be read: `detail` says what (no patient data: test identities).
    public struct Unreadable: Error, CustomStringConvertible {
        public let detail: String
        public var description: String { detail }
    }

    public init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw Unreadable(detail: path) }
        identities = try JSONDecoder().decode(File.self, from: data).identities.map { entry in
            guard let birthDate = CalendarDate(iso: entry.birthDate), let sex = AdministrativeSex(rawValue: entry.sex) else {
                throw Unreadable(detail: "\(path): \(entry.matricule) has an unreadable birth date or sex")
            }
            return (entry.matricule, entry.oid, PatientIdentity(birthName: entry.birthName, firstNames: entry.firstNames, birthDate: birthDate,
                                                                sex: sex, status: .qualified))
        }
    }

    public func verify(_ ins: INS, identity: PatientIdentity) async throws -> INSVerificationResult {
        guard let reference = identities.first(where: { $0.matricule == ins.matricule && $0.oid == ins.oid }) else { return .unknown }
        // The same comparison as a trusted hospital's document gets.
        let differing = IdentityStatusRules.differingTraits(reference.traits, identity)
        return differing.isEmpty ? .confirmed : .traitsDiffer(differing)
    }
}
