import ConcertoCore
import ConcertoTestSupport
@testable import ConcertoWeb
import Foundation
import Testing

/// Routes come from `SiteURL`: every parameter is named after what it identifies, and each
/// route's pattern is what the links to it give once their identifiers are named.
@Suite struct SiteURLRouteTests {
    @Test func everyRouteParameterIsNamedAfterWhatItIdentifies() async throws {
        try await withTestApp { _, dependencies in
            let routes = buildRouter(dependencies).routes.map { "\($0.path)" }
            #expect(routes.count > 100)
            let parameter = try Regex(#"\{([a-z_]+)\}"#)
            for route in routes {
                for match in route.matches(of: parameter) {
                    let name = String(match.output[1].substring ?? "")
                    #expect(SiteURL.Parameter(rawValue: name) != nil, "\(route): {\(name)}")
                }
            }
            #expect(routes.contains("/cases/{case}/imaging/{study}/viewer"))
            #expect(routes.contains("/communities/{community}/members/{user}/approve"))
            #expect(routes.contains("/meetings/{meeting}/agenda/{case}/move"))
            #expect(routes.contains("/calendar/{token}.ics"))
            #expect(!routes.contains { $0.contains("{id}") || $0.contains("{item}") })
        }
    }

    @Test func queriesAreBuiltNotGlued() {
        let patient = UUID(), fiche = UUID()
        #expect(SiteURL.caseNew(patient: patient) == "/cases/new?patient=\(patient.storageKey)")
        #expect(SiteURL.caseNew(patient: patient, from: fiche) == "/cases/new?patient=\(patient.storageKey)&from=\(fiche.storageKey)")
        #expect(SiteURL.community(patient).with(["q": "a&b c"]) == "/communities/\(patient.storageKey)?q=a%26b%20c")
        #expect(SiteURL.cases.with(["meeting": nil]) == "/cases")
    }
}
