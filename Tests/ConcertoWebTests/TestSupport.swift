import ConcertoCore
import ConcertoStore
import ConcertoTestSupport
import ConcertoWeb
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore

/// A configuration for tests: fresh database, fast bcrypt, repository folders.
func testConfiguration(_ url: DatabaseURL) -> AppConfiguration {
    var config = AppConfiguration()
    config.database = url
    config.bcryptCost = 4
    config.sqliteSynchronous = TestDatabase.testSynchronous
    config.templatesDirectory = Repository.templates.path
    config.publicDirectory = Repository.publicFiles.path
    config.migrationsDirectory = Repository.migrations.path
    config.logLevel = .critical
    // Most suites log admins and coordinators in with a password only; the second factor
    // they must have in production is tested on its own (SecurityAccountLifecycleTests).
    config.secondFactorSetting = .nobody
    return config
}

/// Builds the real router over a fresh database and runs `body` with a test client.
func withTestApp(
    configure: (inout AppConfiguration) -> Void = { _ in },
    _ body: @Sendable (TestBrowser, AppDependencies) async throws -> Void
) async throws {
    try await TestDatabase.withFreshURL { url in
        // The audit key and checkpoints of this test only (PostgreSQL's default is ./data).
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("concerto-audit-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        var config = testConfiguration(url)
        config.auditKeyFile = folder.appendingPathComponent("audit.key").path
        configure(&config)
        let dependencies = try await AppDependencies.make(config, logger: TestDatabase.quietLogger)
        do {
            let app = Application(router: buildRouter(dependencies), logger: TestDatabase.quietLogger)
            try await app.test(.router) { client in
                try await body(TestBrowser(client), dependencies)
            }
        } catch {
            await dependencies.database.shutdown()
            throw error
        }
        await dependencies.database.shutdown()
    }
}

let testPassword = "correct horse battery"

@discardableResult
func createUser(
    _ dependencies: AppDependencies, email: String = "dr.martin@chu.fr", name: String = "Dr Martin",
    role: ProfessionalRole = .physician, locale: AppLanguage? = nil
) async throws -> User {
    let user = User(email: email, displayName: name, rppsNumber: role == .physician ? TestIdentifiers.rpps(Int.random(in: 1..<999_999_999)) : nil,
                    role: role, locale: locale)
    try await dependencies.users.create(user, passwordHash: try await dependencies.passwords.hash(testPassword))
    return user
}

/// A minimal browser over a test client: keeps cookies, reads CSRF tokens from pages.
final class TestBrowser: @unchecked Sendable {
    // @unchecked: each test drives its browser from one task at a time.
    let client: any TestClientProtocol
    var cookies: [String: String] = [:]
    var lastCSRFToken: String?
    var acceptLanguage: String?

    init(_ client: any TestClientProtocol) {
        self.client = client
    }

    /// Another browser (own cookies) on the same server.
    func fresh() -> TestBrowser { TestBrowser(client) }

    @discardableResult
    func get(_ path: String, headers extra: HTTPFields = [:]) async throws -> TestResponse {
        try await send(path, method: .get, headers: extra, body: nil)
    }

    /// Posts a form; the page's CSRF token is added unless `csrf` says otherwise.
    @discardableResult
    func post(_ path: String, form: [(String, String)], csrf: CSRFChoice = .fromLastPage) async throws -> TestResponse {
        var fields = form
        switch csrf {
        case .fromLastPage: if let token = lastCSRFToken { fields.append(("_csrf", token)) }
        case .value(let token): fields.append(("_csrf", token))
        case .none: break
        }
        let body = fields.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&")
        return try await postRaw(path, body: body)
    }

    enum CSRFChoice { case fromLastPage, value(String), none }

    @discardableResult
    func postRaw(_ path: String, body: String, contentType: String = "application/x-www-form-urlencoded") async throws -> TestResponse {
        try await send(path, method: .post, headers: [.contentType: contentType], body: ByteBuffer(string: body))
    }

    private func send(_ path: String, method: HTTPRequest.Method, headers extra: HTTPFields, body: ByteBuffer?) async throws -> TestResponse {
        var headers = extra
        if !cookies.isEmpty {
            headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
        }
        if let acceptLanguage, headers[.acceptLanguage] == nil { headers[.acceptLanguage] = acceptLanguage }
        let response = try await client.executeRequest(uri: path, method: method, headers: headers, body: body)
        for header in response.headers[values: .setCookie] {
            absorb(setCookie: header)
        }
        let html = String(buffer: response.body)
        if let token = Self.csrfToken(in: html) { lastCSRFToken = token }
        return response
    }

    /// Follows a 303 once.
    func follow(_ response: TestResponse) async throws -> TestResponse {
        guard let location = response.headers[.location] else { return response }
        return try await get(location)
    }

    var sessionCookie: String? { cookies["concerto_session"] }

    private func absorb(setCookie header: String) {
        let parts = header.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let pair = parts.first, let equals = pair.firstIndex(of: "=") else { return }
        let name = String(pair[..<equals]), value = String(pair[pair.index(after: equals)...])
        let expired = parts.dropFirst().contains { part in
            guard part.lowercased().hasPrefix("expires=") else { return false }
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
            guard let date = formatter.date(from: String(part.dropFirst("expires=".count))) else { return false }
            return date <= Date()
        }
        if expired || value.isEmpty { cookies[name] = nil } else { cookies[name] = value }
    }

    static func csrfToken(in html: String) -> String? {
        guard let range = html.range(of: #"name="_csrf" value=""#) else { return nil }
        let rest = html[range.upperBound...]
        guard let end = rest.firstIndex(of: "\"") else { return nil }
        let token = String(rest[..<end])
        return token.isEmpty ? nil : token
    }

    static func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
    }

    /// Logs in with the password (and no second factor); returns the final response.
    @discardableResult
    func logIn(email: String = "dr.martin@chu.fr", password: String = testPassword) async throws -> TestResponse {
        try await get("/login")
        return try await post("/login", form: [("email", email), ("password", password)])
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }
}
