import ConcertoCore
@testable import ConcertoStore
import ConcertoTestSupport
import Crypto
import Foundation
import Logging
import SQLKit
import Testing

/// The audit write path (issue 19): group commit, the sequencer and its batches.
@Suite("Audit pipeline: group commit, sequencer, Merkle batches") struct AuditPipelineTests {
    static func draft(_ request: String) -> AuditDraft {
        AuditDraft(actorID: UUID(), action: .patientRead, resourceType: "patient", resourceID: request, patientID: UUID(),
                   outcome: .allowed, reason: "care_team", requestID: request)
    }

    static func stored(_ request: String, in database: Database) async throws -> Int {
        try await database.read { sql in
            try await sql.raw("SELECT COUNT(*) AS n FROM audit_events WHERE request_id = \(bind: request)").first()?.decode(column: "n", as: Int.self) ?? 0
        }
    }

    /// 300 requests at once: they share INSERTs and commits, and each one's event can be
    /// read from another connection the moment its `record` returns (committed, not queued).
    @Test func concurrentEventsShareCommitsAndEachIsCommittedWhenItsRequestGoesOn() async throws {
        try await TestDatabase.withMigrated { database in
            let log = AuditLog(database: database)
            let before = database.auditIntake.statistics
            let notYetVisible = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<300 {
                    group.addTask {
                        let request = "group-\(index)"
                        try await log.record(Self.draft(request))
                        return try await Self.stored(request, in: database) == 1 ? 0 : 1
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(notYetVisible == 0)
            let after = database.auditIntake.statistics
            #expect(after.events - before.events == 300)
            #expect(after.batches - before.batches < 300, "no two requests shared a commit")
            // PostgreSQL stores them for the sequencer; SQLite chains each batch as it writes it.
            let postgres = database.engine == .postgres
            #expect(try await log.verify() == .init(checked: postgres ? 0 : 300, firstBreak: nil, waiting: postgres ? 300 : 0))
            #expect(try await log.sealWaiting() == (postgres ? 300 : 0))
            #expect(try await log.verify() == .init(checked: 300, firstBreak: nil))
        }
    }

    /// A change's event lives and dies with the change's transaction, and waiting events
    /// are append-only too: only the sequencer's placing UPDATE is allowed, once.
    @Test func waitingEventsAreAppendOnlyExceptForTheirPlaceInTheChain() async throws {
        try await TestDatabase.withMigrated { database in
            let log = AuditLog(database: database)
            try await log.record(Self.draft("w1"))
            for statement: SQLQueryString in [
                "UPDATE audit_events SET outcome = 'denied' WHERE request_id = 'w1'",
                "UPDATE audit_events SET seq = 99, prev_hash = 'x', hash = 'y', batch = 1, reason = 'edited' WHERE request_id = 'w1'",
                "DELETE FROM audit_events WHERE request_id = 'w1'",
            ] {
                await #expect(throws: (any Error).self) { try await database.write { try await $0.raw(statement).run() } }
            }
            try await log.sealWaiting()
            await #expect(throws: (any Error).self) {
                try await database.write { try await $0.raw("UPDATE audit_batches SET root = 'x'").run() }
            }
            #expect(try await log.verify() == .init(checked: 1, firstBreak: nil))
        }
    }

    /// Each batch's Merkle root proves any of its events with log2(n) hashes.
    @Test func aBatchRootProvesEachOfItsEvents() async throws {
        try await TestDatabase.withMigrated { database in
            let log = AuditLog(database: database)
            // 37 events of one transaction wait for the sequencer, which seals them as one batch.
            try await database.write { sql in
                for index in 0..<37 { try await AuditLog.append(Self.draft("m\(index)"), on: sql, database: database) }
            }
            #expect(try await log.sealWaiting() == 37)
            let (links, batch) = try await database.read { sql in
                (try await sql.raw("SELECT hash FROM audit_events WHERE batch = 1 ORDER BY seq").all().map { try $0.decode(column: "hash", as: String.self) },
                 try await sql.raw("SELECT first_seq, last_seq, root FROM audit_batches WHERE batch = 1").first())
            }
            let row = try #require(batch)
            #expect(try row.decode(column: "first_seq", as: Int64.self) == 1)
            #expect(try row.decode(column: "last_seq", as: Int64.self) == 37)
            let root = try row.decode(column: "root", as: String.self)
            let leaves = links.map(AuditMerkle.leafHash(link:))
            for index in [0, 5, 31, 32, 36] {
                let proof = AuditMerkle.inclusionProof(index: index, leaves: leaves[...])
                #expect(proof.count <= 6)
                #expect(AuditMerkle.root(fromLeaf: leaves[index], index: index, count: leaves.count, proof: proof)?.hexString == root)
                // Another event, or the same one at another place, does not lead to the root.
                #expect(AuditMerkle.root(fromLeaf: leaves[(index + 1) % 37], index: index, count: leaves.count, proof: proof)?.hexString != root)
            }
        }
    }

    /// RFC 6962's tree against a direct reading of its definition, for every size to 33.
    @Test func merkleProofsMatchTheDefinition() {
        func definition(_ leaves: [AuditMerkle.Hash]) -> AuditMerkle.Hash {
            if leaves.count == 1 { return leaves[0] }
            var k = 1
            while k * 2 < leaves.count { k *= 2 }
            return Array(SHA256.hash(data: [0x01] + definition(Array(leaves[..<k])) + definition(Array(leaves[k...]))))
        }
        for count in 1...33 {
            let leaves = (0..<count).map { AuditMerkle.leafHash(link: String(format: "%064x", $0)) }
            let root = AuditMerkle.root(of: leaves[...])
            #expect(root == definition(leaves))
            for index in 0..<count {
                let proof = AuditMerkle.inclusionProof(index: index, leaves: leaves[...])
                #expect(AuditMerkle.root(fromLeaf: leaves[index], index: index, count: count, proof: proof) == root)
            }
        }
    }

    /// Editing a batch row, or moving an event into another batch, is caught even where the
    /// events' own chain still holds.
    @Test func editedBatchesAreCaught() async throws {
        try await TestDatabase.withMigrated { database in
            let log = AuditLog(database: database)
            for index in 0..<4 { try await log.record(Self.draft("b\(index)")) }
            try await log.sealWaiting()
            for index in 4..<9 { try await log.record(Self.draft("b\(index)")) }
            try await log.sealWaiting()
            try await database.write { sql in
                if database.engine == .sqlite {
                    for trigger in ["audit_events_no_update", "audit_batches_no_update", "audit_batches_no_delete"] {
                        try await sql.raw("DROP TRIGGER \(unsafeRaw: trigger)").run()
                    }
                } else {
                    try await sql.raw("DROP TRIGGER audit_events_no_update_delete ON audit_events").run()
                    try await sql.raw("DROP TRIGGER audit_batches_no_update_delete ON audit_batches").run()
                }
            }
            #expect(try await log.verify().firstBreak == nil)
            // The first batch's root swapped for the second's.
            try await database.write { sql in
                try await sql.raw("UPDATE audit_batches SET root = (SELECT root FROM audit_batches WHERE batch = 2) WHERE batch = 1").run()
            }
            #expect(try await log.verify().firstBreak == .batchAltered(batch: 1, firstSequence: 1))
        }
    }

    func withSecondInstance(of database: Database, _ body: (Database) async throws -> Void) async throws {
        let other = try await Database.open(database.url, auditKey: TestDatabase.testAuditKey, logger: TestDatabase.quietLogger)
        do { try await body(other) } catch {
            await other.shutdown()
            throw error
        }
        await other.shutdown()
    }

    static func waitUntil(_ limit: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// Two instances on one database: one sequencer is elected and seals what both append;
    /// it dies, the other takes over, and every batch verifies.
    @Test func oneSequencerIsElectedAndAnotherTakesOverWhenItDies() async throws {
        try await TestDatabase.withMigrated { database in
            try await withSecondInstance(of: database) { other in
                let logger = Logger(label: "test.sequencer")
                let first = AuditSequencer(database: database), second = AuditSequencer(database: other)
                let firstRun = Task { await first.run(interval: .milliseconds(10), standby: .milliseconds(50), logger: logger) }
                #expect(try await Self.waitUntil { first.isLeading })
                let secondRun = Task { await second.run(interval: .milliseconds(10), standby: .milliseconds(50), logger: logger) }
                let logs = [AuditLog(database: database), AuditLog(database: other)]
                for index in 0..<40 { try await logs[index % 2].record(Self.draft("e\(index)")) }
                #expect(try await Self.waitUntil { try await logs[0].verify().waiting == 0 })
                #expect(first.isLeading && !second.isLeading)

                firstRun.cancel() // the instance dies: its lock goes with it
                await firstRun.value
                #expect(try await Self.waitUntil { second.isLeading })
                for index in 40..<60 { try await logs[index % 2].record(Self.draft("e\(index)")) }
                #expect(try await Self.waitUntil { try await logs[1].verify().waiting == 0 })
                secondRun.cancel()
                await secondRun.value

                let verification = try await logs[0].verify()
                #expect(verification == .init(checked: 60, firstBreak: nil))
                let batches = try await database.read { sql in
                    try await sql.raw("SELECT COUNT(*) AS n FROM audit_batches").first()?.decode(column: "n", as: Int.self) ?? 0
                }
                #expect(batches >= 2)
            }
        }
    }

    /// Sequencers that run at once anyway (two processes before the election settles, a
    /// command sealing beside a server) still build one chain.
    @Test func concurrentSealingBuildsOneChain() async throws {
        try await TestDatabase.withMigrated { database in
            try await withSecondInstance(of: database) { other in
                let sequencers = [AuditSequencer(database: database, batchLimit: 7), AuditSequencer(database: other, batchLimit: 5)]
                let log = AuditLog(database: database)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { for index in 0..<80 { try await log.record(Self.draft("c\(index)")) } }
                    for sequencer in sequencers {
                        group.addTask { for _ in 0..<40 { _ = try await sequencer.sealBatch(); try await Task.sleep(for: .milliseconds(2)) } }
                    }
                    try await group.waitForAll()
                }
                try await log.sealWaiting()
                #expect(try await log.verify() == .init(checked: 80, firstBreak: nil))
            }
        }
    }
}
