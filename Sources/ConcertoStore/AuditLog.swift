import ConcertoCore
import Crypto
import Foundation
import SQLKit
import Synchronization

/// The append-only, keyed and hash-chained audit trail.
///
/// Each event's link is HMAC-SHA256, under the audit key (`AuditKey`, a file outside the
/// database), of the previous link and the event's canonical encoding; events recorded
/// before the chain was keyed (`audit_chain.keyed_from`) keep their plain SHA-256 links.
/// `audit_head` keeps the last sequence number and link, moved by a trigger within each
/// INSERT. An audited change appends its event in its own write transaction, so both land
/// together; concurrent appends (several server instances on PostgreSQL) queue on the head
/// row's lock. Signed checkpoints (`AuditCheckpoint`) written outside the database pin the
/// chain, so deleting its end, rewinding the head or recomputing it all show.
public struct AuditLog: Sendable {
    let database: Database
    /// SQLite: the last link this process wrote, so a standalone append is one INSERT.
    /// Only `record` sets it, after its INSERT landed; when another writer (a transaction
    /// here, another process) appended since, the INSERT hits the sequence number's
    /// primary key and the head is read again.
    private let lastLink = HeadCache()

    public init(database: Database) {
        self.database = database
    }

    final class HeadCache: Sendable {
        private let value = Mutex<Head?>(nil)
        func get() -> Head? { value.withLock { $0 } }
        func set(_ head: Head?) { value.withLock { $0 = head } }
    }

    struct Head: Decodable, Sendable { var seq: Int64; var hash: String }

    /// Appends one event on its own. SQLite: a single INSERT on the writer (the head row
    /// follows by trigger); PostgreSQL: a transaction holding the head row's lock.
    @discardableResult
    public func record(_ draft: AuditDraft, at now: Date = Date()) async throws -> AuditEvent {
        let key = try database.requireAuditKey()
        let cache = lastLink
        let appended = try await database.writeSingleStatement { sql -> AuditEvent in
            var head = if let cached = cache.get() { cached } else { try await Self.readHead(on: sql, lock: false) }
            for attempt in 0..<2 {
                let event = Self.makeEvent(draft, after: head, at: now, key: key)
                do {
                    try await Self.insert(event, on: sql)
                    cache.set(Head(seq: event.sequence, hash: event.hash))
                    return event
                } catch where attempt == 0 {
                    // Someone appended since: read the head again and retry once.
                    cache.set(nil)
                    head = try await Self.readHead(on: sql, lock: false)
                }
            }
            throw AuditError.headMissing
        }
        if let appended { return appended }
        let database = database
        return try await database.write { sql in try await Self.append(draft, on: sql, database: database, at: now) }
    }

    static func readHead(on sql: any SQLDatabase, lock: Bool) async throws -> Head {
        guard let head = try await sql.raw("SELECT seq, hash FROM audit_head WHERE id = 1\(unsafeRaw: lock ? " FOR UPDATE" : "")").first(decoding: Head.self) else {
            throw AuditError.headMissing
        }
        return head
    }

    /// Appends inside the caller's write transaction (`Database.write`); on PostgreSQL the
    /// head row stays locked until that transaction ends, so appends form one chain.
    public static func append(_ draft: AuditDraft, on sql: any SQLDatabase, database: Database, at now: Date = Date()) async throws -> AuditEvent {
        let key = try database.requireAuditKey()
        let head = try await readHead(on: sql, lock: database.engine == .postgres)
        let event = makeEvent(draft, after: head, at: now, key: key)
        try await insert(event, on: sql)
        return event
    }

