import Foundation
import HTTPTypes
import Hummingbird

/// Synchroniser-token CSRF protection: every state-changing request must carry the
/// session's token, as the `_csrf` form field or the `X-CSRF-Token` header. It also reads
/// urlencoded bodies once (bounded by the configured limit) for the handlers.
struct CSRFMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    static let fieldName = "_csrf"
    static let headerName = HTTPField.Name("X-CSRF-Token")!

    let maxBodyBytes: Int
    /// Multipart bodies (document uploads) may be larger than forms.
    let maxUploadBytes: Int
    let maxUploadFiles: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        switch request.method {
        case .get, .head, .options:
            return try await next(request, context)
        default:
            break
        }
        var request = request
        var context = context
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        if contentType.hasPrefix("application/x-www-form-urlencoded") {
            let buffer: ByteBuffer
            do {
                buffer = try await request.collectBody(upTo: maxBodyBytes)
            } catch let error as HTTPError where error.status == .contentTooLarge {
                throw AppError.payloadTooLarge
            }
            do {
                context.form = try FormData(urlEncoded: String(buffer: buffer))
            } catch {
                throw AppError.badRequest
            }
        } else if contentType.hasPrefix("multipart/form-data") {
            let buffer: ByteBuffer
            do {
                buffer = try await request.collectBody(upTo: maxUploadBytes)
            } catch let error as HTTPError where error.status == .contentTooLarge {
                throw AppError.payloadTooLarge
            }
            // The boundary is case-sensitive: read it from the header as sent.
            let body = try MultipartBody(contentType: request.headers[.contentType] ?? "", body: buffer)
            guard body.files.count <= maxUploadFiles else { throw AppError.payloadTooLarge }
            context.form = FormData(fields: body.fields)
            context.uploads = body.files
        }
        let presented = request.headers[Self.headerName] ?? context.form?[Self.fieldName]
        guard let expected = context.sessions.session?.csrfToken,
              let presented, CSRFToken.matches(presented, expected)
        else {
            throw AppError.csrfRejected
        }
        return try await next(request, context)
    }
}
