import ConcertoCore
import ConcertoStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Mustache

/// The one place errors become responses: French (or English) error pages with the
/// right status, a redirect to login for pages that need one, and no internals shown.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let renderer: Renderer

    struct ErrorContent: Sendable, PageModel {
        let status: Int
        let title, message, requestID: String
        /// Offered when a refusal of patient data could be lifted by break-the-glass.
        var emergencyURL: String? = nil
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let status = Self.status(for: error)
            if case AppError.notAuthenticated = error, request.method == .get || request.method == .head {
                return Response(status: .seeOther, headers: [.location: SiteURL.login.withNext(request.uri.path)])
            }
            if status.code >= 500 {
                context.logger.error("request failed", metadata: ["error": "\(String(reflecting: type(of: error))): \(error)"])
            } else if status != .notFound {
                context.logger.notice("request refused", metadata: ["status": "\(status.code)", "reason": "\(Self.reason(error))"])
            }
            return try render(status: status, error: error, request: request, context: context)
        }
    }

    static func status(for error: any Error) -> HTTPResponse.Status {
        switch error {
        case let error as AppError: error.status
        case DatabaseError.unavailable: .serviceUnavailable
        case let error as any HTTPResponseError: error.status
        default: .internalServerError
        }
    }

    /// A short log-safe reason: never an error's text, which might quote input.
    static func reason(_ error: any Error) -> String {
        if let error = error as? AppError { return "\(error)" }
        return String(describing: type(of: error))
    }

    private func render(status: HTTPResponse.Status, error: any Error, request: Request, context: Context) throws -> Response {
        // The inner middlewares did not run to the end: take the language the session chose, else the browser's.
        let language = AppLanguage.negotiate(
            preference: context.sessions.session?.language,
            acceptLanguage: request.headers[.acceptLanguage]
        )
        let key = Self.templateKey(for: status)
        var messageKey = "error_\(key)_text"
        var emergencyURL: String?
        switch error as? AppError {
        case .csrfRejected: messageKey = "error_403_csrf"
        case .unsupportedMediaType: messageKey = "error_415_text"
        case .accessDenied(let reason, let patientID):
            // Every refusal says why, in the user's language.
            messageKey = "access_reason_\(reason.rawValue)"
            // The guard names the patient only when break-the-glass could lift the refusal.
            if let patientID {
                emergencyURL = SiteURL.patientEmergencyAccess(patientID).path
            }
        default: break
        }
        let content = ErrorContent(
            status: Int(status.code),
            title: Localization.text("error_\(key)_title", in: language),
            message: Localization.text(messageKey, in: language),
            requestID: context.logger[metadataKey: "request_id"]?.description ?? context.id,
            emergencyURL: emergencyURL
        )
        let layout = LayoutModel(
            signedInUser: nil, csrfToken: "", flash: nil, currentPath: request.uri.path
        )
        var response = try renderer.html("error", Page(language: language, layout: layout, content: content), status: status)
        if let httpError = error as? HTTPError {
            // Keep headers such as Allow on 405.
            for field in httpError.headers where response.headers[field.name] == nil {
                response.headers.append(field)
            }
        }
        return response
    }

    static func templateKey(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400, 401, 403, 404, 413, 503: String(status.code)
        case 400..<500: "400"
        default: "500"
        }
    }
}