    static func makeEvent(_ draft: AuditDraft, after head: Head, at now: Date, key: AuditKey) -> AuditEvent {
        var event = AuditEvent(
            sequence: head.seq + 1, recordedAt: recordedAtFormat.format(now), actorID: draft.actorID?.storageKey,
            organisationID: draft.organisationID?.storageKey, action: draft.action.rawValue, resourceType: draft.resourceType,
            resourceID: draft.resourceID, patientID: draft.patientID?.storageKey, mode: draft.mode.rawValue,
            outcome: draft.outcome.rawValue, reason: draft.reason, clientAddress: draft.clientAddress, requestID: draft.requestID,
            previousHash: head.hash, hash: ""
        )
        event.hash = link(of: event, key: key)
        return event
    }

    /// The `audit_head_follows` trigger moves the head to the new event in the same statement.
    static func insert(_ event: AuditEvent, on sql: any SQLDatabase) async throws {
        try await sql.raw("""
            INSERT INTO audit_events (seq, recorded_at, actor_id, organisation_id, action, resource_type, resource_id,
                patient_id, access_mode, outcome, reason, client_address, request_id, prev_hash, hash)
            VALUES (\(bind: event.sequence), \(bind: event.recordedAt), \(bind: event.actorID), \(bind: event.organisationID),
                \(bind: event.action), \(bind: event.resourceType), \(bind: event.resourceID), \(bind: event.patientID),
                \(bind: event.mode), \(bind: event.outcome), \(bind: event.reason), \(bind: event.clientAddress),
                \(bind: event.requestID), \(bind: event.previousHash), \(bind: event.hash))
            """).run()
    }

    static let recordedAtFormat = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    /// Lowercase hex of the event's link: HMAC-SHA256 under the key, or, for events
    /// recorded before the chain was keyed (`key` nil), plain SHA-256.
    public static func link(of event: AuditEvent, key: AuditKey?) -> String {
        if let key {
            var mac = key.chainMAC
            mac.update(data: event.canonicalEncoding(keyed: true))
            return mac.finalize().withUnsafeBytes { $0.hexString }
        }
        return SHA256.hash(data: event.canonicalEncoding(keyed: false)).withUnsafeBytes { $0.hexString }
    }

    // MARK: The key and the checkpoints

    struct ChainState: Decodable, Sendable {
        var keyed_from: Int64
        var key_id: String?
    }

    static func readChainState(on sql: any SQLDatabase, lock: Bool = false) async throws -> ChainState {
        guard let state = try await sql.raw("SELECT keyed_from, key_id FROM audit_chain WHERE id = 1\(unsafeRaw: lock ? " FOR UPDATE" : "")")
            .first(decoding: ChainState.self) else { throw AuditError.headMissing }
        return state
    }

    /// Binds the database's chain to this server's key at start: the first time, records
    /// the key's fingerprint and appends an `audit.key_bound` event, the visible mark
    /// where keyed links begin on a migrated trail. A server whose key file is not the one
    /// the chain was bound to refuses to start (its links would not verify).
    @discardableResult
    public func bindKey(at now: Date = Date()) async throws -> Bool {
        let key = try database.requireAuditKey()
        let database = database
        return try await database.write { sql in
            let state = try await Self.readChainState(on: sql, lock: database.engine == .postgres)
            if let bound = state.key_id {
                guard bound == key.id else { throw AuditError.keyMismatch(chain: bound, file: key.id) }
                return false
            }
            try await sql.raw("UPDATE audit_chain SET key_id = \(bind: key.id) WHERE id = 1").run()
            _ = try await Self.append(AuditDraft(actorID: nil, action: .auditKeyBound, resourceType: "audit_chain", resourceID: key.id,
                                                 outcome: .success, reason: "keyed_from:\(state.keyed_from)"), on: sql, database: database, at: now)
            return true
        }
    }

    /// Signs the chain's current head and writes it to `directory`, unless the directory
    /// already pins that head. Returns the checkpoint written, if any.
    @discardableResult
    public func checkpoint(into directory: AuditCheckpointDirectory, at now: Date = Date()) async throws -> AuditCheckpoint? {
        let key = try database.requireAuditKey()
        let (head, state) = try await database.read { sql in
            (try await Self.readHead(on: sql, lock: false), try await Self.readChainState(on: sql))
        }
        if directory.lastWritten?.sequence == head.seq, directory.lastWritten?.headHash == head.hash { return nil }
        let checkpoint = AuditCheckpoint.signed(sequence: head.seq, headHash: head.hash, keyedFrom: state.keyed_from,
                                                recordedAt: Self.recordedAtFormat.format(now), key: key)
        try directory.write(checkpoint)
        return checkpoint
    }

