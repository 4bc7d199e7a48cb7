import ConcertoCore
import Foundation
import Logging
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit
import Synchronization
import VaporCSQLite

// Our own SQLite driver under SQLKit, on the SQLite library that sqlite-nio vendors (one
// copy of SQLite in the process: two copies on one file would break POSIX locking).
// Why not sqlite-nio's connection: it prepares every statement anew (a quarter of a
// page's SQLite time in perf profiles) and runs each statement on a thread pool, so each
// costs two thread hand-offs; on two cores the hand-offs cost more than the statements.
// Here statements run on the calling task's thread, prepared once per connection and
// reused, and a connection is used by one task at a time. The stores see `SQLDatabase`
// as before; SQLiteKit provides the dialect and the fallback value coding.

/// A failed SQLite call: the result code and SQLite's message.
public struct SQLiteFailure: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    public let message: String
    public var description: String { "SQLite error \(code): \(message)" }
    /// Another connection holds the lock (any of SQLITE_BUSY's extended codes).
    var isBusy: Bool { code & 0xFF == SQLITE_BUSY }
}

/// One SQLite connection and its prepared statements. Not thread-safe: the backend hands it
/// to one task at a time (readers are checked out of a pool, the writer is behind a lock).
final class SQLiteHandle: @unchecked Sendable {
    private let connection: OpaquePointer
    private var statements: [String: OpaquePointer] = [:]
    /// Kept alive as long as SQLite may call it (see `reportCommits`).
    private var commitObserver: SQLiteCheckpointer?
    /// When the task using this connection last let others run (see `timeToYield`).
    private var lastYield = ContinuousClock.now
    /// Ad-hoc statements (search with a variable number of terms, migrations) would grow
    /// the cache for ever; past this size it starts again.
    static let statementCacheLimit = 256

