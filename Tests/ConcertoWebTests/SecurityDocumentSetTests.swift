import ConcertoCore
import ConcertoStore
import ConcertoTestSupport
@testable import ConcertoWeb
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// Attack: a document posted for community A's patient with the `setId` of community B's
/// document and a higher version marked B's document superseded and hid it; the same
/// document id told A that B had filed it (a conflict).
@Suite("Security: document sets belong to one patient") struct SecurityDocumentSetTests {
    @Test func anotherCommunitysSetIdStartsANewSetAndHidesNothing() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let documents = DocumentWebTests()
            // The northern physician files version 1 of a set for the northern patient.
            let northCase = try #require(try await d.patients.cases(of: world.northPatient).first).id
            try await browser.logIn(email: "nord@t.fr")
            try await browser.get(SiteURL.caseItem(northCase).path)
            let northReport = DocumentWebTests.report(id: "north-doc", set: "shared-set", version: 1, ins: nil, birthName: "LEROY")
            let filed = try await documents.upload(browser, to: northCase, [("north.xml", northReport)], confirm: true)
            #expect(try documents.statuses(filed) == ["imported"])
            let north = try #require(try await d.documents.documents(ofPatient: world.northPatient).first)

            // A southern hospital system posts, for its own patient, the same set with a
            // higher version, and even the northern document's id with other bytes.
            let token = try await d.documents.createToken(community: world.south.id, label: "DPI", by: nil,
                                                          audit: AuditDraft(actorID: nil, action: .apiTokenCreate, resourceType: "api_token", outcome: .success))
            func post(_ body: String) async throws -> TestResponse {
                try await browser.client.executeRequest(uri: SiteURL.apiDocuments.path, method: .post,
                                                        headers: [.contentType: "application/xml", .authorization: "Bearer \(token.secret)"],
                                                        body: ByteBuffer(string: body))
            }
            #expect(try await post(DocumentWebTests.report(id: "south-doc", set: "shared-set", version: 2)).status == .created)
            let sameID = try await post(DocumentWebTests.report(id: "north-doc", set: "other-set", version: 1, narrative: "<paragraph>Autre</paragraph>"))
            #expect(sameID.status == .created)
            #expect(!String(buffer: sameID.body).contains(north.id.storageKey))

            // The northern document is still the current one of its set, alone in it.
            let northNow = try await d.documents.documents(ofPatient: world.northPatient, includeSuperseded: true)
            #expect(northNow.map(\.id) == [north.id])
            #expect(northNow.first?.supersededBy == nil)
            #expect(try await d.documents.versions(of: north).map(\.id) == [north.id])
            let south = try await d.documents.documents(ofPatient: world.southPatient)
            #expect(south.count == 2)
            #expect(south.allSatisfy { $0.supersededBy == nil })
            let page = try await browser.get(SiteURL.document(north.id).path)
            #expect(page.status == .ok)
            #expect(!page.text.contains("data-test=\"superseded\""))
        }
    }
}
