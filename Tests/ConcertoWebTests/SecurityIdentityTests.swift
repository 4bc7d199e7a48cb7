import ConcertoCore
import ConcertoServices
import ConcertoStore
import ConcertoTestSupport
@testable import ConcertoWeb
import DICOMweb
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SQLKit
import Testing

/// Attack: a physician of the southern community created *Nouveau patient* with another
/// person's test INS and the status *Identité qualifiée*, then listed and attached that
/// person's images from the exchange (which are searched by the INS of a qualified identity).
@Suite("Security: identities") struct SecurityIdentityTests {
    static func form(_ world: AccessWorld, ins: String?, status: String, extra: [(String, String)] = []) -> [(String, String)] {
        var fields: [(String, String)] = [("community", world.south.id.storageKey), ("birth_name", "Autre"), ("first_names", "Personne"),
                                          ("birth_date", "1980-01-01"), ("sex", "M"), ("identity_status", status), ("confirm_new", "1")]
        if let ins { fields += [("ins_matricule", ins), ("ins_kind", "test")] }
        return fields + extra
    }

    func patientCount(_ d: AppDependencies) async throws -> Int {
        try await d.database.read { sql in
            Int(try await sql.raw("SELECT COUNT(*) AS n FROM patients").first()?.decode(column: "n", as: Int64.self) ?? -1)
        }
    }

    @Test func aQualifiedIdentityCannotBeDeclaredInAForm() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            try await browser.logIn(email: "sud@t.fr")
            let page = try await browser.get(SiteURL.newPatient.path)
            // The form does not even offer it...
            #expect(!page.text.contains("value=\"QUAL\""))
            #expect(!page.text.contains("value=\"RECUP\""))
            let before = try await patientCount(d)
            // ...and a forged post is refused, for an unused test INS (Paul LEROY's of the demo) as for any.
            for status in ["QUAL", "RECUP"] {
                let forged = try await browser.post(SiteURL.patients.path, form: Self.form(world, ins: "145078619401282", status: status))
                #expect(forged.status == .badRequest)
                #expect(forged.text.contains("ne se déclare pas"))
            }
            // VALI needs the identity document checked.
            let noDocument = try await browser.post(SiteURL.patients.path, form: Self.form(world, ins: "145078619401282", status: "VALI"))
            #expect(noDocument.status == .badRequest)
            #expect(noDocument.text.contains("haut niveau de confiance"))
            #expect(try await patientCount(d) == before)