    private static let initialise: Void = { _ = sqlite_nio_sqlite3_initialize() }()
    /// SQLite copies bound text and blobs (the bound Swift values do not outlive the call).
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    init(path: String) throws {
        _ = Self.initialise
        var handle: OpaquePointer?
        // NOMUTEX: SQLite's own per-connection mutex is not needed, one task at a time uses it.
        let flags = SQLITE_OPEN_CREATE | SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        let status = sqlite_nio_sqlite3_open_v2(path, &handle, flags, nil)
        guard status == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite_nio_sqlite3_errmsg($0)) } ?? "cannot open"
            if let handle { sqlite_nio_sqlite3_close_v2(handle) }
            throw SQLiteFailure(code: status, message: message)
        }
        connection = handle
    }

    deinit {
        for statement in statements.values { sqlite_nio_sqlite3_finalize(statement) }
        sqlite_nio_sqlite3_close_v2(connection)
    }

    /// Runs one statement (the first of `sql`), calling `onRow` for each result row.
    func execute(_ sql: String, binds: [SQLiteData], onRow: (SQLiteResultRow) throws -> Void) throws {
        let statement = try prepared(sql)
        // Reset even on error, so that no statement keeps a read transaction open. The
        // bindings stay: every execution binds all parameters again, and clearing them
        // would make SQLite re-prepare the statement (it does so whenever a parameter the
        // planner looked at changes, which is why LIMITs are written as literals).
        defer { sqlite_nio_sqlite3_reset(statement) }
        try bind(binds, to: statement)
        var columns: SQLiteColumns?
        while true {
            let status = sqlite_nio_sqlite3_step(statement)
            if status == SQLITE_DONE { return }
            guard status == SQLITE_ROW else { throw failure(status) }
            let names = columns ?? SQLiteColumns(statement)
            columns = names
            try onRow(SQLiteResultRow(columns: names, values: Self.values(of: statement, count: names.names.count)))
        }
    }

    /// Statements run on Swift concurrency's few threads without suspending; a long run of
    /// them (a migration, a batch, a heavy search) would keep timers and other requests
    /// waiting for a thread. True once per slice of such work: the caller then yields.
    ///
    /// Inside a transaction the slice is longer: a yielding task keeps its snapshot (or the
    /// write lock) until it gets a thread again, which on busy threads takes as long as the
    /// queue ahead of it, and a read that kept its snapshot that long kept the checkpointer
    /// from rewinding the log (seen with the whole test suite on two cores). Usual read and
    /// write bodies (a few statements, a millisecond or two) then never yield halfway.
    func timeToYield() -> Bool {
        let slice: Duration = outsideTransaction ? .milliseconds(2) : .milliseconds(20)
        let now = ContinuousClock.now
        guard now - lastYield >= slice else { return false }
        lastYield = now
        return true
    }

    /// Starts a new slice (see `timeToYield`): a task has just been handed this connection.
    func handedOut() {
        lastYield = .now
    }

    /// No transaction is open on the connection: a statement refused as busy did nothing
    /// and may simply run again (a BEGIN IMMEDIATE, a statement on its own, or the first
    /// read of a deferred transaction).
    var outsideTransaction: Bool {
        sqlite_nio_sqlite3_txn_state(connection, nil) == SQLITE_TXN_NONE
    }

    /// Runs a statement that returns no rows worth reading (transaction control, pragmas).
    func run(_ sql: String) throws {
        try execute(sql, binds: []) { _ in }
    }

    private func prepared(_ sql: String) throws -> OpaquePointer {
        if let statement = statements[sql] { return statement }
        if statements.count >= Self.statementCacheLimit {
            for statement in statements.values { sqlite_nio_sqlite3_finalize(statement) }
            statements.removeAll(keepingCapacity: true)
        }
        var statement: OpaquePointer?
        let status = sqlite_nio_sqlite3_prepare_v3(connection, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard status == SQLITE_OK else { throw failure(status) }
        // An empty or comment-only text compiles to no statement.
        guard let statement else { throw SQLiteFailure(code: SQLITE_MISUSE, message: "no SQL statement in the text") }
        statements[sql] = statement
        return statement
    }

    private func bind(_ binds: [SQLiteData], to statement: OpaquePointer) throws {
        for (offset, value) in binds.enumerated() {
            let index = Int32(offset + 1)
            let status: Int32 = switch value {
            case .null: sqlite_nio_sqlite3_bind_null(statement, index)
            case .integer(let integer): sqlite_nio_sqlite3_bind_int64(statement, index, Int64(integer))
            case .float(let double): sqlite_nio_sqlite3_bind_double(statement, index, double)
            case .text(let text):
                text.utf8.withContiguousStorageIfAvailable { bytes in
                    sqlite_nio_sqlite3_bind_text64(statement, index, bytes.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) },
                                                   UInt64(bytes.count), Self.transient, UInt8(SQLITE_UTF8))
                } ?? sqlite_nio_sqlite3_bind_text64(statement, index, text, UInt64(text.utf8.count), Self.transient, UInt8(SQLITE_UTF8))
            case .blob(let buffer):
                buffer.withUnsafeReadableBytes {
                    sqlite_nio_sqlite3_bind_blob64(statement, index, $0.baseAddress, UInt64($0.count), Self.transient)
                }
            }
            guard status == SQLITE_OK else { throw failure(status) }
        }
    }

    private static func values(of statement: OpaquePointer, count: Int) -> [SQLiteData] {
        var values: [SQLiteData] = []
        values.reserveCapacity(count)
        for column in 0..<Int32(count) {
            switch sqlite_nio_sqlite3_column_type(statement, column) {
            case SQLITE_INTEGER:
                values.append(.integer(SQLiteInt64(sqlite_nio_sqlite3_column_int64(statement, column))))
            case SQLITE_FLOAT:
                values.append(.float(sqlite_nio_sqlite3_column_double(statement, column)))
            case SQLITE_TEXT:
                // Text first, then its length (the documented order for a correct byte count).
                let text = sqlite_nio_sqlite3_column_text(statement, column)
                let length = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
                values.append(.text(text.map { String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self) } ?? ""))
            case SQLITE_BLOB:
                let bytes = sqlite_nio_sqlite3_column_blob(statement, column)
                let length = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
                var buffer = ByteBufferAllocator().buffer(capacity: length)
                if let bytes { buffer.writeBytes(UnsafeRawBufferPointer(start: bytes, count: length)) }
                values.append(.blob(buffer))
            default:
                values.append(.null)
            }
        }
        return values
    }

    enum CheckpointMode {
        /// Copies as far as readers allow, waiting for no one.
        case passive
        /// Copies everything, then waits (busy timeout) until no reader uses the log, so
        /// that the next commit starts it again from the beginning. Needs no other writer.
        case restart
    }

    /// How far a checkpoint got: the frames of the log when it began and how many of them
    /// are now in the database file (fewer when a reader still uses an older snapshot; -1
    /// both when it could not start), and whether it did all its mode asks (not when it
    /// waited for readers in vain).
    struct CheckpointProgress {
        let logFrames: Int32
        let copiedFrames: Int32
        let done: Bool
        var copiedAll: Bool { logFrames >= 0 && copiedFrames >= logFrames }
    }

    /// Busy is an outcome here, not an error: the progress says how far it got.
    func checkpoint(_ mode: CheckpointMode) throws -> CheckpointProgress {
        var logFrames: Int32 = -1, copiedFrames: Int32 = -1
        let status = sqlite_nio_sqlite3_wal_checkpoint_v2(
            connection, nil, mode == .passive ? SQLITE_CHECKPOINT_PASSIVE : SQLITE_CHECKPOINT_RESTART, &logFrames, &copiedFrames)
        guard status == SQLITE_OK || status == SQLITE_BUSY else { throw failure(status) }
        return CheckpointProgress(logFrames: logFrames, copiedFrames: copiedFrames, done: status == SQLITE_OK)
    }

    /// After each commit on this connection, tells `checkpointer` how many frames the log holds.
    func reportCommits(to checkpointer: SQLiteCheckpointer) {
        commitObserver = checkpointer
        sqlite_nio_sqlite3_wal_hook(connection, { context, _, _, frames in
            Unmanaged<SQLiteCheckpointer>.fromOpaque(context!).takeUnretainedValue().committed(frames: frames)
            return SQLITE_OK
        }, Unmanaged.passUnretained(checkpointer).toOpaque())
    }

    private func failure(_ status: Int32) -> SQLiteFailure {
        SQLiteFailure(code: status, message: String(cString: sqlite_nio_sqlite3_errmsg(connection)))
    }
}

