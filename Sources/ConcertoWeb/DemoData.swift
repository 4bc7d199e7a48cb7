import ConcertoCore
import ConcertoStore
import Foundation

/// Demo accounts and communities for trying Concerto; seeded only into an empty database.
public struct DemoData: Sendable {
    public struct Account: Sendable, Equatable {
        public let email: String
        public let password: String
        public let role: ProfessionalRole
        /// The exact line `make run` prints for each account.
        public var line: String { "demo account: \(email) \(password) \(role.rawValue)" }
    }

    public static let accounts: [(account: Account, name: String, specialty: String?, rpps: String?, communities: [String])] = [
        (Account(email: "admin@concerto.test", password: "Concerto-admin-2026", role: .admin),
         "Alice Administratrice", nil, nil, []),
        (Account(email: "coordination@concerto.test", password: "Concerto-coord-2026", role: .coordinator),
         "Camille Coordinatrice", "Coordination / secrétariat RCP", nil, ["RCP Nouvelle-Aquitaine Sud", "RCP Nouvelle-Aquitaine Nord"]),
        (Account(email: "oncologue@concerto.test", password: "Concerto-onco-2026", role: .physician),
         "Dr Olivier Oncologue", "Oncologie médicale", "10101010105", ["RCP Nouvelle-Aquitaine Sud"]),
        (Account(email: "chirurgienne@concerto.test", password: "Concerto-chir-2026", role: .physician),
         "Dr Claire Chirurgienne", "Chirurgie digestive", "10101010113", ["RCP Nouvelle-Aquitaine Nord"]),
        (Account(email: "secretariat@concerto.test", password: "Concerto-secr-2026", role: .secretary),
         "Sophie Secrétaire", "Secrétariat médical", nil, ["RCP Nouvelle-Aquitaine Sud"]),
    ]

    static let communities = [
        Community(name: "RCP Nouvelle-Aquitaine Sud", region: "Nouvelle-Aquitaine"),
        Community(name: "RCP Nouvelle-Aquitaine Nord", region: "Nouvelle-Aquitaine"),
    ]

    /// Seeds when the database has no account, so a restart never duplicates or resets
    /// anything. Returns the demo accounts present afterwards (seeded now or earlier).
    public static func seedIfEmpty(users: UserStore, communities communityStore: CommunityStore, passwords: PasswordHasher) async throws -> [Account] {
        guard try await users.count() == 0 else {
            var present: [Account] = []
            for entry in accounts where try await users.findWithCredentials(email: entry.account.email) != nil {
                present.append(entry.account)
            }
            return present
        }
        var communityIDs: [String: UUID] = [:]
        for community in communities {
            try await communityStore.create(community)
            communityIDs[community.name] = community.id
        }
        var created: [Account] = []
        for entry in accounts {
            let user = User(
                email: entry.account.email, displayName: entry.name, rppsNumber: entry.rpps, specialty: entry.specialty,
                role: entry.account.role, isAdmin: entry.account.role == .admin
            )
            try await users.create(user, passwordHash: try await passwords.hash(entry.account.password))
            for name in entry.communities {
                if let id = communityIDs[name] { try await communityStore.addMember(userID: user.id, to: id, role: entry.account.role) }
            }
            created.append(entry.account)
        }
        return created
    }
}