    // MARK: Verification

    public enum Break: Equatable, Sendable, CustomStringConvertible {
        /// The event's content no longer matches its link: edited, moved, or its link
        /// recomputed without the key.
        case altered(sequence: Int64)
        /// Events before this one are missing (deleted).
        case missing(sequence: Int64)
        /// The event does not follow on from the one before (inserted or reordered).
        case unlinked(sequence: Int64)
        /// The last events are missing: the head, or a signed checkpoint, records a later event.
        case truncated(lastPresent: Int64, expected: Int64)
        /// The chain at a signed checkpoint is not the chain that was signed: rewritten since.
        case rewritten(sequence: Int64)
        /// The database says the keyed links start elsewhere than the signed checkpoints say.
        case boundaryMoved(database: Int64, checkpoints: Int64)
        /// A checkpoint file whose signature is not the key's, or that cannot be read.
        case badCheckpoint(file: String)
        /// No signed checkpoint to hold the chain against.
        case noCheckpoint

        public var sequence: Int64 {
            switch self {
            case .altered(let s), .missing(let s), .unlinked(let s), .rewritten(let s): s
            case .truncated(let last, _): last + 1
            case .boundaryMoved(let database, _): database
            case .badCheckpoint, .noCheckpoint: 0
            }
        }

        public var description: String {
            switch self {
            case .altered(let s): "event \(s) was modified or moved: its link does not match its content under the audit key"
            case .missing(let s): "event \(s) is missing: it was deleted"
            case .unlinked(let s): "event \(s) does not follow the event before it: events were reordered or inserted"
            case .truncated(let last, let expected): "events \(last + 1)...\(expected) are missing: the end of the trail was deleted"
            case .rewritten(let s): "the trail up to event \(s) is not the one a signed checkpoint recorded: it was rewritten"
            case .boundaryMoved(let database, let checkpoints):
                "the database says keyed links start at event \(database), the signed checkpoints say \(checkpoints): the chain was relabelled"
            case .badCheckpoint(let file): "checkpoint \(file) is not signed by the audit key (forged, edited or unreadable)"
            case .noCheckpoint: "no signed checkpoint found: the checkpoint directory is empty or was removed"
            }
        }
    }

    public struct Verification: Sendable, Equatable {
        public var checked: Int
        public var firstBreak: Break?
        /// How many signed checkpoints the chain was held against.
        public var checkpoints: Int

        public init(checked: Int, firstBreak: Break?, checkpoints: Int = 0) {
            self.checked = checked
            self.firstBreak = firstBreak
            self.checkpoints = checkpoints
        }
    }

