import Foundation
import Logging
import SQLKit
import Synchronization

/// When a SQLite commit is on disk. `full` (the default): before the commit returns, so an
/// acknowledged request survives a power cut too; group commit (`AuditGroupCommit`) makes
/// that one sync per batch of audit events. `normal`: the write-ahead log is synced only at
/// checkpoints; a process crash loses nothing, a power cut may lose the last commits.
public enum SQLiteSynchronous: String, Sendable, CaseIterable {
    case full
    case normal
}

/// Serialises work: one body at a time, in arrival order. Tasks wait without holding a
/// thread; a thread of its own (the SQLite checkpointer) may also take its turn, blocking
/// only itself.
final class AsyncSerialLock: Sendable {
    private enum Waiter {
        case task(CheckedContinuation<Void, Never>)
        case thread(DispatchSemaphore)
    }
    private struct State {
        var locked = false
        var waiters: [Waiter] = []
    }
    private let state = Mutex(State())

    func withLock<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await acquire()
        defer { release() }
        return try await body()
    }

    /// For threads outside Swift concurrency only: blocks the calling thread until its turn.
    func withLockBlocking<T>(_ body: () throws -> T) rethrows -> T {
        let turn = DispatchSemaphore(value: 0)
        if !takeOrQueue(.thread(turn)) { turn.wait() }
        defer { release() }
        return try body()
    }

    private func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            if takeOrQueue(.task(continuation)) { continuation.resume() }
        }
    }

    /// Takes the lock when free (true); otherwise queues `waiter`, whom `release` wakes.
    private func takeOrQueue(_ waiter: Waiter) -> Bool {
        state.withLock { state in
            if state.locked {
                state.waiters.append(waiter)
                return false
            }
            state.locked = true
            return true
        }
    }

    /// Hands the lock to the first waiter, if any (it stays locked), else unlocks.
    private func release() {
        let next = state.withLock { state -> Waiter? in
            if state.waiters.isEmpty {
                state.locked = false
                return nil
            }
            return state.waiters.removeFirst()
        }
        switch next {
        case .task(let continuation): continuation.resume()
        case .thread(let turn): turn.signal()
        case nil: break
        }
    }
}

/// A SQLite file (or in-memory database) opened the way Concerto uses it: one writer
/// connection behind a lock (SQLite allows one writer), a pool of read-only WAL readers,
/// and checkpoints on a thread of their own. `ConcertoStore.Database` sits on top.
public final class SQLiteBackend: Sendable {
    let writer: SQLiteHandle
    let readers: SQLiteConnectionPool
    let checkpointer: SQLiteCheckpointer?
    let writeLock: AsyncSerialLock
    let closed = Atomic<Bool>(false)
    let logger: Logger

    private init(writer: SQLiteHandle, writeLock: AsyncSerialLock, readers: [SQLiteHandle], checkpointer: SQLiteCheckpointer?, logger: Logger) {
        self.writer = writer
        self.writeLock = writeLock
        self.readers = SQLiteConnectionPool(readers)
        self.checkpointer = checkpointer
        self.logger = logger
    }

    /// SQLite calls run on the calling task's thread. They take microseconds: in WAL mode a
    /// reader never waits for the writer, and the writer waits only for another process
    /// writing the same file (retried as task sleeps, see `SQLiteConnectionDatabase`) or for
    /// the checkpointer's short locked pass.
    public static func open(storage: SQLiteStorage, readers readerCount: Int, synchronous: SQLiteSynchronous, logger: Logger) throws -> SQLiteBackend {
        let path = switch storage {
        case .file(let path): path
        case .memory: ":memory:"
        }
        let writer = try SQLiteHandle(path: path)
        let writeLock = AsyncSerialLock()
        try configure(writer)
        var checkpointer: SQLiteCheckpointer?
        if case .file = storage {
            try writer.run("PRAGMA journal_mode = WAL")
            try writer.run("PRAGMA synchronous = \(synchronous.rawValue.uppercased())")
            // Checkpoints off the request path (SQLiteCheckpointer says why).
            try writer.run("PRAGMA wal_autocheckpoint = 0")
            let background = try SQLiteCheckpointer(path: path, writeLock: writeLock, logger: logger)
            writer.reportCommits(to: background)
            checkpointer = background
        }
        var readers: [SQLiteHandle] = []
        for _ in 0..<readerCount {
            let reader = try SQLiteHandle(path: path)
            try configure(reader)
            try reader.run("PRAGMA query_only = ON")
            readers.append(reader)
        }
        // Opening may wait for another process (switching to WAL takes a lock); once
        // open, waits for locks happen as task sleeps in `SQLiteConnectionDatabase.execute`,
        // never as sleeps of one of Swift concurrency's few threads.
        for connection in [writer] + readers {
            try connection.run("PRAGMA busy_timeout = 0")
        }
        return SQLiteBackend(writer: writer, writeLock: writeLock, readers: readers, checkpointer: checkpointer, logger: logger)
    }

    private static func configure(_ connection: SQLiteHandle) throws {
        try connection.run("PRAGMA busy_timeout = 5000")
        try connection.run("PRAGMA foreign_keys = ON")
    }

    /// All statements of a read body in one read transaction: one consistent snapshot, and
    /// one look at the write-ahead log instead of one per statement.
    public func read<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        guard readers.count > 0 else { return try await withWriter(body) }
        return try await readers.withConnection { reader in
            try reader.run("BEGIN")
            do {
                let result = try await body(database(reader))
                try reader.run("COMMIT")
                return result
            } catch {
                try? reader.run("ROLLBACK")
                throw error
            }
        }
    }

    /// Runs `body` on the writer connection, alone; no transaction is begun (one statement
    /// is its own transaction; `write` wraps several in one).
    public func withWriter<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await writeLock.withLock {
            guard !closed.load(ordering: .acquiring) else { throw SQLiteFailure.closed }
            writer.handedOut()
            return try await body(database(writer))
        }
    }

    /// Runs `body` in one write transaction, taken at once (`BEGIN IMMEDIATE`, so it never
    /// fails halfway for want of the lock); rolled back if `body` throws.
    public func write<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await withWriter { try await $0.inTransaction(begin: "BEGIN IMMEDIATE", body) }
    }

    private func database(_ handle: SQLiteHandle) -> any SQLDatabase {
        SQLiteConnectionDatabase(handle: handle, logger: logger)
    }

    /// Connections close when their last reference goes (`SQLiteHandle.deinit`).
    public func close() async {
        closed.store(true, ordering: .releasing)
        readers.close()
        await checkpointer?.shutdown()
    }
}

public enum SQLiteStorage: Sendable {
    case file(String)
    case memory
}
