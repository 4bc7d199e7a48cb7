import ConcertoCore
import ConcertoStore
import ConcertoTestSupport
import Foundation
import Testing

@Suite struct UserStoreTests {
    func makeUser(_ email: String = "dr.test@hopital.fr") -> User {
        User(email: email, displayName: "Dr Test", rppsNumber: "10101010105", specialty: "Oncologie médicale", role: .physician)
    }

    @Test func createsAndFindsAccounts() async throws {
        try await TestDatabase.withMigrated { database in
            let store = UserStore(database: database)
            let user = makeUser()
            try await store.create(user, passwordHash: "hash")
            #expect(try await store.find(id: user.id) == user)
            let found = try await store.findWithCredentials(email: "  DR.TEST@hopital.fr")
            #expect(found?.user == user)
            #expect(found?.credentials.passwordHash == "hash")
            #expect(try await store.find(id: UUID()) == nil)
            #expect(try await store.count() == 1)
        }
    }

    @Test func refusesADuplicateEmail() async throws {
        try await TestDatabase.withMigrated { database in
            let store = UserStore(database: database)
            try await store.create(makeUser(), passwordHash: "hash")
            await #expect(throws: StoreError.duplicateEmail) {
                try await store.create(makeUser(), passwordHash: "other")
            }
            #expect(try await store.count() == 1)
        }
    }

    @Test func countsFailuresUntilLockedThenResets() async throws {
        try await TestDatabase.withMigrated { database in
            let store = UserStore(database: database)
            let user = makeUser()
            try await store.create(user, passwordHash: "hash")
            let policy = LoginLockoutPolicy(maximumFailures: 2, lockDuration: .seconds(60))
            let now = Date()
            for _ in 1...2 {
                let attempt = try await store.reserveLoginAttempt(id: user.id, policy: policy, at: now)
                #expect(!policy.isLocked(attempt, at: now))
                _ = try await store.recordFailedLogin(id: user.id, attempt: attempt, policy: policy, at: now)
            }
            // The third attempt is refused before any check.
            let state = try await store.reserveLoginAttempt(id: user.id, policy: policy, at: now)
            #expect(policy.isLocked(state, at: now))
            let stored = try await store.credentials(id: user.id)?.lockout
            #expect(stored?.failedAttempts == 3)
            #expect(policy.isLocked(stored!, at: now))
            try await store.resetFailedLogins(id: user.id)
            #expect(try await store.credentials(id: user.id)?.lockout == .init(failedAttempts: 0, lockedUntil: nil))
            // A lock that ran out starts a fresh count.
            _ = try await store.recordFailedLogin(id: user.id, attempt: .init(failedAttempts: 2, lockedUntil: nil), policy: policy, at: now)
            let later = now.addingTimeInterval(61)
            let fresh = try await store.reserveLoginAttempt(id: user.id, policy: policy, at: later)
            #expect(fresh == .init(failedAttempts: 1, lockedUntil: nil))
        }
    }

    /// Attack: parallel wrong passwords each read the counter before any of them wrote it,
    /// so far more than the allowed guesses were checked. Now each attempt takes its number
    /// atomically before the check: 30 at once get no more checks than 30 in a row.
    @Test func parallelAttemptsCountAndLockLikeSequentialOnes() async throws {
        try await TestDatabase.withMigrated { database in
            let store = UserStore(database: database)
            let user = makeUser()
            try await store.create(user, passwordHash: "hash")
            let policy = LoginLockoutPolicy(maximumFailures: 5, lockDuration: .seconds(900))
            let checked = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<30 {
                    group.addTask {
                        let attempt = try await store.reserveLoginAttempt(id: user.id, policy: policy)
                        guard !policy.isLocked(attempt, at: Date()) else { return false }
                        _ = try await store.recordFailedLogin(id: user.id, attempt: attempt, policy: policy)
                        return true
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(checked == 5)
            let stored = try #require(try await store.credentials(id: user.id)?.lockout)
            #expect(policy.isLocked(stored, at: Date()))
        }
    }

    @Test func aTOTPStepCanBeUsedOnlyOnce() async throws {
        try await TestDatabase.withMigrated { database in
            let store = UserStore(database: database)
            let user = makeUser()
            try await store.create(user, passwordHash: "hash")
            try await store.setTOTPSecret(id: user.id, secret: "secret")
            #expect(try await store.find(id: user.id)?.totpEnabled == true)
            #expect(try await store.consumeTOTPStep(id: user.id, step: 100))
            #expect(try await !store.consumeTOTPStep(id: user.id, step: 100))
            #expect(try await !store.consumeTOTPStep(id: user.id, step: 99))
            #expect(try await store.consumeTOTPStep(id: user.id, step: 101))
        }
    }
}

@Suite struct CommunityStoreTests {
    @Test func listsTheCommunitiesOfAUserByName() async throws {
        try await TestDatabase.withMigrated { database in
            let users = UserStore(database: database)
            let communities = CommunityStore(database: database)
            let user = User(email: "a@b.fr", displayName: "A", rppsNumber: TestIdentifiers.rpps(1), role: .physician)
            try await users.create(user, passwordHash: "x")
            let south = Community(name: "Sud", region: "NA")
            let north = Community(name: "Nord", region: "NA")
            let other = Community(name: "Autre", region: "IDF")
            for community in [south, north, other] { try await communities.create(community) }
            try await communities.addMember(userID: user.id, to: south.id, role: .physician)
            try await communities.addMember(userID: user.id, to: north.id, role: .physician)
            #expect(try await communities.communities(ofUser: user.id).map(\.community.name) == ["Nord", "Sud"])
        }
    }

    @Test func writesAreAllOrNothing() async throws {
        try await TestDatabase.withMigrated { database in
            let communities = CommunityStore(database: database)
            let community = Community(name: "Sud", region: "NA")
            try await communities.create(community)
            // Unknown user: the foreign key refuses the membership.
            await #expect(throws: (any Error).self) {
                try await communities.addMember(userID: UUID(), to: community.id, role: .physician)
            }
            await #expect(throws: (any Error).self) {
                try await database.write { sql in
                    try await sql.raw("INSERT INTO communities (id, name, region, created_at) VALUES ('x', 'Temp', 'R', 'now')").run()
                    try await sql.raw("INSERT INTO communities (id, name, region, created_at) VALUES ('x', 'Dup', 'R', 'now')").run()
                }
            }
            struct Count: Decodable { var count: Int64 }
            let count = try await database.read { try await $0.raw("SELECT COUNT(*) AS count FROM communities").first(decoding: Count.self)?.count }
            #expect(count == 1)
        }
    }
}
