import ConcertoCore
import Foundation
import HTTPTypes
import Hummingbird
import Mustache

/// Renders pages: a view model through `Templates/<name>.mustache` into an HTML response.
public struct Renderer: Sendable {
    let library: MustacheLibrary

    public init(templatesDirectory: String) async throws {
        self.library = try await MustacheLibrary(directory: templatesDirectory)
    }

    public func html(_ template: String, _ model: some Sendable, status: HTTPResponse.Status = .ok) throws -> Response {
        guard let body = library.render(model, withTemplate: template) else {
            throw RenderError.missingTemplate(template)
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        // Pages may show patient data: never kept in shared or browser caches.
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

enum RenderError: Error, CustomStringConvertible {
    case missingTemplate(String)
    var description: String {
        switch self {
        case .missingTemplate(let name): "No template named \(name)"
        }
    }
}

/// The frame around every page: language, navigation, who is logged in, flash, CSRF token.
struct LayoutModel: Sendable {
    struct UserBadge: Sendable {
        let displayName: String
        let roleLabel: String
    }
    struct NavItem: Sendable {
        let label: String
        let href: String
        let current: Bool
    }
    struct LanguageOption: Sendable {
        let code: String
        let label: String
        let selected: Bool
    }
    struct FlashModel: Sendable {
        let kind: String
        let message: String
    }

    let lang: String
    let title: String
    let user: UserBadge?
    let csrfToken: String
    let nav: [NavItem]
    let languages: [LanguageOption]
    let flash: FlashModel?
    let currentPath: String
    let urls: URLs
    /// Mustache sees stored properties only.
    let showLanguages: Bool

    /// Paths templates link to, from `SiteURL`.
    struct URLs: Sendable {
        let home = SiteURL.home.path
        let login = SiteURL.login.path
        let logout = SiteURL.logout.path
        let account = SiteURL.account.path
        let language = SiteURL.language.path
        let stylesheet = SiteURL.stylesheet.path
        let loginTOTP = SiteURL.loginTOTP.path
        let accountTOTP = SiteURL.accountTOTP.path
        let accountTOTPDisable = SiteURL.accountTOTPDisable.path
    }
}

/// A page: the layout, the page's own content, and the strings of its language.
struct Page<Content: Sendable>: Sendable {
    let layout: LayoutModel
    let content: Content
    let t: [String: String]
}

/// Builds pages for a request: takes the request's user, language, session and path.
struct PageBuilder: Sendable {
    let language: AppLanguage
    let user: User?
    let sessions: SessionContextBox
    let path: String

    init(request: Request, context: AppRequestContext) {
        self.language = context.language
        self.user = context.user
        self.sessions = SessionContextBox(context.sessions)
        self.path = request.uri.path
    }

    init(request: Request, context: AuthenticatedContext) {
        self.language = context.language
        self.user = context.user
        self.sessions = SessionContextBox(context.sessions)
        self.path = request.uri.path
    }

    func text(_ key: String, _ arguments: [String: String] = [:]) -> String {
        Localization.text(key, in: language, arguments)
    }

    func page<Content: Sendable>(titleKey: String, _ content: Content) -> Page<Content> {
        // Reading the flash consumes it: it shows once.
        let flash = sessions.takeFlash()
        let csrf = sessions.csrfToken(language: language)
        var nav: [LayoutModel.NavItem] = []
        if user != nil {
            nav = [
                .init(label: text("nav_home"), href: SiteURL.home.path, current: path == SiteURL.home.path),
                .init(label: text("nav_account"), href: SiteURL.account.path, current: path.hasPrefix(SiteURL.account.path)),
            ]
        }
        let layout = LayoutModel(
            lang: language.rawValue,
            title: text(titleKey),
            user: user.map { .init(displayName: $0.displayName, roleLabel: text("role_\($0.role.rawValue)")) },
            csrfToken: csrf,
            nav: nav,
            languages: AppLanguage.allCases.map {
                .init(code: $0.rawValue, label: text("language_\($0.rawValue)"), selected: $0 == language)
            },
            flash: flash.map { .init(kind: $0.kind.rawValue, message: text($0.messageKey)) },
            currentPath: path,
            urls: .init(),
            showLanguages: true
        )
        return Page(layout: layout, content: content, t: Localization.table(language))
    }
}

/// Session access shared by both request contexts.
struct SessionContextBox: Sendable {
    let sessions: SessionContextAlias

    init(_ sessions: SessionContextAlias) {
        self.sessions = sessions
    }

    func takeFlash() -> Flash? {
        sessions.withLockedSession { data -> Flash? in
            guard let flash = data?.flash else { return nil }
            data?.flash = nil
            return flash
        }
    }

    func csrfToken(language: AppLanguage) -> String {
        if let token = sessions.session?.csrfToken { return token }
        let session = WebSession(language: language)
        sessions.createSession(session)
        return session.csrfToken
    }
}
