import HTTPTypes
import Hummingbird

/// Headers that make the browser refuse what we never do: inline script, framing,
/// MIME sniffing, leaking URLs to other sites.
struct SecurityHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    let strictTransportSecurity: Bool
    let contentSecurityPolicy: String

    /// `formActionOrigins`: other sites a form's redirect may lead to (Pro Santé Connect's
    /// logout), since browsers apply `form-action` to the redirects after a submission.
    init(strictTransportSecurity: Bool, formActionOrigins: [String] = []) {
        self.strictTransportSecurity = strictTransportSecurity
        self.contentSecurityPolicy = Self.contentSecurityPolicy(formActionOrigins: formActionOrigins)
    }

    static func contentSecurityPolicy(formActionOrigins: [String] = []) -> String {
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
            + "base-uri 'none'; form-action \((["'self'"] + formActionOrigins).joined(separator: " ")); frame-ancestors 'none'"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.contentSecurityPolicy] = contentSecurityPolicy
        response.headers[.xContentTypeOptions] = "nosniff"
        // A page may ask for less (a password link's page sends no referrer at all).
        if response.headers[.concertoReferrerPolicy] == nil { response.headers[.concertoReferrerPolicy] = "same-origin" }
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        response.headers[HTTPField.Name("Permissions-Policy")!] = "camera=(), microphone=(), geolocation=()"
        response.headers[HTTPField.Name("Cross-Origin-Opener-Policy")!] = "same-origin"
        if strictTransportSecurity {
            response.headers[.strictTransportSecurity] = "max-age=31536000; includeSubDomains"
        }
        return response
    }
}

extension HTTPField.Name {
    static var concertoReferrerPolicy: HTTPField.Name { HTTPField.Name("Referrer-Policy")! }
}
