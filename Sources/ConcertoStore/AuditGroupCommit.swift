import Foundation
import SQLKit
import Synchronization

/// Group commit of audit events: the events of concurrent requests are written by one
/// multi-row INSERT, one commit and one sync, instead of one each. Every request still
/// waits until its own event is committed (`submit` returns only then), so nothing is
/// shown that was not recorded. On PostgreSQL the events are stored waiting for the
/// cluster's sequencer; on SQLite, whose writes are one at a time anyway, the batch is
/// chained in the same transaction (`AuditSequencer.appendSealed`).
///
/// No thread of its own: the first request to arrive while nobody writes becomes the
/// writer; those arriving meanwhile queue. When its INSERT has landed, the writer wakes
/// the requests it wrote for, and hands the pen to the first one still queued, which
/// writes everything queued by then. So a batch is whatever arrived during the previous
/// write: one event when the server is idle, dozens under load, and no request waits for
/// more than the write in progress and its own.
final class AuditGroupCommit: Sendable {
    /// At most this many events per INSERT (13 parameters each, far below both engines' limits).
    static let maximumBatch = 200

    private enum Turn: Sendable {
        case written
        case write
    }

    private struct Waiter {
        var row: AuditLog.WaitingEvent
        var continuation: CheckedContinuation<Turn, any Error>
    }

    private struct State {
        var queue: [Waiter] = []
        var writing = false
    }

    private let state = Mutex(State())
    /// Batches written and events in them, for the benchmark's report.
    private let counters = Mutex((batches: 0, events: 0))

    var statistics: (batches: Int, events: Int) { counters.withLock { $0 } }

    func submit(_ row: AuditLog.WaitingEvent, database: Database) async throws {
        let turn = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Turn, any Error>) in
            let writeNow = state.withLock { state -> Bool in
                if state.writing {
                    state.queue.append(Waiter(row: row, continuation: continuation))
                    return false
                }
                state.writing = true
                return true
            }
            if writeNow { continuation.resume(returning: .write) }
        }
        guard case .write = turn else { return }

        let others = state.withLock { state -> [Waiter] in
            let taken = Array(state.queue.prefix(Self.maximumBatch - 1))
            state.queue.removeFirst(taken.count)
            return taken
        }
        let outcome: Result<Void, any Error>
        do {
            let rows = [row] + others.map(\.row)
            if database.engine == .sqlite {
                try await database.write { sql in try await AuditSequencer.appendSealed(rows, on: sql, database: database) }
            } else {
                try await database.writeStatement { sql in try await AuditLog.insertWaiting(rows, on: sql) }
            }
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        counters.withLock { $0.batches += 1; $0.events += 1 + others.count }
        for waiter in others {
            switch outcome {
            case .success: waiter.continuation.resume(returning: .written)
            case .failure(let error): waiter.continuation.resume(throwing: error)
            }
        }
        let next = state.withLock { state -> Waiter? in
            guard !state.queue.isEmpty else {
                state.writing = false
                return nil
            }
            return state.queue.removeFirst()
        }
        next?.continuation.resume(returning: .write)
        try outcome.get()
    }
}
