import ConcertoCore
import ConcertoStore
import ConcertoTestSupport
@testable import ConcertoWeb
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SQLKit
import Testing

/// CDA import over HTTP, on SQLite and PostgreSQL: upload on a fiche, document page,
/// downloads, versions, patient checks, hostile input, the hospital API.
@Suite struct DocumentWebTests {
    /// The southern test patient: DUPONT Marie, 12/05/1961, F, INS 261053306312304 (test).
    static func report(id: String = "doc-1", set: String = "set-1", version: Int = 1, ins: String? = "261053306312304",
                       birthName: String = "DUPONT", given: String = "Marie", birthTime: String = "19610512", sex: String = "F",
                       narrative: String = "<paragraph>Nodule de 25 mm <content styleCode=\"Bold\">spiculé</content>.</paragraph>",
                       type: String = "18748-4", entry: String = "") -> String {
        let insID = ins.map { #"<id root="1.2.250.1.213.1.4.10" extension="\#($0)"/>"# } ?? ""
        return """
        <?xml version="1.0" encoding="UTF-8"?>
        <ClinicalDocument xmlns="urn:hl7-org:v3">
          <id root="1.2.250.99.1" extension="\(id)"/>
          <code code="\(type)" codeSystem="2.16.840.1.113883.6.1" displayName="CR d'imagerie médicale"/>
          <title>Scanner thoracique</title>
          <effectiveTime value="20240301102000+0100"/>
          <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/><languageCode code="fr-FR"/>
          <setId root="1.2.250.99.2" extension="\(set)"/><versionNumber value="\(version)"/>
          <recordTarget><patientRole>\(insID)<id root="1.2.250.99.9" extension="IPP-1"/>
            <patient><name><family qualifier="BR">\(birthName)</family><given>\(given)</given></name>
              <administrativeGenderCode code="\(sex)" codeSystem="2.16.840.1.113883.5.1"/><birthTime value="\(birthTime)"/></patient>
          </patientRole></recordTarget>
          <documentationOf><serviceEvent><id root="1.2.250.1.59.3.1.4.77"/></serviceEvent></documentationOf>
          <component><structuredBody><component><section>
            <code code="18782-3" codeSystem="2.16.840.1.113883.6.1"/><title>Résultats</title>
            <text>\(narrative)</text>\(entry)
          </section></component></structuredBody></component>
        </ClinicalDocument>
        """
    }

    /// Mixed case, as browsers send it: the boundary must be matched exactly.
    static let boundary = "----ConcertoTestBoundary7MA4YWxk"

    static func multipart(files: [(String, String)], fields: [(String, String)]) -> ByteBuffer {
        var body = ""
        for (name, value) in fields {
            body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n"
        }
        for (fileName, content) in files {
            body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(fileName)\"\r\nContent-Type: text/xml\r\n\r\n\(content)\r\n"
        }
        body += "--\(boundary)--\r\n"
        return ByteBuffer(string: body)
    }

    func upload(_ browser: TestBrowser, to caseID: UUID, _ files: [(String, String)], confirm: Bool = false, csrf: Bool = true,
                json: Bool = true) async throws -> TestResponse {
        var fields: [(String, String)] = []
        if csrf, let token = browser.lastCSRFToken { fields.append(("_csrf", token)) }
        if confirm { fields.append(("confirm_traits", "1")) }
        var headers: HTTPFields = [.contentType: "multipart/form-data; boundary=\(Self.boundary)"]
        if json { headers[.accept] = "application/json" }
        if !browser.cookies.isEmpty { headers[.cookie] = browser.cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
        return try await browser.client.executeRequest(uri: SiteURL.caseDocuments(caseID).path, method: .post, headers: headers,
                                                       body: Self.multipart(files: files, fields: fields))
    }

    func statuses(_ response: TestResponse) throws -> [String] {
        struct Body: Decodable { struct Result: Decodable { let status: String }; let results: [Result] }
        return try JSONDecoder().decode(Body.self, from: Data(buffer: response.body)).results.map(\.status)
    }

    func count(_ d: AppDependencies, _ table: String = "documents") async throws -> Int {
        try await d.database.read { sql in
            Int(try await sql.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: table)").first()?.decode(column: "n", as: Int64.self) ?? -1)
        }
    }

    func auditActions(_ d: AppDependencies) async throws -> [String] {
        try await d.database.read { sql in
            try await sql.raw("SELECT action FROM audit_events WHERE action LIKE 'document.%' ORDER BY id").all().map { try $0.decode(column: "action", as: String.self) }
        }
    }

    func southCase(_ d: AppDependencies, _ world: AccessWorld) async throws -> UUID {
        try #require(try await d.patients.cases(of: world.southPatient).first).id
    }

    @Test func uploadFilesAReportShowsItAndAuditsEveryRead() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let caseID = try await southCase(d, world)
            try await browser.logIn(email: "sud@t.fr")
            let casePage = try await browser.get(SiteURL.caseItem(caseID).path)
            #expect(String(buffer: casePage.body).contains("data-test=\"upload-form\""))
            let xml = Self.report()
            let response = try await upload(browser, to: caseID, [("cr.xml", xml)])
            #expect(response.status == .ok)
            #expect(try statuses(response) == ["imported"])
            let record = try #require(try await d.documents.documents(ofPatient: world.southPatient).first)
            #expect(record.caseID == caseID)
            #expect(record.studyUIDs == ["1.2.250.1.59.3.1.4.77"])
            #expect(record.sha256 == DocumentStore.sha256(Data(xml.utf8)))

            let page = try await browser.get(SiteURL.document(record.id).path)
            let html = String(buffer: page.body)
            #expect(page.status == .ok)
            #expect(html.contains("<p>Nodule de 25 mm <span class=\"cda-bold\">spiculé</span>.</p>"))
            #expect(html.contains("1.2.250.1.59.3.1.4.77"))
            #expect(String(buffer: try await browser.get(SiteURL.caseItem(caseID).path).body).contains(SiteURL.document(record.id).path))
            let original = try await browser.get(SiteURL.documentOriginal(record.id).path)
            #expect(original.status == .ok)
            #expect(Data(buffer: original.body) == Data(xml.utf8))
            #expect(original.headers[.cacheControl] == "no-store")
            #expect(try await browser.get(SiteURL.documentPDF(record.id).path).status == .notFound)
            #expect(try await auditActions(d) == ["document.import", "document.read", "document.download", "document.download"])

            // Another community's physician: the document does not exist for them.
            let north = browser.fresh()
            try await north.logIn(email: "nord@t.fr")
            #expect(try await north.get(SiteURL.document(record.id).path).status == .notFound)
            #expect(try await north.get(SiteURL.documentOriginal(record.id).path).status == .notFound)
            #expect(try await north.get(SiteURL.document(UUID()).path).status == .notFound)
            #expect(try await north.get("/documents/not-a-uuid").status == .notFound)
        }
    }

