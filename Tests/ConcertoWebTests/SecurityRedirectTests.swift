import ConcertoCore
import ConcertoTestSupport
import ConcertoWeb
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// Attack: an open redirect after login (`next=/<TAB>/evil.example` answered
/// `Location: /<TAB>/evil.example`, which browsers follow to `//evil.example`).
@Suite("Security: redirects after login") struct SecurityRedirectTests {
    static let offSite = [
        "/\t/evil.example", "/%09/evil.example", "/\r\n/evil.example", "/%0d%0a/evil.example", "//evil.example",
        "/\\evil.example", "/%5Cevil.example", "https://evil.example", "http:evil.example", "/%2F%2Fevil.example",
        "/%2f/evil.example", "/%252F%252Fevil.example", "javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,x",
        "evil.example", "", " /", "\\\\evil.example", "/\u{3000}/evil.example", "/%E3%80%80/evil.example", "/\u{FF0F}evil.example",
    ]

    /// One server for the whole table (a fresh browser per payload): each payload is a
    /// crafted link to the login page, then the login form posted with it.
    @Test func loginNeverLeadsOffSite() async throws {
        // One client address for the whole table: lift the per-address limit (tested apart).
        try await withTestApp(configure: { $0.loginAttemptsPerMinute = 1000 }) { server, dependencies in
            try await createUser(dependencies)
            for next in Self.offSite {
                let browser = server.fresh()
                let page = try await browser.get("/login?next=" + TestBrowser.encode(next))
                // The login page carries over nothing but a same-site path.
                #expect(!page.text.contains("evil.example"), "\(next)")
                #expect(!page.text.lowercased().contains("javascript:"), "\(next)")
                let response = try await browser.post("/login", form: [("email", "dr.martin@chu.fr"), ("password", testPassword), ("next", next)])
                #expect(response.status == .seeOther, "\(next)")
                #expect(response.headers[.location] == "/", "\(next)")
            }
        }
    }

    @Test func aSameSitePathIsFollowed() async throws {
        try await withTestApp { browser, dependencies in
            try await createUser(dependencies)
            try await browser.get("/login")
            let response = try await browser.post("/login", form: [("email", "dr.martin@chu.fr"), ("password", testPassword), ("next", "/patients?q=a%20b")])
            #expect(response.headers[.location] == "/patients?q=a%20b")
        }
    }

    @Test func aRefusedPasswordDoesNotCarryAnOffSiteTarget() async throws {
        try await withTestApp { browser, dependencies in
            try await createUser(dependencies)
            try await browser.get("/login")
            let refused = try await browser.post("/login", form: [("email", "dr.martin@chu.fr"), ("password", "wrong one"), ("next", "//evil.example")])
            #expect(refused.status == .unauthorized)
            #expect(!refused.text.contains("evil.example"))
        }
    }
}
