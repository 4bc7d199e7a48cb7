import ConcertoStore
import Foundation
import HTTPTypes
import Hummingbird
import Prometheus

/// Endpoints for operators and load balancers: health, metrics, and a plain-text ping.
struct OperationsController: Sendable {
    let database: Database
    let metrics: HTTPMetrics
    /// Who may read /metrics besides a scraper on this machine: a bearer of this token.
    let metricsToken: String?

    func addRoutes(to router: some RouterMethods<AppRequestContext>) {
        router.get(SiteURL.route(.healthz), use: health)
        router.get(SiteURL.route(.metrics), use: prometheus)
        router.get(SiteURL.route(.ping), use: ping)
    }

    @Sendable func health(_ request: Request, context: AppRequestContext) async throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        do {
            let database = database
            _ = try await withTimeout(.seconds(3)) {
                try await database.read { try await $0.raw("SELECT 1 AS ok").first() }
            }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok","database":"ok"}"#)))
        } catch {
            context.logger.error("health check: database unreachable", metadata: ["error": "\(type(of: error))"])
            return Response(status: .serviceUnavailable, headers: headers, body: .init(byteBuffer: ByteBuffer(string: #"{"status":"error","database":"unreachable"}"#)))
        }
    }

    /// Metrics tell request volumes per route and error rates: for the machine's own
    /// scraper (loopback) or a bearer of `CONCERTO_METRICS_TOKEN`; others get a 404.
    @Sendable func prometheus(_ request: Request, context: AppRequestContext) async throws -> Response {
        let presented = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        let tokenMatches = metricsToken.map { expected in presented.map { CSRFToken.matches($0, expected) } ?? false } ?? false
        guard tokenMatches || Self.isLoopback(context.clientAddress) else { throw AppError.notFound }
        var buffer: [UInt8] = []
        metrics.registry.emit(into: &buffer)
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
    }

    static func isLoopback(_ address: String?) -> Bool {
        guard let address else { return false }
        return address.hasPrefix("127.") || address == "::1" || address.hasPrefix("::ffff:127.")
    }

    /// No database, no session: the ceiling for benchmarks and a liveness probe.
    @Sendable func ping(_ request: Request, context: AppRequestContext) async throws -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: "pong\n")))
    }
}
