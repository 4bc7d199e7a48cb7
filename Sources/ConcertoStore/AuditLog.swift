import ConcertoCore
import Crypto
import Foundation
import SQLKit
import Synchronization

/// The append-only, keyed and hash-chained audit trail.
///
/// Writing and chaining are two steps, so that audited requests never queue behind each
/// other (see docs/architecture.md, *The audit pipeline*):
/// 1. **Append.** A request's event is stored as it comes, without its place in the chain
///    (`seq`, `prev_hash`, `hash` NULL): standalone events by group commit
///    (`AuditGroupCommit`, one INSERT and one sync for all the requests of the moment),
///    an audited change's event inside the change's own transaction (`append`), so both
///    land together. Nothing is locked: instances and requests append side by side.
/// 2. **Sequencing.** One sequencer per cluster (`AuditSequencer`) gives the waiting
///    events, in order of arrival, their sequence numbers and links (HMAC-SHA256 under the
///    audit key of the previous link and the event's canonical encoding; events recorded
///    before the chain was keyed keep plain SHA-256), and seals each batch with the Merkle
///    root of its links and the batch's own keyed link. `audit_head` moves once per batch.
/// 3. **Checkpoints.** Signed checkpoints (`AuditCheckpoint`) written outside the database
///    pin the head, so deleting the chain's end, rewinding the head or recomputing it all show.
public struct AuditLog: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// An event as appended: its content, not yet its place in the chain.
    struct WaitingEvent: Sendable {
        var recordedAt: String
        var draft: AuditDraft

        /// Its content as an event, not yet placed in the chain.
        var event: AuditEvent {
            AuditEvent(sequence: 0, recordedAt: recordedAt, actorID: draft.actorID?.storageKey, organisationID: draft.organisationID?.storageKey,
                       action: draft.action.rawValue, resourceType: draft.resourceType, resourceID: draft.resourceID,
                       patientID: draft.patientID?.storageKey, mode: draft.mode.rawValue, outcome: draft.outcome.rawValue, reason: draft.reason,
                       clientAddress: draft.clientAddress, requestID: draft.requestID, previousHash: "", hash: "")
        }
    }

    struct Head: Decodable, Sendable {
        var seq: Int64
        var hash: String
        var batch: Int64
        var batch_link: String
    }

    /// Appends one event on its own, by group commit with the other requests of the moment;
    /// returns once it is committed.
    public func record(_ draft: AuditDraft, at now: Date = Date()) async throws {
        _ = try database.requireAuditKey()
        try await database.auditIntake.submit(WaitingEvent(recordedAt: Self.recordedAtFormat.format(now), draft: draft), database: database)
    }

    /// Seals the events waiting for the sequencer now (tests, commands, shutdown), rather
    /// than within the running sequencer's next pass.
    @discardableResult
    public func sealWaiting() async throws -> Int {
        try await AuditSequencer(database: database).sealPending()
    }

    static func readHead(on sql: any SQLDatabase, lock: Bool) async throws -> Head {
        guard let head = try await sql.raw("SELECT seq, hash, batch, batch_link FROM audit_head WHERE id = 1\(unsafeRaw: lock ? " FOR UPDATE" : "")")
            .first(decoding: Head.self) else {
            throw AuditError.headMissing
        }
        return head
    }

    /// Appends inside the caller's write transaction (`Database.write`): the event lands
    /// with the change it records, or neither does. Locks nothing.
    public static func append(_ draft: AuditDraft, on sql: any SQLDatabase, database: Database, at now: Date = Date()) async throws {
        _ = try database.requireAuditKey()
        try await insertWaiting([WaitingEvent(recordedAt: recordedAtFormat.format(now), draft: draft)], on: sql)
    }

    /// One INSERT of waiting events (their chain columns NULL until sequenced).
    static func insertWaiting(_ events: [WaitingEvent], on sql: any SQLDatabase) async throws {
        try await insert(events.map(\.event), sealedIn: nil, on: sql)
    }

    /// One INSERT of `events`: already placed in the chain as part of batch `sealedIn`, or,
    /// without a batch, waiting (sequence, links and batch NULL).
    static func insert(_ events: [AuditEvent], sealedIn batch: Int64?, on sql: any SQLDatabase) async throws {
        let sealed = batch != nil
        var query = SQLQueryString("""
            INSERT INTO audit_events (seq, batch, recorded_at, actor_id, organisation_id, action, resource_type, resource_id,
                patient_id, access_mode, outcome, reason, client_address, request_id, prev_hash, hash) VALUES
            """)
        for (index, event) in events.enumerated() {
            query = query + (index == 0 ? " (" : ", (")
            query = query + """
                \(bind: sealed ? event.sequence : nil), \(bind: batch), \(bind: event.recordedAt), \(bind: event.actorID),
                \(bind: event.organisationID), \(bind: event.action), \(bind: event.resourceType), \(bind: event.resourceID),
                \(bind: event.patientID), \(bind: event.mode), \(bind: event.outcome), \(bind: event.reason), \(bind: event.clientAddress),
                \(bind: event.requestID), \(bind: sealed ? event.previousHash : nil), \(bind: sealed ? event.hash : nil))
                """
        }
        try await sql.raw(query).run()
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
        /// The first event sequenced in a batch (earlier ones were chained one by one).
        var batched_from: Int64
    }

    static func readChainState(on sql: any SQLDatabase, lock: Bool = false) async throws -> ChainState {
        guard let state = try await sql.raw("SELECT keyed_from, key_id, batched_from FROM audit_chain WHERE id = 1\(unsafeRaw: lock ? " FOR UPDATE" : "")")
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

    /// Seals what waits for the sequencer, then signs the chain's head and writes it to
    /// `directory`, unless the directory already pins that head. Returns the checkpoint
    /// written, if any.
    @discardableResult
    public func checkpoint(into directory: AuditCheckpointDirectory, at now: Date = Date()) async throws -> AuditCheckpoint? {
        let key = try database.requireAuditKey()
        try await sealWaiting()
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
        /// A sequenced batch whose Merkle root or keyed link does not match its events, or
        /// that does not start where the batch before ended.
        case batchAltered(batch: Int64, firstSequence: Int64)
        /// The event is not marked as part of the batch that covers it.
        case unbatched(sequence: Int64)

        public var sequence: Int64 {
            switch self {
            case .altered(let s), .missing(let s), .unlinked(let s), .rewritten(let s), .unbatched(let s), .batchAltered(_, let s): s
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
            case .batchAltered(let batch, _): "sequenced batch \(batch) does not match its events (Merkle root, keyed link or range): batches were edited"
            case .unbatched(let s): "event \(s) is not part of the batch that covers it: batches were edited"
            }
        }
    }

    public struct Verification: Sendable, Equatable {
        public var checked: Int
        public var firstBreak: Break?
        /// How many signed checkpoints the chain was held against.
        public var checkpoints: Int
        /// Events committed but not yet sequenced: stored, not yet in the chain (the
        /// sequencer takes them within a fraction of a second while a server runs).
        public var waiting: Int

        public init(checked: Int, firstBreak: Break?, checkpoints: Int = 0, waiting: Int = 0) {
            self.checked = checked
            self.firstBreak = firstBreak
            self.checkpoints = checkpoints
            self.waiting = waiting
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

        let waiting = try await database.read { sql in
            try await sql.raw("SELECT COUNT(*) AS waiting FROM audit_events WHERE seq IS NULL").first()?.decode(column: "waiting", as: Int.self) ?? 0
        }
        var expectedSequence: Int64 = 1
        var previousHash = AuditEvent.genesisHash
        var checked = 0
        var batches = BatchWalk(database: database, pageSize: batchSize)
        func broken(_ problem: Break) -> Verification {
            Verification(checked: checked, firstBreak: problem, checkpoints: checkpointCount, waiting: waiting)
        }
        while true {
            let after = expectedSequence - 1
            let page = try await database.read { sql in
                try await sql.raw("""
                    SELECT \(unsafeRaw: Self.columns) FROM audit_events WHERE seq > \(bind: after) ORDER BY seq LIMIT \(literal: batchSize)
                    """).all().map { (event: try Self.event(from: $0), batch: try $0.decode(column: "batch", as: Int64?.self)) }
            }
            for (event, batch) in page {
                if event.sequence != expectedSequence { return broken(.missing(sequence: expectedSequence)) }
                if event.previousHash != previousHash { return broken(.unlinked(sequence: event.sequence)) }
                let keyed = event.sequence >= state.keyed_from
                if keyed, key == nil { throw AuditError.noKey }
                if Self.link(of: event, key: keyed ? key : nil) != event.hash { return broken(.altered(sequence: event.sequence)) }
                if let signed = pinned[event.sequence], signed != event.hash { return broken(.rewritten(sequence: event.sequence)) }
                if event.sequence >= state.batched_from, let problem = try await batches.add(event, markedIn: batch, key: key) {
                    return broken(problem)
                }
                previousHash = event.hash
                expectedSequence += 1
                checked += 1
            }
            if page.count < batchSize { break }
        }
        let head = try await database.read { try await Self.readHead(on: $0, lock: false) }
        let last = expectedSequence - 1
        if head.seq > last { return broken(.truncated(lastPresent: last, expected: head.seq)) }
        if head.seq == last, head.hash != previousHash { return broken(.altered(sequence: last)) }
        if let latest = pinned.keys.max(), latest > last { return broken(.truncated(lastPresent: last, expected: latest)) }
        if let claimed = try await batches.lastSequenceClaimed(), claimed > last { return broken(.truncated(lastPresent: last, expected: claimed)) }
        // The genesis link: a checkpoint of an empty trail pins the all-zero hash.
        if let signed = pinned[0], signed != AuditEvent.genesisHash { return broken(.rewritten(sequence: 0)) }
        return Verification(checked: checked, firstBreak: nil, checkpoints: checkpointCount, waiting: waiting)
    }

    /// Walks `audit_batches` beside the events: each batch must start where the one before
    /// ended, hold exactly its events, and its Merkle root and keyed link must be those of
    /// its events' links.
    struct BatchWalk {
        struct Row: Sendable {
            var batch: Int64
            var first_seq: Int64
            var last_seq: Int64
            var root: String
            var link: String
        }

        let database: Database
        let pageSize: Int
        private var page: [Row] = []
        private var next = 0
        private var current: Row?
        private var leaves: [AuditMerkle.Hash] = []
        private var previousLink = AuditEvent.genesisHash
        private var lastNumber: Int64 = 0
        private var exhausted = false

        init(database: Database, pageSize: Int) {
            self.database = database
            self.pageSize = pageSize
        }

        private mutating func nextRow() async throws -> Row? {
            if next == page.count {
                guard !exhausted else { return nil }
                let after = lastNumber, pageSize = pageSize
                page = try await database.read { sql in
                    try await sql.raw("""
                        SELECT batch, first_seq, last_seq, root, link FROM audit_batches WHERE batch > \(bind: after)
                        ORDER BY batch LIMIT \(literal: pageSize)
                        """).all().map { row in
                            // Decoded by hand: SQLKit's Decodable path costs more than the checks here.
                            Row(batch: try row.decode(column: "batch", as: Int64.self), first_seq: try row.decode(column: "first_seq", as: Int64.self),
                                last_seq: try row.decode(column: "last_seq", as: Int64.self), root: try row.decode(column: "root", as: String.self),
                                link: try row.decode(column: "link", as: String.self))
                        }
                }
                next = 0
                exhausted = page.count < pageSize
                if page.isEmpty { return nil }
            }
            defer { next += 1 }
            return page[next]
        }

        /// The next sequenced event, in order; a problem when the batches do not hold it.
        mutating func add(_ event: AuditEvent, markedIn batch: Int64?, key: AuditKey?) async throws -> Break? {
            if current == nil {
                guard let row = try await nextRow() else { return .unbatched(sequence: event.sequence) }
                lastNumber = row.batch
                guard row.first_seq == event.sequence, row.last_seq >= row.first_seq else {
                    return .batchAltered(batch: row.batch, firstSequence: row.first_seq)
                }
                current = row
            }
            guard let row = current else { return nil }
            guard batch == row.batch else { return .unbatched(sequence: event.sequence) }
            leaves.append(AuditMerkle.leafHash(link: event.hash))
            guard event.sequence == row.last_seq else { return nil }
            let sealed = AuditSequencer.Batch(number: row.batch, firstSequence: row.first_seq, lastSequence: row.last_seq, root: row.root, link: row.link)
            let root = AuditMerkle.root(of: leaves[...]).hexString
            guard let key else { throw AuditError.noKey }
            if root != row.root || AuditLog.batchLink(of: sealed, after: previousLink, key: key) != row.link {
                return .batchAltered(batch: row.batch, firstSequence: row.first_seq)
            }
            previousLink = row.link
            leaves.removeAll(keepingCapacity: true)
            current = nil
            return nil
        }

        /// After the walk: the last event a batch claims, when it lies beyond the events
        /// walked (the trail's end was deleted, batches left behind).
        mutating func lastSequenceClaimed() async throws -> Int64? {
            if let current { return current.last_seq }
            var claimed: Int64?
            while let row = try await nextRow() { claimed = row.last_seq }
            return claimed
        }
    }

    static let contentColumns = """
        recorded_at, actor_id, organisation_id, action, resource_type, resource_id, patient_id,
        access_mode, outcome, reason, client_address, request_id
        """

    static let columns = "seq, batch, prev_hash, hash, " + contentColumns

    /// A row of `columns`; an event still waiting for the sequencer has sequence 0 and empty links.
    static func event(from row: any SQLRow) throws -> AuditEvent {
        var event = try event(from: row, sequence: try row.decode(column: "seq", as: Int64?.self) ?? 0,
                              previousHash: try row.decode(column: "prev_hash", as: String?.self) ?? "")
        event.hash = try row.decode(column: "hash", as: String?.self) ?? ""
        return event
    }

    /// A row of `contentColumns`, placed in the chain at `sequence`.
    static func event(from row: any SQLRow, sequence: Int64, previousHash: String) throws -> AuditEvent {
        AuditEvent(
            sequence: sequence,
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
            previousHash: previousHash,
            hash: ""
        )
    }

    /// A batch's link: HMAC-SHA256 under the audit key of the batch before's link and this
    /// batch's number, events and Merkle root, so batches form a keyed chain of their own.
    static func batchLink(of batch: AuditSequencer.Batch, after previous: String, key: AuditKey) -> String {
        var encoding = AuditEvent.CanonicalWriter()
        for field in ["concerto-audit-batch-v1", previous, String(batch.number), String(batch.firstSequence), String(batch.lastSequence), batch.root] {
            encoding.append(field)
        }
        var mac = key.chainMAC
        mac.update(data: encoding.bytes)
        return mac.finalize().withUnsafeBytes { $0.hexString }
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
        SELECT e.seq, e.batch, e.recorded_at, e.actor_id, e.organisation_id, e.action, e.resource_type, e.resource_id, e.patient_id,
               e.access_mode, e.outcome, e.reason, e.client_address, e.request_id, e.prev_hash, e.hash,
               u.display_name AS actor_name, o.name AS organisation_name
        FROM audit_events e LEFT JOIN users u ON u.id = e.actor_id LEFT JOIN organisations o ON o.id = e.organisation_id
        WHERE 1 = 1
        """

    /// The latest events matching `filter`, newest first, those waiting for the sequencer
    /// included (sequence 0): every committed event shows at once.
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
            query = query + " ORDER BY e.id DESC LIMIT \(literal: limit)"
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
    /// The sequencer's lock file beside a SQLite database cannot be opened.
    case sequencerLockUnavailable(String)

    public var description: String {
        switch self {
        case .headMissing: "The audit trail's head row is missing."
        case .noKey: "No audit key: set CONCERTO_AUDIT_KEY_FILE to the key file of this database's audit trail."
        case .keyMismatch(let chain, let file):
            "The audit key file (key \(file)) is not the key this database's audit trail was bound to (key \(chain)): "
                + "start with the original key file (CONCERTO_AUDIT_KEY_FILE)."
        case .sequencerLockUnavailable(let path): "The audit sequencer's lock file \(path) cannot be opened: check the folder's permissions."
        }
    }
}
