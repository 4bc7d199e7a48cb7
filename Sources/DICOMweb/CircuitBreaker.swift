import Foundation
import Synchronization

/// Stops calling an exchange that keeps failing: after `failureThreshold` failures in a row
/// the breaker opens and calls fail at once for `openInterval`; then one trial call goes
/// through (half-open) and its outcome closes or re-opens the breaker. Per process: each
/// server instance protects itself.
public final class CircuitBreaker: Sendable {
    public enum State: Sendable, Equatable {
        case closed
        case open(until: Date)
        case halfOpen
    }

    private struct Counters {
        var state: State = .closed
        var consecutiveFailures = 0
        var trialInFlight = false
        var lastFailure: Date?
    }

    private let failureThreshold: Int
    private let openInterval: TimeInterval
    private let counters = Mutex(Counters())

    public init(failureThreshold: Int, openInterval: TimeInterval) {
        self.failureThreshold = max(1, failureThreshold)
        self.openInterval = openInterval
    }

    public var state: State { counters.withLock { $0.state } }

    /// When the last failure happened, if the exchange has not answered since.
    public var failingSince: Date? { counters.withLock { $0.consecutiveFailures > 0 ? $0.lastFailure : nil } }

    /// Whether a call may go out now; an open breaker past its interval lets one trial through.
    public func permit(at now: Date = Date()) -> Bool {
        counters.withLock { counters in
            switch counters.state {
            case .closed:
                return true
            case .open(let until):
                guard now >= until else { return false }
                counters.state = .halfOpen
                counters.trialInFlight = true
                return true
            case .halfOpen:
                guard !counters.trialInFlight else { return false }
                counters.trialInFlight = true
                return true
            }
        }
    }

    public func recordSuccess() {
        counters.withLock { counters in
            counters = Counters()
        }
    }

    public func recordFailure(at now: Date = Date()) {
        counters.withLock { counters in
            counters.consecutiveFailures += 1
            counters.lastFailure = now
            counters.trialInFlight = false
            if counters.state == .halfOpen || counters.consecutiveFailures >= failureThreshold {
                counters.state = .open(until: now.addingTimeInterval(openInterval))
            }
        }
    }
}