/// Checkpoints the write-ahead log on a thread of its own, with its own connection, once
/// the log passes `threshold` frames. SQLite's default runs the checkpoint inside the
/// commit that crosses the threshold, on the thread of the request that made it: pages are
/// copied and the file synced (~5 ms here, much more when the disk is busy) while that
/// thread serves nobody else and every write queues behind it.
///
/// A first pass copies while commits go on. A second one takes the write lock, copies what
/// was committed meanwhile and waits (briefly) for readers of older snapshots to finish,
/// so that the next commit rewinds the log: were commits never held, the log would never
/// be fully copied, so never rewound, and would grow for ever (it did, to a gigabyte in a
/// minute of load). Writers wait for the second pass without holding a thread; readers
/// never wait. Nothing here runs on Swift concurrency's threads, which busy requests
/// could keep from a queued task.
///
/// Readers of older snapshots hold the copy back. Those of a moment ago are done by the
/// time the second pass waits for them, and the first pass got further than the last one
/// did. One reading for long (an export, an audit verification) keeps the copy where it
/// was: waiting for it would hold every write for the whole wait, in vain, at each commit,
/// for as long as that read lasts. So the second pass runs only when the first copied the
/// whole log or got further than the previous pass. Until such a read ends the log grows,
/// as it does with SQLite's own checkpoints, and rewinds afterwards.
final class SQLiteCheckpointer: Sendable {
    private let connection: SQLiteHandle
    private let writeLock: AsyncSerialLock
    private let thread = NIOThreadPool(numberOfThreads: 1)
    /// A checkpoint is queued or running: commits meanwhile do not ask for another.
    private let inFlight = Atomic<Bool>(false)
    private let logger: Logger
    /// SQLite's own default for automatic checkpoints (pages of the log).
    let threshold: Int32
    /// Frames in the database file after the last pass (see above). Used on `thread` only.
    private let lastCopiedFrames = Mutex<Int32>(0)

