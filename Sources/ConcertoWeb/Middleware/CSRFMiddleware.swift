import Foundation
import HTTPTypes
import Hummingbird

/// Synchroniser-token CSRF protection: every state-changing request must carry the
/// session's token, as the `_csrf` form field or the `X-CSRF-Token` header. It also reads
/// urlencoded and multipart bodies once for the handlers, and only when they may be read:
/// a request without a session (so without a token) or with a wrong header token is
/// refused before a byte of its body is read; multipart is accepted only on the upload
/// routes and from a logged-in user; each kind has its own size limit.
struct CSRFMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    static let fieldName = "_csrf"
    static let headerName = HTTPField.Name("X-CSRF-Token")!

    /// Largest urlencoded form.
    let maxBodyBytes: Int
    /// Multipart bodies (document uploads) may be larger than forms.
    let maxUploadBytes: Int
    let maxUploadFiles: Int
    /// The paths that take multipart uploads.
    let isUploadPath: @Sendable (String) -> Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        switch request.method {
        case .get, .head, .options:
            return try await next(request, context)
        default:
            break
        }
        guard let expected = context.sessions.session?.csrfToken else { throw AppError.csrfRejected }
        let headerToken = request.headers[Self.headerName]
        if let headerToken, !CSRFToken.matches(headerToken, expected) { throw AppError.csrfRejected }
        var request = request
        var context = context
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        if contentType.hasPrefix("application/x-www-form-urlencoded") {
            let buffer = try await Self.collect(&request, upTo: maxBodyBytes)
            do {
                context.form = try FormData(urlEncoded: String(buffer: buffer))
            } catch {
                throw AppError.badRequest
            }
        } else if contentType.hasPrefix("multipart/form-data") {
            guard isUploadPath(request.uri.path) else { throw AppError.unsupportedMediaType }
            guard context.user != nil else { throw AppError.csrfRejected }
            let buffer = try await Self.collect(&request, upTo: maxUploadBytes)
            // The boundary is case-sensitive: read it from the header as sent.
            let body = try MultipartBody(contentType: request.headers[.contentType] ?? "", body: buffer)
            guard body.files.count <= maxUploadFiles else { throw AppError.payloadTooLarge }
            context.form = FormData(fields: body.fields)
            context.uploads = body.files
        }
        guard let presented = headerToken ?? context.form?[Self.fieldName], CSRFToken.matches(presented, expected) else {
            throw AppError.csrfRejected
        }
        return try await next(request, context)
    }

    /// The body, refused as soon as it passes `limit` (a declared length over it is refused unread).
    static func collect(_ request: inout Request, upTo limit: Int) async throws -> ByteBuffer {
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit { throw AppError.payloadTooLarge }
        do {
            return try await request.collectBody(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw AppError.payloadTooLarge
        }
    }
}
