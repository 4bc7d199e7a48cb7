import ConcertoCore
import ConcertoStore
import Foundation
import Hummingbird
import HummingbirdAuth
import Logging
import NIOCore
import ProSanteConnect

/// A one-shot message shown on the next page (after a redirect).
public struct Flash: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case success, error, info }
    public var kind: Kind
    /// Key into the localisation table.
    public var messageKey: String
}

/// What a browser session carries. Anonymous visitors get one too, for the CSRF token
/// of the login form.
public struct WebSession: Codable, Sendable, Equatable, SessionOwned {
    public var csrfToken: String
    public var userID: UUID?
    /// The account as last read from the database (see `CurrentUserMiddleware`).
    public var user: User?
    public var authenticatedAt: Date?
    public var lastSeenAt: Date?
    /// Password accepted, second factor awaited.
    public var pendingUserID: UUID?
    public var pendingSince: Date?
    /// TOTP secret shown during enrolment, until the user confirms a code.
    public var enrolmentSecret: String?
    public var language: AppLanguage?
    public var flash: Flash?
    /// How this session was opened (audit trail, second-factor rule, logout at PSC).
    public var authMethod: AuthenticationMethod?
    /// A Pro Santé Connect login under way: its state, nonce and PKCE verifier.
    public var pscPending: PendingAuthorization?
    /// The ID token of a PSC login, sent back to PSC as `id_token_hint` at logout.
    public var pscIDToken: String?
    /// The access request this browser filed through PSC (its waiting page).
    public var accountRequestID: UUID?

    public init(csrfToken: String = CSRFToken.generate(), language: AppLanguage? = nil) {
        self.csrfToken = csrfToken
        self.language = language
    }

    /// The account this session is (or is becoming, at the second step) logged in as.
    public var ownerID: UUID? { userID ?? pendingUserID }
    public var ownerAuthenticatedAt: Date? { userID != nil ? authenticatedAt : pendingSince }
}

/// The session cookie, and the prefix of its id in the session store.
enum SessionCookie {
    static let name = "concerto_session"
    static let keyPrefix = "s."
}

public enum CSRFToken {
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// Compares without an early exit so timing says nothing about the token.
    static func matches(_ candidate: String, _ expected: String) -> Bool {
        !expected.isEmpty && ConstantTime.equals(candidate, expected)
    }
}

/// The context of every request: session, current user (if any), interface language.
public struct AppRequestContext: SessionRequestContext, RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let sessions: SessionContext<WebSession>
    public var user: User?
    public var language: AppLanguage = .default
    /// The parsed urlencoded body of a state-changing request (read once by the CSRF check).
    public var form: FormData?
    /// Files of a multipart state-changing request (read with its fields by the CSRF check).
    public var uploads: [UploadedFile] = []
    /// The peer's IP address, for the audit trail (the proxy's when behind one).
    public let clientAddress: String?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.sessions = .init()
        self.clientAddress = source.channel.remoteAddress?.ipAddress
    }

    /// An audit event by whoever is logged in (nobody, for failed logins), with the
    /// request's address and id.
    func auditDraft(
        _ action: AuditAction, actor: User?, resourceType: String, resourceID: String? = nil, patientID: UUID? = nil,
        mode: AccessMode = .normal, outcome: AuditOutcome, reason: String? = nil
    ) -> AuditDraft {
        AuditDraft(request: self, action, actor: actor, resourceType: resourceType, resourceID: resourceID, patientID: patientID,
                   mode: mode, outcome: outcome, reason: reason, clientAddress: clientAddress)
    }
}

extension AuditDraft {
    /// An event of this request: its actor's organisation, address and request id.
    init(
        request context: some RequestContext, _ action: AuditAction, actor: User?, resourceType: String, resourceID: String?,
        patientID: UUID?, mode: AccessMode, outcome: AuditOutcome, reason: String?, clientAddress: String?
    ) {
        self.init(
            actorID: actor?.id, organisationID: actor?.organisationID, action: action, resourceType: resourceType,
            resourceID: resourceID, patientID: patientID, mode: mode, outcome: outcome, reason: reason,
            // The id the response carries in X-Request-Id: the caller's, else Hummingbird's.
            clientAddress: clientAddress, requestID: context.logger[metadataKey: "request_id"]?.description ?? context.id
        )
    }
}

/// Context for pages behind login: creating it fails without a user, which the
/// error middleware turns into a redirect to the login page.
public struct AuthenticatedContext: ChildRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let sessions: SessionContext<WebSession>
    public let user: User
    public let language: AppLanguage
    public let form: FormData?
    public let uploads: [UploadedFile]
    public let clientAddress: String?

    public init(context: AppRequestContext) throws {
        guard let user = context.user else { throw AppError.notAuthenticated }
        self.coreContext = context.coreContext
        self.sessions = context.sessions
        self.user = user
        self.language = context.language
        self.form = context.form
        self.uploads = context.uploads
        self.clientAddress = context.clientAddress
    }

    /// An audit event by the logged-in user.
    func auditDraft(
        _ action: AuditAction, resourceType: String, resourceID: String? = nil, patientID: UUID? = nil,
        mode: AccessMode = .normal, outcome: AuditOutcome, reason: String? = nil
    ) -> AuditDraft {
        AuditDraft(request: self, action, actor: user, resourceType: resourceType, resourceID: resourceID, patientID: patientID,
                   mode: mode, outcome: outcome, reason: reason, clientAddress: clientAddress)
    }

    /// The submitted form; a state-changing route without one is a bad request.
    var requiredForm: FormData {
        get throws {
            guard let form else { throw AppError.badRequest }
            return form
        }
    }
}

extension SessionContext<WebSession> {
    /// The CSRF token for this page's forms, creating an anonymous session if needed
    /// (the login form needs one before anyone is logged in).
    func csrfToken(language: AppLanguage) -> String {
        if let token = session?.csrfToken { return token }
        let session = WebSession(language: language)
        createSession(session)
        return session.csrfToken
    }

    /// The one-shot message for this page, removed from the session as it is read.
    func takeFlash() -> Flash? {
        withLockedSession { data -> Flash? in
            guard let flash = data?.flash else { return nil }
            data?.flash = nil
            return flash
        }
    }
    /// Applies a change the user just made to the session's snapshot of their account.
    func updateUser(_ change: (inout User) -> Void) {
        withLockedSession { data in
            guard var user = data?.user else { return }
            change(&user)
            data?.user = user
        }
    }

    /// Sets a one-shot message for the next page.
    func flash(_ kind: Flash.Kind, _ messageKey: String) {
        withLockedSession { data in
            data?.flash = Flash(kind: kind, messageKey: messageKey)
        }
    }

    /// Post/redirect/get after a form: the message the next page shows, and the redirect there.
    func redirect(to url: SiteURL, flash kind: Flash.Kind, _ messageKey: String) -> Response {
        flash(kind, messageKey)
        return .redirect(to: url.path, type: .normal)
    }
}
