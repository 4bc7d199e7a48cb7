import ConcertoCore
import ConcertoSQLite
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
/// A batch is read and chained outside any lock (the oldest waiting events in order of
/// arrival, numbered and linked after the head, their Merkle root and the batch's keyed
/// link), then applied in one transaction under the head row's lock (SQLite: the write
/// lock) only if the head has not moved meanwhile: the events, `audit_batches` and the
/// head together. Two sequencers running at once therefore still build one chain (the
/// second finds the head moved and chains again after it); the election below only saves
/// them the wasted work.
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

    /// Seals one batch on pooled connections; 0 when nothing waits.
    public func sealBatch(at now: Date = Date()) async throws -> Int {
        let database = database, limit = batchLimit
        while true {
            guard let batch = try await database.read({ try await Self.prepareBatch(on: $0, database: database, limit: limit, at: now) }) else {
                return 0
            }
            if try await database.write({ try await Self.apply(batch, on: $0, database: database) }) { return batch.events.count }
            // Another sequencer moved the head meanwhile: prepare again after it.
        }
    }

    struct Batch: Sendable, Equatable {
        var number: Int64
        var firstSequence: Int64
        var lastSequence: Int64
        var root: String
        var link: String
    }

    /// A batch chained outside any lock, to be applied only if the head has not moved.
    struct PreparedBatch: Sendable {
        var after: AuditLog.Head
        var batch: Batch
        var events: [(id: Int64, event: AuditEvent)]
        var sealedAt: String
    }

    /// Reads the head and the oldest waiting events and chains them, without locking: the
    /// decoding, hashing and Merkle tree are done before the write lock is taken, so
    /// writers wait only for the statements that apply them. Nil when nothing waits.
    static func prepareBatch(on sql: any SQLDatabase, database: Database, limit: Int, at now: Date) async throws -> PreparedBatch? {
        let key = try database.requireAuditKey()
        // The head first: on PostgreSQL each read is its own snapshot, and events another
        // sequencer seals after this read move the head, so `apply` refuses the batch. Read
        // the other way round, events sealed between the two reads were chained again after
        // the new head, and placing them a second time failed on the append-only trigger.
        let head = try await AuditLog.readHead(on: sql, lock: false)
        let waiting = try await readWaiting(on: sql, limit: limit)
        guard !waiting.events.isEmpty else { return nil }
        let chain = try await AuditLog.readChainState(on: sql)
        return Self.chain(waiting.events, ids: waiting.ids, after: head, keyedFrom: chain.keyed_from, key: key, at: now)
    }

    /// The oldest waiting events (all of them without a limit), in order of arrival: their
    /// content and their row ids.
    static func readWaiting(on sql: any SQLDatabase, limit: Int?) async throws -> (events: [AuditEvent], ids: [Int64]) {
        var query = SQLQueryString("SELECT id, \(unsafeRaw: AuditLog.contentColumns) FROM audit_events WHERE seq IS NULL ORDER BY id")
        if let limit { query = query + " LIMIT \(literal: limit)" }
        let rows = try await sql.raw(query).all()
        return (try rows.map { try AuditLog.event(from: $0, sequence: 0, previousHash: "") }, try rows.map { try $0.decode(column: "id", as: Int64.self) })
    }

    /// Numbers and links `events` (their content) after `head`, as one batch.
    static func chain(_ events: [AuditEvent], ids: [Int64], after head: AuditLog.Head, keyedFrom: Int64, key: AuditKey, at now: Date) -> PreparedBatch {
        var sealed: [(id: Int64, event: AuditEvent)] = []
        sealed.reserveCapacity(events.count)
        var previous = head.hash, sequence = head.seq
        for (index, var event) in events.enumerated() {
            sequence += 1
            event.sequence = sequence
            event.previousHash = previous
            event.hash = AuditLog.link(of: event, key: sequence >= keyedFrom ? key : nil)
            sealed.append((ids[index], event))
            previous = event.hash
        }
        var batch = Batch(number: head.batch + 1, firstSequence: head.seq + 1, lastSequence: sequence,
                          root: AuditMerkle.root(ofLinks: sealed.map(\.event.hash)), link: "")
        batch.link = AuditLog.batchLink(of: batch, after: head.batch_link, key: key)
        return PreparedBatch(after: head, batch: batch, events: sealed, sealedAt: AuditLog.recordedAtFormat.format(now))
    }

    /// SQLite's group commit, inside its write transaction: one process writes at a time
    /// (the file's write lock), so the batch is chained as it is written, its events
    /// stored already sequenced, with their batch and the head, rather than stored and
    /// then updated by the sequencer. Events a change appended in its own transaction
    /// (`AuditLog.append`) still wait for the sequencer, and are chained after these.
    static func appendSealed(_ arriving: [AuditLog.WaitingEvent], on sql: any SQLDatabase, database: Database) async throws {
        let key = try database.requireAuditKey()
        // Events changes appended since the last batch come first: the chain keeps the
        // order of arrival. Usually none (an index probe on `seq IS NULL`).
        let waiting = try await readWaiting(on: sql, limit: nil)
        let head = try await AuditLog.readHead(on: sql, lock: false)
        let chainState = try await AuditLog.readChainState(on: sql)
        let prepared = chain(waiting.events + arriving.map(\.event), ids: waiting.ids + Array(repeating: 0, count: arriving.count), after: head,
                             keyedFrom: chainState.keyed_from, key: key, at: Date())
        try await placeWaiting(prepared.events.prefix(waiting.ids.count), in: prepared.batch, on: sql, database: database)
        try await AuditLog.insert(prepared.events.dropFirst(waiting.ids.count).map(\.event), sealedIn: prepared.batch.number, on: sql)
        try await record(prepared, on: sql)
    }

    /// Gives waiting events their place: one statement per 500 events rather than one per
    /// event, since inside the head's lock every statement is a wait for other requests
    /// (on SQLite, for every writer).
    static func placeWaiting(_ sealed: ArraySlice<(id: Int64, event: AuditEvent)>, in batch: Batch, on sql: any SQLDatabase, database: Database) async throws {
        let cast = database.engine == .postgres
        for start in stride(from: sealed.startIndex, to: sealed.endIndex, by: 500) {
            var query = SQLQueryString("WITH v (id, seq, prev, hash) AS (VALUES ")
            for (index, item) in sealed[start..<min(start + 500, sealed.endIndex)].enumerated() {
                query = query + (index == 0 ? "" : ", ")
                query = cast
                    ? query + "(\(bind: item.id)::BIGINT, \(bind: item.event.sequence)::BIGINT, \(bind: item.event.previousHash)::TEXT, \(bind: item.event.hash)::TEXT)"
                    : query + "(\(bind: item.id), \(bind: item.event.sequence), \(bind: item.event.previousHash), \(bind: item.event.hash))"
            }
            query = query + ") UPDATE audit_events SET seq = v.seq, prev_hash = v.prev, hash = v.hash, batch = \(bind: batch.number) FROM v WHERE audit_events.id = v.id"
            try await sql.raw(query).run()
        }
    }

    /// Inside a write transaction: applies the batch if the head is still the one it was
    /// chained after (its events are then still waiting: every sealing moves the head);
    /// false, applying nothing, if another sequencer moved it.
    static func apply(_ prepared: PreparedBatch, on sql: any SQLDatabase, database: Database) async throws -> Bool {
        let head = try await AuditLog.readHead(on: sql, lock: database.engine == .postgres)
        guard head.seq == prepared.after.seq, head.hash == prepared.after.hash, head.batch == prepared.after.batch else { return false }
        try await placeWaiting(prepared.events[...], in: prepared.batch, on: sql, database: database)
        try await record(prepared, on: sql)
        return true
    }

    /// The batch's row and the head moved onto its last event.
    static func record(_ prepared: PreparedBatch, on sql: any SQLDatabase) async throws {
        let batch = prepared.batch
        try await sql.raw("""
            INSERT INTO audit_batches (batch, first_seq, last_seq, root, sealed_at, link)
            VALUES (\(bind: batch.number), \(bind: batch.firstSequence), \(bind: batch.lastSequence), \(bind: batch.root),
                    \(bind: prepared.sealedAt), \(bind: batch.link))
            """).run()
        try await sql.raw("""
            UPDATE audit_head SET seq = \(bind: batch.lastSequence), hash = \(bind: prepared.events[prepared.events.count - 1].event.hash),
                batch = \(bind: batch.number), batch_link = \(bind: batch.link)
            WHERE id = 1
            """).run()
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
                    _ = try await database.withDedicatedConnection { connection in
                        try await self.leadWhenElected(on: connection, interval: interval, standby: standby, logger: logger)
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

    private func leadWhenElected(on connection: DedicatedConnection, interval: Duration, standby: Duration, logger: Logger) async throws {
        let database = database, limit = batchLimit
        // Each exchange bounded (`DedicatedConnection.exchange`): a lost server shows as an
        // error within seconds, and the loop stands again on a new connection.
        let bound = Duration.seconds(5)
        while !Task.isCancelled {
            let elected = try await connection.exchange(within: bound) { sql in
                try await sql.raw("SELECT pg_try_advisory_lock(\(bind: Self.lockKey)) AS elected").first()?.decode(column: "elected", as: Bool.self) ?? false
            }
            guard elected else {
                try await Task.sleep(for: standby)
                continue
            }
            leading.store(true, ordering: .relaxed)
            logger.info("This instance sequences the audit trail")
            while !Task.isCancelled {
                let sealed = try await connection.exchange(within: database.postgresDeadline ?? bound) { sql -> Int in
                    guard let batch = try await Self.prepareBatch(on: sql, database: database, limit: limit, at: Date()),
                          try await sql.inTransaction(begin: database.beginStatement, { try await Self.apply(batch, on: $0, database: database) })
                    else { return 0 }
                    return batch.events.count
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
