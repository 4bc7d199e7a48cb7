import ConcertoStore
import Foundation
import HTTPTypes
import Hummingbird
import Prometheus

/// Endpoints for operators and load balancers: health, metrics, and a plain-text ping.
struct OperationsController: Sendable {
    let database: Database
    let metrics: HTTPMetrics

    func addRoutes(to router: some RouterMethods<AppRequestContext>) {
        router.get(RouterPath(SiteURL.healthz.pattern), use: health)
        router.get(RouterPath(SiteURL.metrics.pattern), use: prometheus)
        router.get(RouterPath(SiteURL.ping.pattern), use: ping)
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

    @Sendable func prometheus(_ request: Request, context: AppRequestContext) async throws -> Response {
        var buffer: [UInt8] = []
        metrics.registry.emit(into: &buffer)
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
    }

    /// No database, no session: the ceiling for benchmarks and a liveness probe.
    @Sendable func ping(_ request: Request, context: AppRequestContext) async throws -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: "pong\n")))
    }
}