    @Test func sameDocumentTwiceIsRecognisedAndAnotherContentUnderItsIdIsRefused() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let caseID = try await southCase(d, world)
            try await browser.logIn(email: "sud@t.fr")
            try await browser.get(SiteURL.caseItem(caseID).path)
            #expect(try statuses(try await upload(browser, to: caseID, [("a.xml", Self.report())])) == ["imported"])
            #expect(try statuses(try await upload(browser, to: caseID, [("a.xml", Self.report())])) == ["already_imported"])
            let changed = try await upload(browser, to: caseID, [("b.xml", Self.report(narrative: "<paragraph>Autre texte</paragraph>"))])
            #expect(changed.status == .unprocessableContent)
            #expect(String(buffer: changed.body).contains("contenu différent"))
            #expect(try await count(d) == 1)
        }
    }

    @Test func aNewVersionSupersedesTheOldOneAndKeepsHistory() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let caseID = try await southCase(d, world)
            try await browser.logIn(email: "sud@t.fr")
            try await browser.get(SiteURL.caseItem(caseID).path)
            _ = try await upload(browser, to: caseID, [("v1.xml", Self.report())])
            _ = try await upload(browser, to: caseID, [("v2.xml", Self.report(id: "doc-2", version: 2, narrative: "<paragraph>Addendum</paragraph>"))])
            let current = try await d.documents.documents(ofPatient: world.southPatient)
            #expect(current.map(\.version) == [2])
            let all = try await d.documents.documents(ofPatient: world.southPatient, includeSuperseded: true)
            #expect(all.count == 2)
            let old = try #require(all.first { $0.version == 1 })
            #expect(old.supersededBy == current.first?.id)
            let oldPage = String(buffer: try await browser.get(SiteURL.document(old.id).path).body)
            #expect(oldPage.contains("data-test=\"superseded\""))
            #expect(oldPage.contains("data-test=\"document-versions\""))
            // An older version arriving late is filed already superseded.
            _ = try await upload(browser, to: caseID, [("v0.xml", Self.report(id: "doc-0", version: 1))])
            #expect(try await d.documents.documents(ofPatient: world.southPatient).map(\.version) == [2])
        }
    }

    @Test func aDocumentOfAnotherPatientIsRefusedAndTraitsNeedConfirmation() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let caseID = try await southCase(d, world)
            try await browser.logIn(email: "sud@t.fr")
            try await browser.get(SiteURL.caseItem(caseID).path)
            // Another INS (valid key): refused with the reason, nothing stored.
            let other = try await upload(browser, to: caseID, [("x.xml", Self.report(ins: "279035121518989"))])
            #expect(other.status == .unprocessableContent)
            #expect(String(buffer: other.body).contains("autre patient"))
            // No INS, other traits: refused.
            let stranger = try await upload(browser, to: caseID, [("y.xml", Self.report(ins: nil, birthName: "MARTIN", birthTime: "19700101"))])
            #expect(try statuses(stranger) == ["refused"])
            // No INS, same traits: a person must confirm; then it is filed.
            let traits = try await upload(browser, to: caseID, [("z.xml", Self.report(ins: nil))])
            #expect(traits.status == .conflict)
            #expect(try statuses(traits) == ["needs_confirmation"])
            #expect(try await count(d) == 0)
            let confirmed = try await upload(browser, to: caseID, [("z.xml", Self.report(ins: nil))], confirm: true)
            #expect(try statuses(confirmed) == ["imported"])
            #expect(try await count(d) == 1)
        }
    }

    @Test func hostileOversizedOrUnprotectedUploadsStoreNothing() async throws {
        try await withTestApp(configure: { $0.cdaMaxBytes = 4096 }) { browser, d in
            let world = try await AccessWorld.make(d)
            let caseID = try await southCase(d, world)
            try await browser.logIn(email: "sud@t.fr")
            try await browser.get(SiteURL.caseItem(caseID).path)
            let xxe = #"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><ClinicalDocument xmlns="urn:hl7-org:v3">&x;</ClinicalDocument>"#
            let hostile = try await upload(browser, to: caseID, [("xxe.xml", xxe), ("garbage.xml", "\u{1}\u{2}binaire")], json: false)
            #expect(hostile.status == .unprocessableContent)
            let html = String(buffer: hostile.body)
            #expect(html.contains("DOCTYPE"))
            #expect(html.contains("XML mal formé"))
            let big = Self.report(narrative: "<paragraph>" + String(repeating: "x", count: 5000) + "</paragraph>")
            let oversized = try await upload(browser, to: caseID, [("big.xml", big)])
            #expect(String(buffer: oversized.body).contains("au-delà de la limite"))
            #expect(try await upload(browser, to: caseID, [("ok.xml", Self.report())], csrf: false).status == .forbidden)
            #expect(try await count(d) == 0)
            #expect(try await upload(browser, to: caseID, [("ok.xml", Self.report())]).status == .ok)
            #expect(try await count(d) == 1)
        }
    }

    @Test func stagingPrefillsAnEmptyFicheAndImportedFichesRCPShowInTheHistory() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let caseID = try await southCase(d, world)
            try await browser.logIn(email: "sud@t.fr")
            try await browser.get(SiteURL.caseItem(caseID).path)
            let tnm = """
                <entry><organizer classCode="CLUSTER" moodCode="EVN"><component><observation classCode="OBS" moodCode="EVN">
                <code code="21905-5" codeSystem="2.16.840.1.113883.6.1"/><value xsi:type="CD" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" code="T2a"/>
                </observation></component></organizer></entry>
                """
            _ = try await upload(browser, to: caseID, [("tnm.xml", Self.report(entry: tnm))])
            let form = String(buffer: try await browser.get(SiteURL.caseEdit(caseID).path).body)
            #expect(form.contains(#"value="T2a""#))
            #expect(form.contains(#"data-test="tnm-source""#))
            #expect(try await d.cases.find(id: caseID)?.content.tnm.cT == nil)

            _ = try await upload(browser, to: caseID, [("frcp.xml", Self.report(id: "rcp-1", set: "rcp-set", type: "34794-8"))])
            let patientPage = String(buffer: try await browser.get(SiteURL.patient(world.southPatient).path).body)
            #expect(patientPage.contains(#"data-test="imported-rcp""#))
        }
    }

    @Test func hospitalAPIFilesByINSWithABearerToken() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let caseID = try await southCase(d, world)
            let token = try await d.documents.createToken(community: world.south.id, label: "DPI", by: nil,
                                                          audit: AuditDraft(actorID: nil, action: .apiTokenCreate, resourceType: "api_token", outcome: .success))
            func post(_ body: String, token secret: String? = token.secret, query: String = "", type: String = "application/xml") async throws -> TestResponse {
                var headers: HTTPFields = [.contentType: type]
                if let secret { headers[.authorization] = "Bearer \(secret)" }
                return try await browser.client.executeRequest(uri: SiteURL.apiDocuments.path + query, method: .post, headers: headers, body: ByteBuffer(string: body))
            }
            #expect(try await post(Self.report(), token: nil).status == .unauthorized)
            #expect(try await post(Self.report(), token: "cct_forged").status == .unauthorized)
            #expect(try await post("{}", type: "application/json").status == .unsupportedMediaType)
            let created = try await post(Self.report())
            #expect(created.status == .created)
            #expect(String(buffer: created.body).contains("\"status\":\"imported\""))
            #expect(try await post(Self.report()).status == .ok)
            #expect(try await post(Self.report(id: "no-ins", ins: nil)).status == .unprocessableContent)
            #expect(try await post(Self.report(id: "stranger", ins: "279035121518989")).status == .unprocessableContent)
            #expect(try await post("<ClinicalDocument", query: "").status == .unprocessableContent)
            // A case of another community is unknown to the token.
            let northCase = try #require(try await d.patients.cases(of: world.northPatient).first).id
            #expect(try await post(Self.report(id: "n"), query: "?case=\(northCase.storageKey)").status == .notFound)
            #expect(try await post(Self.report(id: "c"), query: "?case=\(caseID.storageKey)").status == .created)
            #expect(try await count(d) == 2)
            let reasons = try await d.database.read { sql in
                try await sql.raw("SELECT reason FROM audit_events WHERE action = 'document.import'").all().map { try $0.decode(column: "reason", as: String?.self) }
            }
            #expect(reasons == ["api_token:\(token.id.storageKey)", "api_token:\(token.id.storageKey)"])
        }
    }
}