    /// Walks the whole chain in sequence order and stops at the first break; then holds
    /// it against the signed checkpoints of `directory`, when given (`concerto audit
    /// verify` always gives one: without it, a rewound head cannot be told).
    public func verify(checkpoints directory: AuditCheckpointDirectory? = nil, batchSize: Int = 20_000) async throws -> Verification {
        let key = database.auditKey
        let state = try await database.read { try await Self.readChainState(on: $0) }
        if let bound = state.key_id, let key, bound != key.id { throw AuditError.keyMismatch(chain: bound, file: key.id) }

        var pinned: [Int64: String] = [:]
        var checkpointCount = 0
        if let directory {
            guard let key else { throw AuditError.noKey }
            let files = try directory.readAll()
            guard !files.isEmpty else { return Verification(checked: 0, firstBreak: .noCheckpoint) }
            for file in files {
                guard let checkpoint = file.checkpoint, checkpoint.isSigned(by: key.publicKey) else {
                    return Verification(checked: 0, firstBreak: .badCheckpoint(file: file.name))
                }
                if checkpoint.keyedFrom != state.keyed_from {
                    return Verification(checked: 0, firstBreak: .boundaryMoved(database: state.keyed_from, checkpoints: checkpoint.keyedFrom))
                }
                if let other = pinned[checkpoint.sequence], other != checkpoint.headHash {
                    return Verification(checked: 0, firstBreak: .rewritten(sequence: checkpoint.sequence))
                }
                pinned[checkpoint.sequence] = checkpoint.headHash
            }
            checkpointCount = files.count
        }

        var expectedSequence: Int64 = 1
        var previousHash = AuditEvent.genesisHash
        var checked = 0
        func broken(_ problem: Break) -> Verification { Verification(checked: checked, firstBreak: problem, checkpoints: checkpointCount) }
        while true {
            let after = expectedSequence - 1
            let batch = try await database.read { sql in
                try await sql.raw("""
                    SELECT \(unsafeRaw: Self.columns) FROM audit_events WHERE seq > \(bind: after) ORDER BY seq LIMIT \(literal: batchSize)
                    """).all().map(Self.event(from:))
            }
            for event in batch {
                if event.sequence != expectedSequence { return broken(.missing(sequence: expectedSequence)) }
                if event.previousHash != previousHash { return broken(.unlinked(sequence: event.sequence)) }
                let keyed = event.sequence >= state.keyed_from
                if keyed, key == nil { throw AuditError.noKey }
                if Self.link(of: event, key: keyed ? key : nil) != event.hash { return broken(.altered(sequence: event.sequence)) }
                if let signed = pinned[event.sequence], signed != event.hash { return broken(.rewritten(sequence: event.sequence)) }
                previousHash = event.hash
                expectedSequence += 1
                checked += 1
            }
            if batch.count < batchSize { break }
        }
        let head = try await database.read { try await Self.readHead(on: $0, lock: false) }
        let last = expectedSequence - 1
        if head.seq > last { return broken(.truncated(lastPresent: last, expected: head.seq)) }
        if head.seq == last, head.hash != previousHash { return broken(.altered(sequence: last)) }
        if let latest = pinned.keys.max(), latest > last { return broken(.truncated(lastPresent: last, expected: latest)) }
        // The genesis link: a checkpoint of an empty trail pins the all-zero hash.
        if let signed = pinned[0], signed != AuditEvent.genesisHash { return broken(.rewritten(sequence: 0)) }
        return Verification(checked: checked, firstBreak: nil, checkpoints: checkpointCount)
    }

    static let columns = """
        seq, recorded_at, actor_id, organisation_id, action, resource_type, resource_id, patient_id,
        access_mode, outcome, reason, client_address, request_id, prev_hash, hash
        """

    static func event(from row: any SQLRow) throws -> AuditEvent {
        AuditEvent(
            sequence: try row.decode(column: "seq", as: Int64.self),
            recordedAt: try row.decode(column: "recorded_at", as: String.self),
            actorID: try row.decode(column: "actor_id", as: String?.self),
            organisationID: try row.decode(column: "organisation_id", as: String?.self),
            action: try row.decode(column: "action", as: String.self),
            resourceType: try row.decode(column: "resource_type", as: String.self),
            resourceID: try row.decode(column: "resource_id", as: String?.self),
            patientID: try row.decode(column: "patient_id", as: String?.self),
            mode: try row.decode(column: "access_mode", as: String.self),
            outcome: try row.decode(column: "outcome", as: String.self),
            reason: try row.decode(column: "reason", as: String?.self),
            clientAddress: try row.decode(column: "client_address", as: String?.self),
            requestID: try row.decode(column: "request_id", as: String?.self),
            previousHash: try row.decode(column: "prev_hash", as: String.self),
            hash: try row.decode(column: "hash", as: String.self)
        )
    }

    // MARK: Queries

