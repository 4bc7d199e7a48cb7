import ConcertoCore
import ConcertoTestSupport
@testable import ConcertoWeb
import Foundation
import SQLKit
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

/// Every route with an identifier, taken from the router itself (a new route is in it the
/// day it is registered): a physician of another community, sent to the southern
/// community's resources, gets 403 or 404 (never a page, never a server error), and
/// nothing he posted is stored.
@Suite struct EveryRouteRefusesAnOutsiderTests {
    @Test func everyParameterisedRouteRefusesAnotherCommunitysMember() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let caseID = try await WorkflowWebTests().southCase(d, world)
            let meetingID = try await WorkflowWebTests().meeting(d, world, startingIn: 72)
            let ids: [SiteURL.Parameter: String] = [
                .case: caseID.storageKey, .meeting: meetingID.storageKey, .patient: world.southPatient.storageKey,
                .community: world.south.id.storageKey, .user: world.southColleague.id.storageKey, .organisation: world.organisation.id.storageKey,
                .document: UUID().storageKey, .study: UUID().storageKey, .link: UUID().storageKey, .opposition: UUID().storageKey,
                .request: UUID().storageKey, .token: "0123456789abcdef",
            ]
            func counts() async throws -> [Int64] {
                try await d.database.read { sql in
                    var counts: [Int64] = []
                    for table in ["cases", "meeting_agenda", "community_members", "care_relationships", "oppositions", "emergency_access", "case_follow_ups", "documents", "meeting_attendance", "patient_local_ids"] {
                        counts.append(try await sql.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: table)").first()?.decode(column: "n", as: Int64.self) ?? -1)
                    }
                    return counts
                }
            }
            let before = try await counts()
            try await browser.logIn(email: "nord@t.fr")
            try await browser.get("/")
            let parameter = try Regex(#"\{([a-z_]+)\}"#)
            var tried = 0
            for route in buildRouter(d).routes where "\(route.path)".contains("{") {
                var path = "\(route.path)"
                for match in path.matches(of: parameter).reversed() {
                    let name = SiteURL.Parameter(rawValue: String(match.output[1].substring ?? ""))
                    path.replaceSubrange(match.range, with: name.flatMap { ids[$0] } ?? "unknown")
                }
                let response = route.method == .get || route.method == .head
                    ? try await browser.get(path)
                    : try await browser.post(path, form: [("reason", "x"), ("justification", "Urgence"), ("reason_code", "urgence_vitale"),
                                                          ("meeting", meetingID.storageKey), ("status", "present"), ("revision", "1"),
                                                          ("role", "physician"), ("email", "x@t.fr")])
                // An unknown password reset token is a link that no longer works (410).
                let refusals: Set<Int> = "\(route.path)".hasPrefix("/password-reset/") ? [410] : [403, 404]
                #expect(refusals.contains(response.status.code), "\(route.method) \(route.path) as an outsider: \(response.status.code)")
                tried += 1
            }
            #expect(tried > 75)
            #expect(try await counts() == before)
        }
    }
}