            let validated = try await browser.post(SiteURL.patients.path,
                                                   form: Self.form(world, ins: "145078619401282", status: "VALI", extra: [("identity_document", "cni")]))
            #expect(validated.status == .seeOther)
            let id = try #require(validated.headers[.location].flatMap { UUID(storageKey: String($0.split(separator: "/").last ?? "")) })
            let record = try #require(try await d.patients.find(id: id))
            #expect(record.identity.status == .validated)
            #expect(record.identity.usableINS == nil) // the INS is not shared until qualified
            let proofs = try await d.patients.identityProofs(of: id)
            #expect(proofs.map(\.proof.status) == [.validated])
            #expect(proofs.first?.proof.documentType == .nationalIDCard)
            #expect(proofs.first?.recordedByName == "sud@t.fr")
            // So the exchange is asked by the IPPs only, never by that INS.
            #expect(try await ImagingService.identifiers(of: record, patients: d.patients).isEmpty)
        }
    }

    @Test func anINSAlreadyCarriedByAnotherRecordIsRefused() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            // The northern physician tries the southern patient's INS: that record is not
            // theirs to see, and the refusal does not name it.
            try await browser.logIn(email: "nord@t.fr")
            try await browser.get(SiteURL.newPatient.path)
            let before = try await patientCount(d)
            var fields = Self.form(world, ins: "261053306312304", status: "PROV")
            fields[0] = ("community", world.north.id.storageKey)
            let refused = try await browser.post(SiteURL.patients.path, form: fields)
            #expect(refused.status == .conflict)
            #expect(refused.text.contains("déjà porté par un autre dossier"))
            #expect(refused.text.contains("data-test=\"identity-desk\""))
            #expect(!refused.text.contains(world.southPatient.storageKey))
            #expect(try await patientCount(d) == before)
            // The store holds the rule too (another path, another instance).
            var identity = try #require(try await d.patients.find(id: world.southPatient)).identity
            identity.birthName = "DOUBLON"
            await #expect(throws: StoreError.duplicateINS(world.southPatient)) {
                _ = try await d.patients.create(identity, in: world.north.id, by: world.northPhysician.id, careReason: nil, localID: nil,
                                                audit: AuditDraft(actorID: nil, action: .patientCreate, resourceType: "patient", outcome: .success))
            }
            #expect(try await patientCount(d) == before)
        }
    }

    @Test func anIPPOutsideTheStrictSyntaxIsRefused() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            try await browser.logIn(email: "sud@t.fr")
            let before = try await patientCount(d)
            for ipp in ["*", "1*", "?", "A,B", "A\\B", "IPP 1", "ABCDEFGHIJKLMNOPQRSTU", "é1"] {
                try await browser.get(SiteURL.newPatient.path)
                let created = try await browser.post(SiteURL.patients.path, form: Self.form(world, ins: nil, status: "PROV", extra: [("ipp", ipp)]))
                #expect(created.status == .badRequest, "\(ipp)")
                #expect(created.text.contains("Un IPP compte 1 à 20 caractères"), "\(ipp)")
                #expect(try await patientCount(d) == before, "\(ipp)")
                try await browser.get(SiteURL.patient(world.southPatient).path)
                _ = try await browser.post(SiteURL.patientLocalIDs(world.southPatient).path, form: [("ipp", ipp)])
                #expect(try await d.patients.localIDs(of: world.southPatient).isEmpty, "\(ipp)")
                await #expect(throws: StoreError.invalidLocalID) {
                    try await d.patients.addLocalID(patientID: world.southPatient, organisationID: world.organisation.id, ipp: ipp,
                                                    audit: AuditDraft(actorID: nil, action: .patientLocalID, resourceType: "patient", outcome: .success))
                }
            }
            // A plain one is taken.
            try await browser.get(SiteURL.patient(world.southPatient).path)
            _ = try await browser.post(SiteURL.patientLocalIDs(world.southPatient).path, form: [("ipp", "BGN-1.2_3")])
            #expect(try await d.patients.localIDs(of: world.southPatient).map(\.ipp) == ["BGN-1.2_3"])
        }
    }

    @Test func strictIPPSyntax() {
        for valid in ["1", "BGN-004512", "a_b.C-9", "ABCDEFGHIJKLMNOPQRST"] { #expect(LocalPatientID.isValid(valid), "\(valid)") }
        for invalid in ["", "*", "1*", "?1", "A,B", "A\\B", "A B", "ABCDEFGHIJKLMNOPQRSTU", "é", "A\n"] {
            #expect(!LocalPatientID.isValid(invalid), "\(invalid)")
        }
    }

    /// The last gate before the exchange: no identifier or filter with a DICOM matching
    /// character leaves, whoever built the query.
    @Test func wildcardsNeverReachAQIDOQuery() async throws {
        let client = DICOMwebClient(exchange: ExchangeConfiguration(id: "x", name: "X", baseURL: "http://127.0.0.1:9/dicom-web"), logger: TestDatabase.quietLogger)
        for query in [
            StudyQuery(patient: PatientIdentifier(id: "*", issuer: "1.2.250.1.71.4.2.2")),
            StudyQuery(patient: PatientIdentifier(id: "1*", issuer: "1.2.250.1.71.4.2.2")),
            StudyQuery(patient: PatientIdentifier(id: "12", issuer: "*")),
            StudyQuery(patient: PatientIdentifier(id: "1\\2", issuer: nil)),
            StudyQuery(patient: PatientIdentifier(id: "1,2", issuer: nil)),
            StudyQuery(patient: PatientIdentifier(id: "", issuer: nil)),
            StudyQuery(patient: PatientIdentifier(id: "12", issuer: "x"), accessionNumber: "*"),
            StudyQuery(patient: PatientIdentifier(id: "12", issuer: "x"), accessionNumber: "ACC?"),
            StudyQuery(patient: PatientIdentifier(id: "12", issuer: "x"), modalities: ["C*"]),
        ] {
            #expect(!query.isSafeToSend)
            // Refused before any connection is tried (port 9 would answer "unreachable").
            await #expect(throws: DICOMwebError.invalidRequest) { _ = try await client.searchStudies(query) }
        }
        #expect(client.requestsSent == 0)
        #expect(StudyQuery(patient: PatientIdentifier(id: "BGN-004512", issuer: "1.2.250.1.71.4.2.2"), accessionNumber: "ACC-M-0001").isSafeToSend)
    }

    /// An IPP that happens to be (or is typed as) another person's INS number: exchanges
    /// that ignore the issuer answer with that person's studies. They are neither listed
    /// nor attachable.
    @Test(.enabled(if: TestExchange.isAvailable, "needs the test run's Orthanc"))
    func anotherPersonsStudiesNeverShowUnderALookalikeIdentifier() async throws {
        try await withTestApp(configure: { $0.dicomwebURL = TestExchange.url }) { browser, d in
            let world = try await AccessWorld.make(d)
            try await browser.logIn(email: "sud@t.fr")
            try await browser.get(SiteURL.newPatient.path)
            let created = try await browser.post(SiteURL.patients.path, form: Self.form(world, ins: nil, status: "PROV", extra: [("ipp", "261053306312304")]))
            #expect(created.status == .seeOther)
            let id = try #require(created.headers[.location].flatMap { UUID(storageKey: String($0.split(separator: "/").last ?? "")) })
            let caseID = try #require(try await d.patients.cases(of: id).first).id
            let marie = TestExchange.studies(of: "marie")
            let tab = try await browser.get(SiteURL.caseImaging(caseID).path + "?from=")
            #expect(tab.status == .ok)
            for study in marie { #expect(!tab.text.contains(study.studyInstanceUID)) }
            let attach = try await browser.post(SiteURL.caseImaging(caseID).path, form: [("study", marie[0].studyInstanceUID), ("exchange", "default")])
            #expect(attach.status == .unprocessableContent)
            #expect(try await d.imagingStudies.studies(ofCase: caseID).isEmpty)
            let denied = try await d.audit.events(matching: .init(patientIDs: [id], action: "imaging.attach")).map(\.event)
            #expect(denied.count == 1)
            #expect(denied.first?.outcome == "denied")
        }
    }
}

/// The identity desk: the one way to a qualified identity.
@Suite("Security: the identity desk") struct IdentityDeskTests {
    static var fixtures: String { Repository.root.appendingPathComponent("Fixtures/ins-test-identities.json").path }

    /// A validated record with an INS, created as the form would (VALI, document checked).
    func validatedRecord(_ d: AppDependencies, _ world: AccessWorld, ins: String, birthName: String, firstNames: String, birthDate: String, sex: AdministrativeSex) async throws -> UUID {
        try await d.patients.create(
            PatientIdentity(birthName: birthName, firstNames: firstNames, birthDate: CalendarDate(iso: birthDate)!, sex: sex,
                            ins: try INS(matricule: ins, kind: .test), status: .validated),
            in: world.south.id, by: world.southPhysician.id, careReason: "Référent", localID: nil,
            proofs: [IdentityProof(status: .validated, documentType: .passport, verifier: nil, source: .form, recordedBy: world.southPhysician.id)],
            audit: AuditDraft(actorID: nil, action: .patientCreate, resourceType: "patient", outcome: .success))
    }

    @Test func onlyTheDeskQualifiesAndOnlyWhenTheINSIsConfirmed() async throws {
        try await withTestApp(configure: { $0.insFixturesFile = Self.fixtures }) { browser, d in
            let world = try await AccessWorld.make(d)
            let paul = try await validatedRecord(d, world, ins: "145078619401282", birthName: "LEROY", firstNames: "Paul André", birthDate: "1945-07-08", sex: .male)
            // A physician of the patient's care team is not the desk.
            try await browser.logIn(email: "sud@t.fr")
            let page = try await browser.get(SiteURL.patient(paul).path)
            #expect(!page.text.contains("data-test=\"identity-desk\""))
            #expect(try await browser.post(SiteURL.patientIdentityQualify(paul).path, form: []).status == .forbidden)
            #expect(try await d.patients.find(id: paul)?.identity.status == .validated)
            // A physician of another community does not even learn the record exists.
            let north = browser.fresh()
            try await north.logIn(email: "nord@t.fr")
            try await north.get("/")
            #expect(try await north.post(SiteURL.patientIdentityQualify(paul).path, form: []).status == .notFound)

            let admin = browser.fresh()
            try await admin.logIn(email: "admin@t.fr")
            let desk = try await admin.get(SiteURL.patient(paul).path)
            #expect(desk.text.contains("data-test=\"identity-qualify\""))
            let qualified = try await admin.post(SiteURL.patientIdentityQualify(paul).path, form: [])
            #expect(qualified.status == .seeOther)
            let record = try #require(try await d.patients.find(id: paul))
            #expect(record.identity.status == .qualified)
            #expect(record.identity.usableINS?.matricule == "145078619401282")
            let proofs = try await d.patients.identityProofs(of: paul)
            #expect(proofs.map(\.proof.status) == [.qualified, .validated])
            #expect(proofs.first?.proof.verifier == "fixtures")
            #expect(proofs.first?.recordedByName == "admin@t.fr")
            let events = try await d.audit.events(matching: .init(patientIDs: [paul], action: "patient.identity_qualify")).map(\.event)
            // Newest first: the desk's act, the stranger's refusal, the physician's.
            #expect(events.map(\.outcome) == ["allowed", "denied", "denied"])
            #expect(events.map(\.reason).suffix(2) == ["not_in_community", "not_identity_desk"])
        }
    }

    @Test func anINSTheServiceDoesNotConfirmStaysValidated() async throws {
        try await withTestApp(configure: { $0.insFixturesFile = Self.fixtures }) { browser, d in
            let world = try await AccessWorld.make(d)
            // Louise's test INS, typed on somebody else's record.
            let impostor = try await validatedRecord(d, world, ins: "278023306304574", birthName: "MARTIN", firstNames: "Luc", birthDate: "1980-01-01", sex: .male)
            // A valid test INS the service does not know.
            let unknown = try await validatedRecord(d, world, ins: "180017511200169", birthName: "NOUVEAU", firstNames: "Jean", birthDate: "1980-01-01", sex: .male)
            try await browser.logIn(email: "admin@t.fr")
            try await browser.get(SiteURL.patient(impostor).path)
            _ = try await browser.post(SiteURL.patientIdentityQualify(impostor).path, form: [])
            let page = try await browser.get(SiteURL.patient(impostor).path)
            #expect(page.text.contains("ne sont pas ceux du dossier"))
            _ = try await browser.post(SiteURL.patientIdentityQualify(unknown).path, form: [])
            for id in [impostor, unknown] { #expect(try await d.patients.find(id: id)?.identity.status == .validated) }
            let reasons = try await d.audit.events(matching: .init(action: "patient.identity_qualify")).reversed().map(\.event.reason)
            #expect(reasons == ["traits_differ:birth_name,first_name,birth_date,sex", "ins_unknown"])
        }
    }

    @Test func theDeskValidatesAProvisionalIdentityWithItsDocument() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            try await browser.logIn(email: "admin@t.fr")
            try await browser.get(SiteURL.patient(world.northPatient).path)
            _ = try await browser.post(SiteURL.patientIdentityValidate(world.northPatient).path, form: [])
            #expect(try await d.patients.find(id: world.northPatient)?.identity.status == .provisional)
            _ = try await browser.post(SiteURL.patientIdentityValidate(world.northPatient).path, form: [("identity_document", "titre_sejour")])
            #expect(try await d.patients.find(id: world.northPatient)?.identity.status == .validated)
            #expect(try await d.patients.identityProofs(of: world.northPatient).first?.proof.documentType == .residencePermit)
            // Without a verifier configured, nothing qualifies.
            let page = try await browser.get(SiteURL.patient(world.northPatient).path)
            #expect(!page.text.contains("data-test=\"identity-qualify\"")) // no INS on this record
        }
    }

    @Test func aConfiguredINSiURLIsRefusedRatherThanIgnored() throws {
        var config = AppConfiguration()
        config.insiURL = "https://insi.example/ws"
        #expect(throws: ConfigurationError.self) { try config.insVerifier() }
        config.insiURL = nil
        #expect(try config.insVerifier() == nil)
        config.seedDemoData = true
        config.insFixturesFile = Self.fixtures
        #expect(try config.insVerifier()?.name == "fixtures")
    }

    /// Item 1(c): a hospital's system qualifies identities only when its organisation is
    /// trusted for them, and only with the record's own INS and traits.
    @Test func aTrustedHospitalsDocumentQualifiesTheIdentityItNames() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            let paul = try await validatedRecord(d, world, ins: "145078619401282", birthName: "LEROY", firstNames: "Paul André", birthDate: "1945-07-08", sex: .male)
            func token(trusted: Bool?) async throws -> String {
                var organisation: UUID?
                if let trusted {
                    let prefix = String(format: "3300%04d", Int.random(in: 0..<9999))
                    let finess = try #require((0...9).lazy.compactMap { FINESSNumber(prefix + String($0)) }.first)
                    let hospital = Organisation(name: "CH \(prefix)", finess: finess, city: "Pau")
                    try await d.organisations.create(hospital, audit: nil)
                    if trusted {
                        try await d.organisations.setTrustedForIdentities(true, organisationID: hospital.id,
                                                                          audit: AuditDraft(actorID: nil, action: .organisationIdentityTrust, resourceType: "organisation", outcome: .success))
                    }
                    organisation = hospital.id
                }
                return try await d.documents.createToken(community: world.south.id, organisation: organisation, label: "DPI", by: nil,
                                                         audit: AuditDraft(actorID: nil, action: .apiTokenCreate, resourceType: "api_token", outcome: .success)).secret
            }
            func post(_ body: String, _ secret: String) async throws -> TestResponse {
                try await browser.client.executeRequest(uri: SiteURL.apiDocuments.path, method: .post,
                                                        headers: [.contentType: "application/xml", .authorization: "Bearer \(secret)"], body: ByteBuffer(string: body))
            }
            func report(_ id: String, given: String = "Paul", birthTime: String = "19450708") -> String {
                DocumentWebTests.report(id: id, set: id, ins: "145078619401282", birthName: "LEROY", given: given, birthTime: birthTime, sex: "M")
            }
            // Attack: any hospital system of the community posts a document naming the INS.
            let plain = try await post(report("from-untrusted-token"), try await token(trusted: nil))
            #expect(plain.status == .created)
            #expect(!plain.text.contains("\"identity\""))
            #expect(try await post(report("from-untrusted-organisation"), try await token(trusted: false)).status == .created)
            #expect(try await d.patients.find(id: paul)?.identity.status == .validated)

            // A trusted organisation's document with other traits is filed but qualifies nothing.
            let trusted = try await token(trusted: true)
            let differing = try await post(report("other-traits", birthTime: "19450709"), trusted)
            #expect(differing.status == .created)
            #expect(differing.text.contains("not_qualified:traits_differ:birth_date"))
            #expect(try await d.patients.find(id: paul)?.identity.status == .validated)

            let qualified = try await post(report("same-traits"), trusted)
            #expect(qualified.status == .created)
            #expect(qualified.text.contains("\"identity\":\"qualified\""))
            #expect(try await d.patients.find(id: paul)?.identity.status == .qualified)
            let proof = try #require(try await d.patients.identityProofs(of: paul).first)
            #expect(proof.proof.source == .trustedOrganisation)
            #expect(proof.proof.verifier?.hasPrefix(IdentityProof.trustedOrganisationPrefix) == true)
            let events = try await d.audit.events(matching: .init()).map(\.event).filter { $0.action == "patient.identity_qualify" }
            #expect(events.map(\.outcome).sorted() == ["failure", "success"])
            #expect(events.allSatisfy { $0.reason?.contains("trusted_organisation:") == true })
        }
    }

    @Test func onlyPlatformAdminsTrustAnOrganisationForIdentities() async throws {
        try await withTestApp { browser, d in
            let world = try await AccessWorld.make(d)
            try await browser.logIn(email: "coord@t.fr")
            try await browser.get("/")
            let path = SiteURL.adminOrganisationIdentityTrust(world.organisation.id).path
            #expect(try await browser.post(path, form: [("trusted", "1")]).status == .forbidden)
            #expect(try await d.organisations.find(id: world.organisation.id)?.trustedForIdentities == false)
            let admin = browser.fresh()
            try await admin.logIn(email: "admin@t.fr")
            let page = try await admin.get(SiteURL.adminOrganisations.path)
            #expect(page.text.contains(path))
            #expect(try await admin.post(path, form: [("trusted", "1")]).status == .seeOther)
            #expect(try await d.organisations.find(id: world.organisation.id)?.trustedForIdentities == true)
            #expect(try await admin.get(SiteURL.adminOrganisations.path).text.contains("de confiance"))
            #expect(try await admin.post(path, form: [("trusted", "0")]).status == .seeOther)
            #expect(try await d.organisations.find(id: world.organisation.id)?.trustedForIdentities == false)
            #expect(try await admin.post(SiteURL.adminOrganisationIdentityTrust(UUID()).path, form: [("trusted", "1")]).status == .notFound)
            let actions = try await d.audit.events(matching: .init()).map(\.event).filter { $0.action == "organisation.identity_trust" }
            #expect(actions.count == 2)
        }
    }
}
