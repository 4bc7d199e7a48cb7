import ConcertoCore
import Foundation
import Logging
import Synchronization

/// What a follower's stream receives: an event, or the heartbeat that keeps it open.
public enum LiveSignal: Sendable, Equatable {
    case event(MeetingEvent)
    case heartbeat
}

/// This instance's followers, per meeting, and the source of their events: on PostgreSQL a
/// LISTEN connection of its own (re-established when lost, then followers caught up from
/// the stored events); on SQLite the commits of this process.
public final class MeetingEventFeed: Sendable {
    let database: Database
    let store: MeetingEventStore
    let heartbeatInterval: Duration
    let logger: Logger

    private struct State {
        var nextID = 0
        var followers: [UUID: [Int: AsyncStream<LiveSignal>.Continuation]] = [:]
        /// The last event each meeting's followers were given, to catch up after a reconnect.
        var lastSeq: [UUID: Int64] = [:]
        var listening = false
        var closed = false
    }
    private let state = Mutex(State())

    public init(database: Database, heartbeat: Duration = .seconds(15), logger: Logger) {
        self.database = database
        self.store = MeetingEventStore(database: database)
        self.heartbeatInterval = heartbeat
        self.logger = logger
        if database.engine == .sqlite {
            database.localEvents.subscribe { [weak self] event in self?.deliver(event) }
        }
    }

    /// A stream of the meeting's events from now on, and heartbeats. It ends when the feed
    /// closes (server shutdown); the caller ending its iteration unsubscribes.
    public func follow(meetingID: UUID) -> AsyncStream<LiveSignal> {
        // A follower far behind gets the newest signals; it notices the gap in the numbers
        // and reads the missed events from the store.
        let (stream, continuation) = AsyncStream.makeStream(of: LiveSignal.self, bufferingPolicy: .bufferingNewest(64))
        let id: Int? = state.withLock { state in
            guard !state.closed else { return nil }
            state.nextID += 1
            state.followers[meetingID, default: [:]][state.nextID] = continuation
            return state.nextID
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { state in
                state.followers[meetingID]?[id] = nil
                if state.followers[meetingID]?.isEmpty == true {
                    state.followers[meetingID] = nil
                    state.lastSeq[meetingID] = nil
                }
            }
        }
        return stream
    }

    /// A follower read the stored events up to `seq`: the reconnect catch-up starts there.
    public func noteDelivered(meetingID: UUID, seq: Int64) {
        state.withLock { state in
            guard state.followers[meetingID] != nil else { return }
            state.lastSeq[meetingID] = max(state.lastSeq[meetingID] ?? 0, seq)
        }
    }

    public var followerCount: Int { state.withLock { $0.followers.values.reduce(0) { $0 + $1.count } } }

    /// On PostgreSQL, whether the LISTEN connection is in place (health and tests).
    public var isListening: Bool { state.withLock { $0.listening } }

    func deliver(_ event: MeetingEvent) {
        let targets = state.withLock { state -> [AsyncStream<LiveSignal>.Continuation] in
            guard let followers = state.followers[event.meetingID] else { return [] }
            state.lastSeq[event.meetingID] = max(state.lastSeq[event.meetingID] ?? 0, event.seq)
            return Array(followers.values)
        }
        for continuation in targets { continuation.yield(.event(event)) }
    }

    /// Runs until cancelled: the heartbeat, and on PostgreSQL the listener.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.beat() }
            if database.engine == .postgres {
                group.addTask { await self.listen() }
            }
            await group.waitForAll()
        }
    }

    /// Ends every follower's stream (their responses finish) and refuses new ones.
    public func close() {
        let all = state.withLock { state -> [AsyncStream<LiveSignal>.Continuation] in
            state.closed = true
            defer { state.followers = [:] }
            return state.followers.values.flatMap(\.values)
        }
        for continuation in all { continuation.finish() }
    }

    private func beat() async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: heartbeatInterval) } catch { return }
            let all = state.withLock { $0.followers.values.flatMap(\.values) }
            for continuation in all { continuation.yield(.heartbeat) }
        }
    }

    private func listen() async {
        var delay: Duration = .milliseconds(100)
        while !Task.isCancelled {
            do {
                try await database.listen(channel: MeetingEventStore.channel, onListening: {
                    self.state.withLock { $0.listening = true }
                    await self.catchUp()
                }, onNotification: { payload in
                    if let event = MeetingEvent(wirePayload: payload) { self.deliver(event) }
                })
            } catch {
                if Task.isCancelled { break }
                // The error names the connection's trouble, never an event's content.
                logger.warning("Séance listener lost its PostgreSQL connection; reconnecting", metadata: ["error": "\(String(describing: error).prefix(200))"])
            }
            // Quick retries after a connection that worked, slower ones while the server stays down.
            let wasListening = state.withLock { state in
                defer { state.listening = false }
                return state.listening
            }
            if wasListening { delay = .milliseconds(100) }
            do { try await Task.sleep(for: delay) } catch { break }
            delay = min(delay * 2, .seconds(2))
        }
        state.withLock { $0.listening = false }
    }

    /// After (re)connecting: what was committed while nobody listened, read from the table.
    private func catchUp() async {
        let meetings = state.withLock { state in state.followers.keys.map { ($0, state.lastSeq[$0]) } }
        for (meetingID, last) in meetings {
            // A meeting whose followers have been given nothing yet: they read the store
            // themselves when they connected, and notice any gap from the numbers.
            guard let last else { continue }
            do {
                for event in try await store.events(of: meetingID, after: last) { deliver(event) }
            } catch {
                logger.warning("Séance catch-up failed; followers will catch up on the next event", metadata: ["error": "\(String(describing: error).prefix(200))"])
            }
        }
    }
}
