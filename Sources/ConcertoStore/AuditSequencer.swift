import ConcertoCore
import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import SQLKit
import Synchronization

/// Gives waiting audit events their place in the keyed chain, a batch at a time.
///
/// One batch is one transaction: under the head row's lock (SQLite: the write lock) it
/// takes the oldest waiting events in order of arrival, numbers and links them after the
/// head, writes the batch's Merkle root and keyed link to `audit_batches` and moves the
/// head. Two sequencers running at once therefore still build one chain (the second waits
/// for the head, then sees the events the first took as sequenced); the election below
/// only saves them the wait.
///
/// `run` keeps sealing: on SQLite in process; on PostgreSQL only while this instance holds
/// the cluster's sequencer lock, an advisory lock on a connection of its own, released by
/// the server the moment the instance or that connection dies, so another instance's
/// standby loop takes over within `standby`.
public final class AuditSequencer: Sendable {
    public let database: Database
    let batchLimit: Int
    private let leading = Atomic<Bool>(false)

    /// Whether this instance is the one sealing (always true on SQLite while `run` runs).
    public var isLeading: Bool { leading.load(ordering: .relaxed) }

    /// "audit seq" in ASCII; the migration lock is another key.
    static let lockKey: Int64 = 0x6175_6469_7473_6571

    public init(database: Database, batchLimit: Int = 1000) {
        self.database = database
        self.batchLimit = batchLimit
    }

    /// Seals every waiting event (a few batches when many wait); returns how many.
    @discardableResult
    public func sealPending(at now: Date = Date()) async throws -> Int {
        var sealed = 0
        while true {
            let count = try await sealBatch(at: now)
            sealed += count
            if count < batchLimit { return sealed }
        }
    }

    /// Seals one batch on a pooled connection; 0 when nothing waits.
    public func sealBatch(at now: Date = Date()) async throws -> Int {
        let database = database, limit = batchLimit
        guard try await database.read({ try await Self.somethingWaits(on: $0) }) else { return 0 }
        return try await database.write { try await Self.sealBatch(on: $0, database: database, limit: limit, at: now) }
    }

    static func somethingWaits(on sql: any SQLDatabase) async throws -> Bool {
        try await sql.raw("SELECT id FROM audit_events WHERE seq IS NULL LIMIT 1").first() != nil
    }

    struct Batch: Sendable, Equatable {
        var number: Int64
        var firstSequence: Int64
        var lastSequence: Int64
        var root: String
        var link: String
    }

    /// Inside a write transaction: chains up to `limit` waiting events as one batch.
    static func sealBatch(on sql: any SQLDatabase, database: Database, limit: Int, at now: Date) async throws -> Int {
        let key = try database.requireAuditKey()
        let head = try await AuditLog.readHead(on: sql, lock: database.engine == .postgres)
        let chain = try await AuditLog.readChainState(on: sql)
        let waiting = try await sql.raw("""
            SELECT id, \(unsafeRaw: AuditLog.contentColumns) FROM audit_events WHERE seq IS NULL ORDER BY id LIMIT \(literal: limit)
            """).all()
        guard !waiting.isEmpty else { return 0 }

        var sealed: [(id: Int64, event: AuditEvent)] = []
        sealed.reserveCapacity(waiting.count)
        var previous = head.hash, sequence = head.seq
        for row in waiting {
            sequence += 1
            var event = try AuditLog.event(from: row, sequence: sequence, previousHash: previous)
            event.hash = AuditLog.link(of: event, key: sequence >= chain.keyed_from ? key : nil)
            sealed.append((try row.decode(column: "id", as: Int64.self), event))
            previous = event.hash
        }
        let root = AuditMerkle.root(ofLinks: sealed.map(\.event.hash))
        let batch = Batch(number: head.batch + 1, firstSequence: head.seq + 1, lastSequence: sequence, root: root, link: "")
        let link = AuditLog.batchLink(of: batch, after: head.batch_link, key: key)

        if database.engine == .postgres {
            // One statement per 500 events rather than one per event: a round trip each.
            for chunk in stride(from: 0, to: sealed.count, by: 500).map({ sealed[$0..<min($0 + 500, sealed.count)] }) {
                var query = SQLQueryString("UPDATE audit_events AS e SET seq = v.seq, prev_hash = v.prev, hash = v.hash, batch = \(bind: batch.number) FROM (VALUES ")
                for (index, item) in chunk.enumerated() {
                    query = query + (index == 0 ? "" : ", ")
                    query = query + "(\(bind: item.id)::BIGINT, \(bind: item.event.sequence)::BIGINT, \(bind: item.event.previousHash)::TEXT, \(bind: item.event.hash)::TEXT)"
                }
                query = query + ") AS v(id, seq, prev, hash) WHERE e.id = v.id"
                try await sql.raw(query).run()
            }
        } else {
            for item in sealed {
                try await sql.raw("""
                    UPDATE audit_events SET seq = \(bind: item.event.sequence), prev_hash = \(bind: item.event.previousHash),
                        hash = \(bind: item.event.hash), batch = \(bind: batch.number) WHERE id = \(bind: item.id)
                    """).run()
            }
        }
        try await sql.raw("""
            INSERT INTO audit_batches (batch, first_seq, last_seq, root, sealed_at, link)
            VALUES (\(bind: batch.number), \(bind: batch.firstSequence), \(bind: batch.lastSequence), \(bind: root),
                    \(bind: AuditLog.recordedAtFormat.format(now)), \(bind: link))
            """).run()
        try await sql.raw("""
            UPDATE audit_head SET seq = \(bind: sequence), hash = \(bind: previous), batch = \(bind: batch.number), batch_link = \(bind: link)
            WHERE id = 1
            """).run()
        return sealed.count
    }