    init(path: String, writeLock: AsyncSerialLock, threshold: Int32 = 1000, logger: Logger) throws {
        connection = try SQLiteHandle(path: path)
        // A connection that never read the file has not opened the log, and its
        // checkpoints would silently do nothing.
        try connection.run("PRAGMA busy_timeout = 5000")
        try connection.run("PRAGMA journal_mode = WAL")
        // How long the second pass waits for readers of older snapshots (they take
        // microseconds to milliseconds) on this thread of its own, writes held; past it,
        // the next commit asks again.
        try connection.run("PRAGMA busy_timeout = 50")
        self.writeLock = writeLock
        self.threshold = threshold
        self.logger = logger
        thread.start()
    }

    /// Called by SQLite on the writer's thread after each commit (write lock held): must
    /// not block. While the log stays over the threshold, each commit asks again once the
    /// last checkpoint is done, as SQLite's own hook does.
    func committed(frames: Int32) {
        guard frames >= threshold, !inFlight.exchange(true, ordering: .acquiringAndReleasing) else { return }
        thread.submit { [self] state in
            defer { inFlight.store(false, ordering: .releasing) }
            guard case .active = state else { return }
            checkpoint()
        }
    }

    private func checkpoint() {
        do {
            let first = try connection.checkpoint(.passive)
            let advanced = lastCopiedFrames.withLock { last in
                defer { last = first.copiedFrames }
                return first.copiedFrames != last  // fewer: the log was rewound meanwhile
            }
            guard first.copiedAll || advanced else { return }
            let started = ContinuousClock.now
            // Busy: a reader still used the old log after the wait; a later commit asks again.
            let second = try writeLock.withLockBlocking { try connection.checkpoint(.restart) }
            if second.copiedFrames >= 0 { lastCopiedFrames.withLock { $0 = second.copiedFrames } }
            let held = ContinuousClock.now - started
            if held > .milliseconds(100) {
                logger.notice("SQLite checkpoint held writes", metadata: ["ms": "\(Int(held.seconds * 1000))", "rewound": "\(second.done)"])
            }
        } catch {
            logger.warning("SQLite checkpoint failed", metadata: ["error": "\(error)"])
        }
    }

    func shutdown() async {
        try? await thread.shutdownGracefully()
    }
}

/// The column names of one result, shared by its rows.
final class SQLiteColumns: Sendable {
    let names: [String]

    init(_ statement: OpaquePointer) {
        names = (0..<sqlite_nio_sqlite3_column_count(statement)).map { column in
            sqlite_nio_sqlite3_column_name(statement, column).map { String(cString: $0) } ?? ""
        }
    }

    /// A row has a handful of columns: a linear scan beats hashing the name.
    func index(of name: String) -> Int? {
        names.firstIndex(of: name)
    }
}

struct SQLiteMissingColumn: Error, CustomStringConvertible {
    let column: String
    var description: String { "no column \(column) in the result" }
}

/// One result row, copied out of SQLite (rows outlive the statement).
struct SQLiteResultRow: SQLRow {
    let columns: SQLiteColumns
    let values: [SQLiteData]

    /// SQLiteKit's decoder builds a JSONDecoder when created: one for the process.
    private static let decoder = SQLiteDataDecoder()

    var allColumns: [String] { columns.names }

    func contains(column: String) -> Bool { columns.index(of: column) != nil }

    func decodeNil(column: String) throws -> Bool {
        guard let index = columns.index(of: column) else { return true }
        return values[index] == .null
    }

    func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        guard let index = columns.index(of: column) else { throw SQLiteMissingColumn(column: column) }
        let value = values[index]
        // The stores read text and integers; these paths avoid the decoder's dynamic casts
        // and give the same results as SQLiteKit's decoder (which takes every other case).
        if D.self == String.self, let text = value.string {
            return unsafeBitCast(text, to: D.self)
        }
        if D.self == String?.self {
            if value == .null { return unsafeBitCast(String?.none, to: D.self) }
            if let text = value.string { return unsafeBitCast(String?.some(text), to: D.self) }
        }
        if D.self == Int64.self, case .integer(let integer) = value {
            return unsafeBitCast(Int64(integer), to: D.self)
        }
        if D.self == Int64?.self {
            if value == .null { return unsafeBitCast(Int64?.none, to: D.self) }
            if case .integer(let integer) = value { return unsafeBitCast(Int64?.some(Int64(integer)), to: D.self) }
        }
        return try Self.decoder.decode(D.self, from: value)
    }
}

