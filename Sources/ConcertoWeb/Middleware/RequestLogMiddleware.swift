import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Prometheus
import Synchronization

/// Outermost middleware: gives each request an id (kept from `X-Request-Id` when sane),
/// logs one structured line per request and counts it for `/metrics`.
/// Only the path is logged, never the query string or body, which may carry patient data.
struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    static var headerName: HTTPField.Name { HTTPField.Name("X-Request-Id")! }
    let metrics: HTTPMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        var context = context
        // Hummingbird names each request (`hb.request.id`); an id from the caller (a proxy,
        // another service) is kept beside it so logs can be joined across systems.
        let callerID = request.headers[Self.headerName].flatMap(Self.sanitised)
        if let callerID { context.logger[metadataKey: "request_id"] = .string(callerID) }
        let requestID = callerID ?? context.id
        do {
            var response = try await next(request, context)
            response.headers[Self.headerName] = requestID
            record(request, context: context, status: response.status, since: start)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status ?? .internalServerError
            record(request, context: context, status: status, since: start)
            throw error
        }
    }

    private func record(_ request: Request, context: Context, status: HTTPResponse.Status, since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        let route = context.endpointPath ?? "unmatched"
        metrics.record(method: request.method.rawValue, route: route, status: status.code, duration: elapsed)
        let level: Logger.Level = status.code >= 500 ? .error : .info
        context.logger.log(level: level, "request", metadata: [
            "method": .string(request.method.rawValue),
            "path": .string(Self.loggablePath(request.uri.path)),
            "status": .stringConvertible(status.code),
            "duration_us": .stringConvertible(elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000),
        ])
    }

    /// The path without the secrets some paths carry (a calendar feed's token, a password link's).
    static func loggablePath(_ path: String) -> String {
        if path.hasPrefix("/calendar/"), path.hasSuffix(".ics") { return "/calendar/[token].ics" }
        if path.hasPrefix("/password-reset/") { return "/password-reset/[token]" }
        return path
    }

    /// Accepts ids made of letters, digits, '-' and '_', up to 64 characters.
    static func sanitised(_ raw: String) -> String? {
        guard !raw.isEmpty, raw.count <= 64,
              raw.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        else { return nil }
        return raw
    }
}

/// Request counters and latency histogram in our Prometheus registry.
public struct HTTPMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let instruments = Instruments()

    static let buckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
    ]

    // Computed: the descriptor type is not Sendable; it is needed only when an instrument is made.
    static var requestsTotal: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "concerto", subsystem: "http", metricName: "requests", unitName: "total",
            helpText: "HTTP requests by method, route pattern and status."
        )
    }
    static var requestDuration: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "concerto", subsystem: "http", metricName: "request_duration", unitName: "seconds",
            helpText: "Time to answer HTTP requests, by method and route pattern."
        )
    }

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func record(method: String, route: String, status: Int, duration: Duration) {
        let (counter, histogram) = instruments.get(Instruments.Key(method: method, route: route, status: status)) { key in
            (
                registry.makeCounter(
                    descriptor: Self.requestsTotal,
                    labels: [("method", key.method), ("route", key.route), ("status", String(key.status))]
                ),
                registry.makeDurationHistogram(
                    descriptor: Self.requestDuration,
                    labels: [("method", key.method), ("route", key.route)],
                    buckets: Self.buckets
                )
            )
        }
        counter.increment()
        histogram.record(duration)
    }

    /// The registry builds label strings on every lookup; we keep the instruments per key.
    final class Instruments: Sendable {
        struct Key: Hashable, Sendable {
            let method: String
            let route: String
            let status: Int
        }
        private let cache = Mutex<[Key: (Counter, DurationHistogram)]>([:])

        func get(_ key: Key, make: (Key) -> (Counter, DurationHistogram)) -> (Counter, DurationHistogram) {
            if let found = cache.withLock({ $0[key] }) { return found }
            let made = make(key)
            cache.withLock { $0[key] = made }
            return made
        }
    }
}
