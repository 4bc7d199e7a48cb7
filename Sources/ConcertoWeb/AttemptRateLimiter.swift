import Foundation
import Synchronization

/// At most `limit` unsuccessful attempts per client address in any sliding `window` (login
/// and its second step): guessing from one address is slowed to a crawl whatever the
/// accounts tried, on top of each account's lock. An attempt is counted before it is
/// checked (parallel guesses cannot overshoot) and given back when it succeeds: a
/// hospital's clinicians share one address and log in all morning. Per server instance,
/// in memory.
final class AttemptRateLimiter: Sendable {
    let limit: Int
    let window: TimeInterval
    /// Addresses remembered at most; beyond, the quietest are forgotten first.
    let capacity: Int
    private let attempts = Mutex<[String: [Date]]>([:])

    init(limit: Int, window: TimeInterval = 60, capacity: Int = 10_000) {
        self.limit = limit
        self.window = window
        self.capacity = capacity
    }

    /// Takes one attempt for `key`; nil when allowed, else how many seconds until the
    /// next one would be.
    func take(_ key: String, at now: Date = Date()) -> Int? {
        attempts.withLock { table in
            var recent = (table[key] ?? []).filter { now.timeIntervalSince($0) < window }
            if recent.count >= limit {
                table[key] = recent
                return max(1, Int((window - now.timeIntervalSince(recent[0])).rounded(.up)))
            }
            recent.append(now)
            table[key] = recent
            if table.count > capacity {
                let stale = table.filter { $0.value.allSatisfy { now.timeIntervalSince($0) >= window } }.map(\.key)
                for key in stale { table[key] = nil }
                while table.count > capacity, let quietest = table.min(by: { $0.value.count < $1.value.count })?.key { table[quietest] = nil }
            }
            return nil
        }
    }

    /// Returns the attempt taken for `key` at `takenAt`: it succeeded.
    func giveBack(_ key: String, takenAt: Date) {
        attempts.withLock { table in
            guard var recent = table[key], let index = recent.lastIndex(of: takenAt) else { return }
            recent.remove(at: index)
            table[key] = recent.isEmpty ? nil : recent
        }
    }
}