    /// Seals until cancelled (see the type's comment). Errors (the database restarting, a
    /// lost connection) are logged and retried after `standby`.
    public func run(interval: Duration = .milliseconds(50), standby: Duration = .seconds(1), logger: Logger) async {
        while !Task.isCancelled {
            do {
                if database.engine == .sqlite {
                    // Several processes may open one SQLite file: the one holding the
                    // file lock beside it seals (the kernel releases it when the process dies).
                    let election = try SequencerFileLock(database: database.url)
                    guard election.held else {
                        try await Task.sleep(for: standby)
                        continue
                    }
                    leading.store(true, ordering: .relaxed)
                    defer {
                        leading.store(false, ordering: .relaxed)
                        withExtendedLifetime(election) {} // the lock is held until here, throws included
                    }
                    while !Task.isCancelled {
                        if try await sealBatch() < batchLimit { try await Task.sleep(for: interval) }
                    }
                } else {
                    _ = try await database.withDedicatedConnection { sql in
                        try await self.leadWhenElected(on: sql, interval: interval, standby: standby, logger: logger)
                    }
                }
            } catch is CancellationError {
                break
            } catch {
                if leading.exchange(false, ordering: .relaxed) {
                    logger.warning("The audit sequencer lost its database connection; it will stand again", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: standby)
            }
        }
        leading.store(false, ordering: .relaxed)
    }

    private func leadWhenElected(on sql: any SQLDatabase, interval: Duration, standby: Duration, logger: Logger) async throws {
        while !Task.isCancelled {
            let elected = try await sql.raw("SELECT pg_try_advisory_lock(\(bind: Self.lockKey)) AS elected").first()?
                .decode(column: "elected", as: Bool.self) ?? false
            guard elected else {
                try await Task.sleep(for: standby)
                continue
            }
            leading.store(true, ordering: .relaxed)
            logger.info("This instance sequences the audit trail")
            let database = database, limit = batchLimit
            while !Task.isCancelled {
                var sealed = 0
                if try await Self.somethingWaits(on: sql) {
                    sealed = try await Database.transaction(on: sql, begin: database.beginStatement) {
                        try await Self.sealBatch(on: $0, database: database, limit: limit, at: Date())
                    }
                }
                if sealed < limit { try await Task.sleep(for: interval) }
            }
        }
    }
}

/// SQLite's election: an exclusive `flock` on `<database>-sequencer.lock`, held for as long
/// as this value lives (per open file, so two `Database`s of one process compete too).
/// An in-memory database has one process by definition: the lock is always held.
final class SequencerFileLock: Sendable {
    private let descriptor: Int32
    let held: Bool

    init(database: DatabaseURL) throws {
        guard case .sqliteFile(let path) = database else {
            descriptor = -1
            held = true
            return
        }
        descriptor = open(path + "-sequencer.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw AuditError.sequencerLockUnavailable(path + "-sequencer.lock") }
        held = flock(descriptor, LOCK_EX | LOCK_NB) == 0
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }
}