    public struct Filter: Sendable, Equatable {
        public var patientIDs: [UUID]?
        public var actorID: UUID?
        public var action: String?
        public var from: Date?
        public var until: Date?
        /// Restricts to events about this community's patients, the community itself or its
        /// meetings (not everything its members did elsewhere: other communities' patients
        /// are none of its coordinators' business).
        public var communityID: UUID?

        public init(patientIDs: [UUID]? = nil, actorID: UUID? = nil, action: String? = nil, from: Date? = nil, until: Date? = nil, communityID: UUID? = nil) {
            self.patientIDs = patientIDs
            self.actorID = actorID
            self.action = action
            self.from = from
            self.until = until
            self.communityID = communityID
        }
    }

    /// An event with the names of who did it and from which organisation.
    public struct ReportRow: Sendable, Equatable {
        public var event: AuditEvent
        public var actorName: String?
        public var organisationName: String?
    }

    static let reportSelect = """
        SELECT e.seq, e.recorded_at, e.actor_id, e.organisation_id, e.action, e.resource_type, e.resource_id, e.patient_id,
               e.access_mode, e.outcome, e.reason, e.client_address, e.request_id, e.prev_hash, e.hash,
               u.display_name AS actor_name, o.name AS organisation_name
        FROM audit_events e LEFT JOIN users u ON u.id = e.actor_id LEFT JOIN organisations o ON o.id = e.organisation_id
        WHERE 1 = 1
        """

    /// The latest events matching `filter`, newest first.
    public func events(matching filter: Filter, limit: Int = 200) async throws -> [ReportRow] {
        try await database.read { sql in
            var query = SQLQueryString(Self.reportSelect)
            if let patients = filter.patientIDs {
                query = query + " AND e.patient_id IN ("
                query.appendInterpolation(binds: patients.map(\.storageKey))
                query = query + ")"
            }
            if let actor = filter.actorID { query = query + " AND e.actor_id = \(bind: actor.storageKey)" }
            if let action = filter.action { query = query + " AND e.action = \(bind: action)" }
            if let from = filter.from { query = query + " AND e.recorded_at >= \(bind: Self.recordedAtFormat.format(from))" }
            if let until = filter.until { query = query + " AND e.recorded_at < \(bind: Self.recordedAtFormat.format(until))" }
            if let community = filter.communityID {
                query = query + """
                     AND (e.patient_id IN (SELECT patient_id FROM cases WHERE community_id = \(bind: community.storageKey))
                          OR e.resource_id = \(bind: community.storageKey)
                          OR e.resource_id IN (SELECT id FROM meetings WHERE community_id = \(bind: community.storageKey)))
                    """
            }
            query = query + " ORDER BY e.seq DESC LIMIT \(literal: limit)"
            return try await sql.raw(query).all().map { row in
                ReportRow(event: try Self.event(from: row), actorName: try row.decode(column: "actor_name", as: String?.self),
                          organisationName: try row.decode(column: "organisation_name", as: String?.self))
            }
        }
    }

    /// Who accessed these patient records ("qui a consulté mon dossier"), newest first.
    public func report(patientIDs: [UUID], limit: Int = 5000) async throws -> [ReportRow] {
        try await events(matching: Filter(patientIDs: patientIDs), limit: limit)
    }
}

public enum AuditError: Error, Equatable, CustomStringConvertible {
    case headMissing
    /// The database was opened without the audit key: nothing can be appended or verified.
    case noKey
    /// The key file is not the key the chain was bound to.
    case keyMismatch(chain: String, file: String)

    public var description: String {
        switch self {
        case .headMissing: "The audit trail's head row is missing."
        case .noKey: "No audit key: set CONCERTO_AUDIT_KEY_FILE to the key file of this database's audit trail."
        case .keyMismatch(let chain, let file):
            "The audit key file (key \(file)) is not the key this database's audit trail was bound to (key \(chain)): "
                + "start with the original key file (CONCERTO_AUDIT_KEY_FILE)."
        }
    }
}
