import ConcertoCore
@testable import ConcertoStore
import ConcertoTestSupport
import Crypto
import Foundation
import SQLKit
import Testing

/// Attacks by whoever can write the database (its owner, a DBA, a stolen backup restored):
/// each one was invisible to the unkeyed chain with its head in the same database, and
/// must now be caught by `verify` against the signed checkpoints kept outside it.
@Suite("Security: audit trail against the database's owner") struct AuditTamperTests {
    /// A migrated database whose chain is bound to the test key, with `events` events and a
    /// signed checkpoint of them in a fresh folder.
    func withPinnedTrail(events: Int = 12, _ body: (Database, AuditLog, AuditCheckpointDirectory) async throws -> Void) async throws {
        try await TestDatabase.withMigrated { database in
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("concerto-checkpoints-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: folder) }
            let log = AuditLog(database: database), directory = AuditCheckpointDirectory(path: folder.path)
            try await log.bindKey()
            try await fill(log, count: events - 1)
            try await log.checkpoint(into: directory)
            let intact = try await log.verify(checkpoints: directory)
            #expect(intact == .init(checked: events, firstBreak: nil, checkpoints: 1))
            try await dropAppendOnlyGuards(database)
            try await body(database, log, directory)
        }
    }

    func fill(_ log: AuditLog, count: Int) async throws {
        for index in 0..<count {
            try await log.record(AuditDraft(actorID: UUID(), action: .patientRead, resourceType: "patient", resourceID: "r\(index)",
                                            patientID: UUID(), outcome: .allowed, reason: "care_team"))
        }
        try await log.sealWaiting()
    }

    /// What someone with rights on the schema does first.
    func dropAppendOnlyGuards(_ database: Database) async throws {
        try await database.write { sql in
            if database.engine == .sqlite {
                for trigger in ["audit_events_no_update", "audit_events_no_delete", "audit_batches_no_update", "audit_batches_no_delete"] {
                    try await sql.raw("DROP TRIGGER \(unsafeRaw: trigger)").run()
                }
            } else {
                try await sql.raw("DROP TRIGGER audit_events_no_update_delete ON audit_events").run()
                try await sql.raw("DROP TRIGGER audit_batches_no_update_delete ON audit_batches").run()
            }
        }
    }

    func events(_ database: Database) async throws -> [AuditEvent] {
        try await database.read { sql in
            try await sql.raw("SELECT \(unsafeRaw: AuditLog.columns) FROM audit_events ORDER BY seq").all().map(AuditLog.event(from:))
        }
    }

    /// Writes an event with its place in the chain, as an attacker (or an older version) would.
    static func insertChained(_ event: AuditEvent, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            INSERT INTO audit_events (seq, recorded_at, actor_id, organisation_id, action, resource_type, resource_id,
                patient_id, access_mode, outcome, reason, client_address, request_id, prev_hash, hash)
            VALUES (\(bind: event.sequence), \(bind: event.recordedAt), \(bind: event.actorID), \(bind: event.organisationID),
                \(bind: event.action), \(bind: event.resourceType), \(bind: event.resourceID), \(bind: event.patientID),
                \(bind: event.mode), \(bind: event.outcome), \(bind: event.reason), \(bind: event.clientAddress),
                \(bind: event.requestID), \(bind: event.previousHash), \(bind: event.hash))
            """).run()
    }

    /// The attacker's tool: rewrites every event's links from the first one on, as `link`
    /// computes them, drops the batches (their keyed links cannot be recomputed) and moves
    /// the head to the end, all with plain SQL.
    func relink(_ database: Database, edit: (inout AuditEvent) -> Void = { _ in }, link: (AuditEvent) -> String) async throws {
        var previous = AuditEvent.genesisHash
        var rewritten: [AuditEvent] = []
        for var event in try await events(database) {
            edit(&event)
            event.previousHash = previous
            event.hash = link(event)
            previous = event.hash
            rewritten.append(event)
        }
        let final = rewritten, head = previous
        try await database.write { sql in
            try await sql.raw("DELETE FROM audit_events").run()
            try await sql.raw("DELETE FROM audit_batches").run()
            for event in final { try await Self.insertChained(event, on: sql) }
            try await sql.raw("UPDATE audit_head SET seq = \(bind: final.last?.sequence ?? 0), hash = \(bind: head) WHERE id = 1").run()
        }
    }

    /// Deletes the events after `last` and moves the head back onto it: the chain alone
    /// is consistent again.
    func deleteTheEndAndRewindTheHead(_ database: Database, keeping last: Int64) async throws {
        let kept = try #require(try await events(database).first { $0.sequence == last })
        try await database.write { sql in
            try await sql.raw("DELETE FROM audit_events WHERE seq > \(bind: last)").run()
            try await sql.raw("UPDATE audit_head SET seq = \(bind: last), hash = \(bind: kept.hash) WHERE id = 1").run()
        }
    }

    @Test func anEditedEventIsCaught() async throws {
        try await withPinnedTrail { database, log, directory in
            try await database.write { try await $0.raw("UPDATE audit_events SET outcome = 'denied' WHERE seq = 4").run() }
            #expect(try await log.verify(checkpoints: directory).firstBreak == .altered(sequence: 4))
        }
    }

    @Test func anEditedEventWithTheChainRecomputedWithoutTheKeyIsCaught() async throws {
        try await withPinnedTrail { database, log, directory in
            // Plain SHA-256 links, as the chain had before it was keyed: consistent, but not keyed.
            try await relink(database, edit: { if $0.sequence == 4 { $0.outcome = "denied" } }, link: { AuditLog.link(of: $0, key: nil) })
            #expect(try await log.verify().firstBreak == .altered(sequence: 1))
            // Relabelling the whole chain as pre-key and pre-batch does not help: the checkpoints carry the boundary.
            try await database.write { try await $0.raw("UPDATE audit_chain SET keyed_from = 1000, batched_from = 1000 WHERE id = 1").run() }
            #expect(try await log.verify().firstBreak == nil) // what today's verify would have said
            #expect(try await log.verify(checkpoints: directory).firstBreak == .boundaryMoved(database: 1000, checkpoints: 1))
        }
    }

    @Test func aChainRecomputedUnderAnotherKeyIsCaught() async throws {
        try await withPinnedTrail { database, log, directory in
            let guessed = AuditKey.random()
            try await relink(database, edit: { if $0.sequence == 7 { $0.reason = "break_the_glass" } }, link: { AuditLog.link(of: $0, key: guessed) })
            #expect(try await log.verify(checkpoints: directory).firstBreak == .altered(sequence: 1))
        }
    }

    @Test func eventsDeletedInTheMiddleAreCaught() async throws {
        try await withPinnedTrail { database, log, directory in
            try await database.write { try await $0.raw("DELETE FROM audit_events WHERE seq IN (5, 6)").run() }
            #expect(try await log.verify(checkpoints: directory).firstBreak == .missing(sequence: 5))
        }
    }

    @Test func eventsDeletedAtTheTailAreCaught() async throws {
        try await withPinnedTrail { database, log, directory in
            try await database.write { try await $0.raw("DELETE FROM audit_events WHERE seq >= 10").run() }
            #expect(try await log.verify(checkpoints: directory).firstBreak == .truncated(lastPresent: 9, expected: 12))
        }
    }

    @Test func aRewoundHeadIsCaught() async throws {
        try await withPinnedTrail { database, log, directory in
            // The last three events deleted, the head back on the ninth.
            try await deleteTheEndAndRewindTheHead(database, keeping: 9)
            // The batch that held events 1 to 12 still says so: the chain's own batches tell,
            // unless the cut falls between batches; the checkpoint tells in every case.
            #expect(try await log.verify().firstBreak == .truncated(lastPresent: 9, expected: 12))
            #expect(try await log.verify(checkpoints: directory).firstBreak == .truncated(lastPresent: 9, expected: 12))
        }
    }

    @Test func aRewoundAndRewrittenTailIsCaught() async throws {
        try await withPinnedTrail { database, log, directory in
            // The server appends on (its key in memory) after the rewind: the chain is whole
            // and keyed, but not the one the checkpoint signed.
            try await deleteTheEndAndRewindTheHead(database, keeping: 9)
            try await appendAsTheServerWould(database, log, count: 5)
            // Events 10 on now sit in a second batch, where the first batch claims them.
            #expect(try await log.verify().firstBreak == .unbatched(sequence: 10))
            #expect(try await log.verify(checkpoints: directory).firstBreak == .unbatched(sequence: 10))
            // The attacker who also removes the first batch (and so unbatches 1 to 9) and
            // relabels the chain as older than batches is left with the checkpoint to face.
            try await database.write { sql in
                try await sql.raw("DELETE FROM audit_batches").run()
                try await sql.raw("UPDATE audit_chain SET batched_from = 1000 WHERE id = 1").run()
            }
            #expect(try await log.verify().firstBreak == nil)
            #expect(try await log.verify(checkpoints: directory).firstBreak == .rewritten(sequence: 12))
        }
    }

    /// Appends as the server does (its key in memory), and sequences.
    func appendAsTheServerWould(_ database: Database, _ log: AuditLog, count: Int) async throws {
        for index in 0..<count {
            try await log.record(AuditDraft(actorID: nil, action: .logout, resourceType: "session", resourceID: "t\(index)", outcome: .success))
        }
        try await log.sealWaiting()
    }

    @Test func forgedOrRemovedCheckpointsAreCaught() async throws {
        try await withPinnedTrail { database, log, directory in
            let file = try #require(try directory.readAll().first)
            let path = URL(fileURLWithPath: directory.path).appendingPathComponent(file.name).path
            // A checkpoint signed with another key, rewound to an earlier head.
            let forged = AuditCheckpoint.signed(sequence: 3, headHash: String(repeating: "a", count: 64), keyedFrom: 1,
                                                recordedAt: "2026-12-01T00:00:00.000Z", key: AuditKey.random())
            try forged.fileText.write(toFile: directory.path + "/00000000000000000003-0000000000001.checkpoint", atomically: true, encoding: .utf8)
            #expect(try await log.verify(checkpoints: directory).firstBreak == .badCheckpoint(file: "00000000000000000003-0000000000001.checkpoint"))
            // An edited one (the sequence moved back) no longer carries a valid signature.
            try FileManager.default.removeItem(atPath: directory.path + "/00000000000000000003-0000000000001.checkpoint")
            chmod(path, 0o600)
            let edited = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: "sequence 12", with: "sequence 9")
            try edited.write(toFile: path, atomically: true, encoding: .utf8)
            #expect(try await log.verify(checkpoints: directory).firstBreak == .badCheckpoint(file: file.name))
            // And none at all is a failure, not a pass.
            try FileManager.default.removeItem(atPath: directory.path)
            #expect(try await log.verify(checkpoints: directory).firstBreak == .noCheckpoint)
        }
    }

    @Test func aServerWithAnotherKeyFileRefusesToAppendToTheChain() async throws {
        try await TestDatabase.withMigrated { database in
            try await AuditLog(database: database).bindKey()
            try await withDatabase(sharing: database, key: AuditKey.random()) { other in
                await #expect(throws: AuditError.self) { try await AuditLog(database: other).bindKey() }
            }
        }
    }

    func withDatabase(sharing database: Database, key: AuditKey, _ body: (Database) async throws -> Void) async throws {
        let other = try await Database.open(database.url, auditKey: key, logger: TestDatabase.quietLogger)
        do { try await body(other) } catch {
            await other.shutdown()
            throw error
        }
        await other.shutdown()
    }

    /// A trail written before the chain was keyed: its events keep their plain links up to
    /// the boundary the migration marked, the key's first event marks it, and both parts
    /// are checked.
    @Test func aMigratedTrailIsKeyedFromAMarkedBoundary() async throws {
        try await TestDatabase.withFresh { database in
            let legacy = FileManager.default.temporaryDirectory.appendingPathComponent("concerto-legacy-migrations-\(UUID().uuidString)")
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("concerto-checkpoints-\(UUID().uuidString)")
            defer {
                try? FileManager.default.removeItem(at: legacy)
                try? FileManager.default.removeItem(at: folder)
            }
            try FileManager.default.createDirectory(at: legacy, withIntermediateDirectories: true)
            for name in try FileManager.default.contentsOfDirectory(atPath: Repository.migrations.path) where name < "0013" {
                try FileManager.default.copyItem(at: Repository.migrations.appendingPathComponent(name), to: legacy.appendingPathComponent(name))
            }
            try await Migrator(directory: legacy, engine: database.engine, logger: TestDatabase.quietLogger).migrate(database)
            // Five events as the previous version wrote them: plain SHA-256 links.
            var previous = AuditEvent.genesisHash
            for sequence in Int64(1)...5 {
                var event = AuditEvent(sequence: sequence, recordedAt: "2026-11-30T10:00:0\(sequence).000Z", actorID: nil, organisationID: nil,
                                       action: "login.success", resourceType: "session", resourceID: nil, patientID: nil, mode: "normal",
                                       outcome: "success", reason: nil, clientAddress: nil, requestID: nil, previousHash: previous, hash: "")
                event.hash = AuditLog.link(of: event, key: nil)
                previous = event.hash
                let final = event
                try await database.write { try await Self.insertChained(final, on: $0) }
            }
            try await Migrator(directory: Repository.migrations, engine: database.engine, logger: TestDatabase.quietLogger).migrate(database)
            let log = AuditLog(database: database), directory = AuditCheckpointDirectory(path: folder.path)
            #expect(try await log.bindKey())
            #expect(try await log.bindKey() == false) // once
            try await fill(log, count: 3)
            try await log.checkpoint(into: directory)
            let marker = try #require(try await events(database).first { $0.sequence == 6 })
            #expect(marker.action == "audit.key_bound")
            #expect(marker.reason == "keyed_from:6")
            #expect(try await log.verify(checkpoints: directory) == .init(checked: 9, firstBreak: nil, checkpoints: 1))
            try await dropAppendOnlyGuards(database)
            try await database.write { try await $0.raw("UPDATE audit_events SET outcome = 'failure' WHERE seq = 2").run() }
            #expect(try await log.verify(checkpoints: directory).firstBreak == .altered(sequence: 2))
        }
    }

    @Test func checkpointsReadBackAndAreNotRewrittenForAnUnmovedHead() async throws {
        try await withPinnedTrail(events: 3) { _, log, directory in
            #expect(try await log.checkpoint(into: directory) == nil)
            let files = try directory.readAll()
            #expect(files.count == 1)
            let checkpoint = try #require(files.first?.checkpoint)
            #expect(checkpoint.sequence == 3)
            #expect(checkpoint.isSigned(by: TestDatabase.testAuditKey.publicKey))
            #expect(AuditCheckpoint(parsing: checkpoint.fileText) == checkpoint)
            #expect(AuditCheckpoint(parsing: checkpoint.fileText + "extra\n") == nil)
        }
    }

    /// The link is the standard HMAC-SHA256, under the key HKDF derives from the file's
    /// secret: anyone holding the key file can check it with any tool.
    @Test func aLinkIsHMACSHA256UnderTheDerivedKey() throws {
        let secret = Data((0..<32).map { UInt8($0) })
        let key = try AuditKey(secret: secret)
        let event = AuditEvent(sequence: 7, recordedAt: "2026-12-01T10:00:00.000Z", actorID: "a", organisationID: nil, action: "patient.read",
                               resourceType: "patient", resourceID: "p", patientID: "p", mode: "normal", outcome: "allowed", reason: "care_team",
                               clientAddress: "127.0.0.1", requestID: "r", previousHash: AuditEvent.genesisHash, hash: "")
        let derived = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: secret), info: Data("concerto audit chain v2".utf8), outputByteCount: 32)
        let expected = HMAC<SHA256>.authenticationCode(for: event.canonicalEncoding(keyed: true), using: derived).map { String(format: "%02x", $0) }.joined()
        #expect(AuditLog.link(of: event, key: key) == expected)
        #expect(AuditLog.link(of: event, key: key) == AuditLog.link(of: event, key: key)) // the prepared MAC is copied, not consumed
        #expect(AuditLog.link(of: event, key: nil) == SHA256.hash(data: event.canonicalEncoding(keyed: false)).map { String(format: "%02x", $0) }.joined())
        #expect(throws: AuditKeyError.self) { try AuditKey(secret: Data(count: 16)) }
    }

    @Test func theKeyFileIsCreatedForItsOwnerOnlyAndRefusedWhenOthersMayReadIt() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("concerto-key-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("audit.key").path
        #expect(throws: AuditKeyError.missing(path)) { try AuditKey.load(path: path, create: false) }
        let (created, isNew) = try AuditKey.load(path: path, create: true)
        #expect(isNew)
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        #expect(mode == 0o600)
        let (again, isNewAgain) = try AuditKey.load(path: path, create: true)
        #expect(!isNewAgain)
        #expect(again.id == created.id)
        chmod(path, 0o644)
        #expect(throws: AuditKeyError.tooOpen(path)) { try AuditKey.load(path: path, create: false) }
    }
}
