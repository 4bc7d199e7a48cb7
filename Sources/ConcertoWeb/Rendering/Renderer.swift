import ConcertoCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdAuth
import Mustache

/// Renders pages: a view model through `Templates/<name>.mustache` into an HTML response.
///
/// Interface strings (`{{t.key}}`) and site paths (`{{urls.name}}`) are constants, so they
/// are written into the templates once at start, giving one compiled library per
/// language; Mustache then only looks up what changes per request. An unknown key stops
/// the server at start instead of rendering an empty string.
public struct Renderer: Sendable {
    let libraries: [AppLanguage: MustacheLibrary]

    public init(templatesDirectory: String) async throws {
        // Registered before parsing: templates name it in their CONTENT_TYPE pragma.
        FastHTMLContentType.register()
        let directory = URL(fileURLWithPath: templatesDirectory)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".mustache") }
        var sources: [String: String] = [:]
        for file in files {
            sources[String(file.dropLast(".mustache".count))] = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
        }
        var libraries: [AppLanguage: MustacheLibrary] = [:]
        for language in AppLanguage.allCases {
            var library = MustacheLibrary()
            for (name, source) in sources {
                let localized = try Self.substituteConstants(in: source, template: name, language: language)
                do {
                    try library.register(localized, named: name)
                } catch {
                    throw RenderError.invalidTemplate(name, "\(error)")
                }
            }
            libraries[language] = library
        }
        self.libraries = libraries
    }

    /// `{{lang.code}}` and, for the language selector, `{{lang.selected_xx}}` (" selected" for this language).
    static func languageConstants(_ language: AppLanguage) -> [String: String] {
        var constants = ["code": language.rawValue]
        for other in AppLanguage.allCases {
            constants["selected_\(other.rawValue)"] = other == language ? " selected" : ""
        }
        return constants
    }

    /// Replaces `{{t.key}}` by the escaped string of `language`, `{{urls.name}}` by the path
    /// and `{{lang.name}}` by the language constants.
    static func substituteConstants(in source: String, template: String, language: AppLanguage) throws -> String {
        var missing: String?
        let constantPattern = #/\{\{\s*(t|urls|lang)\.([A-Za-z0-9_]+)\s*\}\}/#
        let result = source.replacing(constantPattern) { match -> String in
            let (_, namespace, key) = match.output
            let value: String? = switch namespace {
            case "t": Localization.table(language)[String(key)]
            case "urls": LayoutModel.urls[String(key)]
            default: languageConstants(language)[String(key)]
            }
            guard let value else {
                missing = "\(namespace).\(key)"
                return ""
            }
            return HTMLEscaping.escape(value)
        }
        if let missing { throw RenderError.unknownConstant(template: template, key: missing) }
        return result
    }

    func html(_ template: String, _ page: Page, status: HTTPResponse.Status = .ok) throws -> Response {
        guard let library = libraries[page.language], let body = library.render(page, withTemplate: template) else {
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
    case invalidTemplate(String, String)
    case unknownConstant(template: String, key: String)

    var description: String {
        switch self {
        case .missingTemplate(let name): "No template named \(name)"
        case .invalidTemplate(let name, let reason): "Template \(name) does not parse: \(reason)"
        case .unknownConstant(let template, let key): "Template \(template) uses {{\(key)}}, which is not defined"
        }
    }
}

/// Models answer Mustache's lookups themselves (`MustacheParent`): the library's
/// fallback reflects with a new `Mirror` for every `{{name}}`, which made rendering the
/// most expensive part of a request (docs/benchmarks.md). A test checks that every
/// stored property of each model is reachable by its name.

/// The frame around every page: language, navigation, who is logged in, flash, CSRF token.
struct LayoutModel: Sendable {
    struct UserBadge: Sendable {
        let displayName: String
        let roleLabel: String
    }
    struct FlashModel: Sendable {
        let kind: String
        let message: String
    }

    let signedInUser: UserBadge?
    let csrfToken: String
    let flash: FlashModel?
    let currentPath: String

    /// Paths templates link to (`{{urls.home}}`, written in at start), from `SiteURL`.
    static let urls: [String: String] = [
        "home": SiteURL.home.path,
        "login": SiteURL.login.path,
        "logout": SiteURL.logout.path,
        "account": SiteURL.account.path,
        "language": SiteURL.language.path,
        "stylesheet": SiteURL.stylesheet.path,
        "loginTOTP": SiteURL.loginTOTP.path,
        "accountTOTP": SiteURL.accountTOTP.path,
        "accountTOTPDisable": SiteURL.accountTOTPDisable.path,
        "accountPassword": SiteURL.accountPassword.path,
        "newPatient": SiteURL.newPatient.path,
        "patients": SiteURL.patients.path,
        "adminOrganisations": SiteURL.adminOrganisations.path,
        "adminProfessionals": SiteURL.adminProfessionals.path,
        "adminCommunities": SiteURL.adminCommunities.path,
        "adminPatientMerge": SiteURL.adminPatientMerge.path,
        "adminAudit": SiteURL.adminAudit.path,
        "meetings": SiteURL.meetings.path,
        "meetingNew": SiteURL.meetingNew.path,
        "meetingSeriesNew": SiteURL.meetingSeriesNew.path,
        "meetingSeries": SiteURL.meetingSeries.path,
        "calendarFeed": SiteURL.calendarFeed.path,
        "calendarFeedRevoke": SiteURL.calendarFeedRevoke.path,
        "cases": SiteURL.cases.path,
        "caseNew": SiteURL.caseNew.path,
        "accessRequests": SiteURL.accessRequests.path,
        "loginPSC": SiteURL.loginPSC.path,
    ]
}

/// A page: the layout and the page's own content, in one language. Templates read the
/// fields of both directly (`{{csrfToken}}`, `{{displayName}}`): one level less for
/// Mustache to search on every lookup. Layout names are chosen not to clash with
/// content names (a test checks).
struct Page: Sendable {
    let language: AppLanguage
    let layout: LayoutModel
    /// Not generic on purpose: Mustache casts the page on every lookup, and a concrete
    /// type makes those casts cheaper.
    let content: any MustacheParent & Sendable
}

/// Builds pages for a request: takes the request's user, language, session and path.
struct PageBuilder: Sendable {
    let language: AppLanguage
    let user: User?
    let sessions: SessionContext<WebSession>
    let path: String

    init(request: Request, context: AppRequestContext) {
        self.language = context.language
        self.user = context.user
        self.sessions = context.sessions
        self.path = request.uri.path
    }

    init(request: Request, context: AuthenticatedContext) {
        self.language = context.language
        self.user = context.user
        self.sessions = context.sessions
        self.path = request.uri.path
    }

    func text(_ key: String, _ arguments: [String: String] = [:]) -> String {
        Localization.text(key, in: language, arguments)
    }

    /// Every case status's label, for rows written as HTML (`AgendaRows`, `DashboardLists`).
    var caseStatusLabels: [CaseStatus: String] {
        Dictionary(uniqueKeysWithValues: CaseStatus.allCases.map { ($0, text("case_status_\($0.rawValue)")) })
    }

    /// The page's title, current navigation entry and language form are blocks of its
    /// template (`{{$title}}`, `{{$navHome}}`...): they depend on the page, not the request.
    func page(_ content: some PageModel) -> Page {
        page(fields: ViewFields(model: content))
    }

    func page(_ content: some MustacheParent & Sendable) -> Page {
        page(fields: content)
    }

    private func page(fields content: any MustacheParent & Sendable) -> Page {
        // Reading the flash consumes it: it shows once.
        let flash = sessions.takeFlash()
        let csrf = sessions.csrfToken(language: language)
        let layout = LayoutModel(
            signedInUser: user.map { .init(displayName: $0.displayName, roleLabel: text("role_\($0.role.rawValue)")) },
            csrfToken: csrf,
            flash: flash.map { .init(kind: $0.kind.rawValue, message: text($0.messageKey)) },
            currentPath: path
        )
        return Page(language: language, layout: layout, content: content)
    }
}


extension LayoutModel: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "signedInUser": signedInUser
        case "csrfToken": csrfToken
        case "flash": flash
        case "currentPath": currentPath
        default: nil
        }
    }
}

extension LayoutModel.UserBadge: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "displayName": displayName
        case "roleLabel": roleLabel
        default: nil
        }
    }
}

extension LayoutModel.FlashModel: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "kind": kind
        case "message": message
        default: nil
        }
    }
}

extension Page: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "language": language.rawValue
        default: layout.child(named: name) ?? content.child(named: name)
        }
    }
}