/// The `SQLDatabase` the stores get on SQLite: one connection, statements run at once on
/// the caller's thread.
struct SQLiteConnectionDatabase: SQLDatabase {
    let handle: SQLiteHandle
    let logger: Logger

    /// SQLiteKit's encoder builds a JSONEncoder when created: one for the process.
    private static let encoder = SQLiteDataEncoder()

    var eventLoop: any EventLoop { MultiThreadedEventLoopGroup.singleton.any() }
    var dialect: any SQLDialect { SQLiteDialect() }
    /// Statements are never logged: their binds hold patient data.
    var queryLogLevel: Logger.Level? { nil }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) -> EventLoopFuture<Void> {
        do {
            try run(query, onRow)
            return eventLoop.makeSucceededVoidFuture()
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
    }

    /// How long a statement may wait for another connection's lock (another process, or
    /// another `Database` on the same file) before failing as busy.
    static let busyLimit: Duration = .seconds(5)

    /// SQLite's own busy handler would sleep on this thread, one of Swift concurrency's
    /// few: two such sleepers stall every request (and the lock holder itself, when it
    /// needs a thread to finish). Connections have no busy timeout; the wait is here, as
    /// a task sleep, and only when retrying cannot repeat half a transaction.
    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> ()) async throws {
        var waited: Duration = .zero, pause: Duration = .milliseconds(1)
        while true {
            do {
                try run(query, onRow)
                break
            } catch let failure as SQLiteFailure where failure.isBusy && handle.outsideTransaction && waited < Self.busyLimit {
                try await Task.sleep(for: pause)
                waited += pause
                pause = min(pause * 2, .milliseconds(50))
            }
        }
        if handle.timeToYield() { await Task.yield() }
    }

    private func run(_ query: any SQLExpression, _ onRow: (any SQLRow) -> ()) throws {
        let (sql, binds) = serialize(query)
        try handle.execute(sql, binds: try binds.map(Self.value), onRow: onRow)
    }

    private static func value(_ bind: any Encodable & Sendable) throws -> SQLiteData {
        switch bind {
        case let text as String: .text(text)
        case let integer as Int: .integer(SQLiteInt64(integer))
        case let integer as Int64: .integer(SQLiteInt64(integer))
        default: try encoder.encode(bind)
        }
    }
}

/// Connections handed out one task at a time, in arrival order when all are busy.
final class SQLiteConnectionPool: Sendable {
    private struct State {
        var idle: [SQLiteHandle]
        var waiters: [CheckedContinuation<SQLiteHandle?, Never>] = []
        var closed = false
    }
    private let state: Mutex<State>
    let count: Int

    init(_ connections: [SQLiteHandle]) {
        state = Mutex(State(idle: connections))
        count = connections.count
    }

    func withConnection<T>(_ body: (SQLiteHandle) async throws -> T) async throws -> T {
        guard let connection = await checkOut() else { throw SQLiteFailure.closed }
        defer { checkIn(connection) }
        connection.handedOut()
        return try await body(connection)
    }

    private func checkOut() async -> SQLiteHandle? {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> SQLiteHandle?? in
                if state.closed { return .some(nil) }
                if let connection = state.idle.popLast() { return .some(connection) }
                state.waiters.append(continuation)
                return .none
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    private func checkIn(_ connection: SQLiteHandle) {
        let waiter = state.withLock { state -> CheckedContinuation<SQLiteHandle?, Never>? in
            if state.closed { return nil }  // dropped: it closes with its last reference
            if state.waiters.isEmpty {
                state.idle.append(connection)
                return nil
            }
            return state.waiters.removeFirst()
        }
        waiter?.resume(returning: connection)
    }

    /// Refuses new work and drops the idle connections; those in use close when returned.
    func close() {
        let waiters = state.withLock { state in
            state.closed = true
            state.idle.removeAll()
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: nil) }
    }
}

extension SQLiteFailure {
    static let closed = SQLiteFailure(code: SQLITE_MISUSE, message: "the database is closed")
}
