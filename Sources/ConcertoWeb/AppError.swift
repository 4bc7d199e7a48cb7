import ConcertoCore
import Foundation
import HTTPTypes

/// Errors a handler may throw; the error middleware maps each once to a status and a page.
public enum AppError: Error, Equatable, Sendable {
    /// No logged-in user: redirect to the login page.
    case notAuthenticated
    /// Logged in, but this is not for them.
    case forbidden
    /// The access policy refused patient data; the page says why (and offers
    /// break-the-glass when it could help).
    case accessDenied(AccessReason, patientID: UUID?)
    /// Missing or wrong CSRF token on a state-changing request.
    case csrfRejected
    case notFound
    /// The request cannot be understood (malformed form, bad parameter).
    case badRequest
    case payloadTooLarge
    /// A body of a kind this route does not take (a file upload outside the upload routes).
    case unsupportedMediaType

    var status: HTTPResponse.Status {
        switch self {
        case .notAuthenticated: .unauthorized
        case .forbidden, .csrfRejected, .accessDenied: .forbidden
        case .notFound: .notFound
        case .badRequest: .badRequest
        case .payloadTooLarge: .contentTooLarge
        case .unsupportedMediaType: .unsupportedMediaType
        }
    }
}
