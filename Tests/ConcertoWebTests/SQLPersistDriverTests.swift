import ConcertoStore
import ConcertoTestSupport
@testable import ConcertoWeb
import Foundation
import Hummingbird
import Testing

@Suite struct SQLPersistDriverTests {
    struct Value: Codable, Sendable, Equatable { var n: Int }

    @Test func storesReadsAndRemovesValues() async throws {
        try await TestDatabase.withMigrated { database in
            let driver = SQLPersistDriver(database: database)
            try await driver.set(key: "k", value: Value(n: 1), expires: .seconds(60))
            #expect(try await driver.get(key: "k", as: Value.self) == Value(n: 1))
            let ttl = try await driver.getWithTTL(key: "k", as: Value.self)?.ttl
            // Rounded up to the whole second, never longer than asked (the lower bound leaves
            // room for a loaded machine between the two calls).
            #expect(ttl != nil && ttl! <= .seconds(61) && ttl! >= .seconds(45))
            try await driver.set(key: "k", value: Value(n: 2), expires: nil)
            // A nil expiry keeps the stored one.
            #expect(try await driver.getWithTTL(key: "k", as: Value.self)?.ttl != nil)
            #expect(try await driver.get(key: "k", as: Value.self) == Value(n: 2))
            try await driver.remove(key: "k")
            #expect(try await driver.get(key: "k", as: Value.self) == nil)
        }
    }

    @Test func createRefusesALiveKey() async throws {
        try await TestDatabase.withMigrated { database in
            let driver = SQLPersistDriver(database: database)
            try await driver.create(key: "k", value: Value(n: 1), expires: nil)
            await #expect(throws: PersistError.duplicate) {
                try await driver.create(key: "k", value: Value(n: 2), expires: nil)
            }
        }
    }

    @Test func expiredValuesAreGoneAndSwept() async throws {
        try await TestDatabase.withMigrated { database in
            let driver = SQLPersistDriver(database: database)
            try await driver.set(key: "old", value: Value(n: 1), expires: .seconds(-1))
            try await driver.set(key: "live", value: Value(n: 2), expires: .seconds(600))
            #expect(try await driver.get(key: "old", as: Value.self) == nil)
            #expect(try await driver.sweepExpired() == 1)
            #expect(try await driver.get(key: "live", as: Value.self) == Value(n: 2))
        }
    }

    @Test func aValueOfAnotherShapeIsAConversionError() async throws {
        struct Other: Codable, Sendable { var name: String }
        try await TestDatabase.withMigrated { database in
            let driver = SQLPersistDriver(database: database)
            try await driver.set(key: "k", value: Value(n: 1), expires: nil)
            await #expect(throws: PersistError.invalidConversion) {
                try await driver.get(key: "k", as: Other.self)
            }
        }
    }
}
