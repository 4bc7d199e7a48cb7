import ConcertoCore
import Foundation
import Testing

@testable import CDA

/// The fiche RCP export: valid against the CDA R2 schema and read back by our own reader
/// with the same values.
@Suite struct FicheRCPWriterTests {
    static let bergonie = FicheRCPExport.Organisation(finess: "330000662", name: "Institut Bergonié",
                                                      address: PostalAddress(street: "229 cours de l'Argonne", postalCode: "33076", city: "Bordeaux"))
    /// The header's national identifiers (demonstration values).
    static let registration = FicheRCPExport.Registration(networkID: "DEMO-RRC-NA", boardID: "DEMO-RCP-SUD", manager: bergonie)

    static func fiche(status: IdentityStatus = .qualified, decision: Bool = true, version: Int = 1, pdf: Data? = nil,
                      content: CaseContent? = nil) throws -> FicheRCPExport {
        let bergonie = Self.bergonie
        let oncologist = FicheRCPExport.Person(rpps: "10100000017", displayName: "Dr Olivier Oncologue", specialtyCode: "G15_10/SM36",
                                               specialtyLabel: "Oncologie médicale", organisation: bergonie)
        let radiotherapist = FicheRCPExport.Person(rpps: "10100000025", displayName: "Dr Rita Radiothérapeute", specialtyCode: "G15_10/SM37",
                                                   specialtyLabel: "Radiothérapie", organisation: bergonie)
        let identity = PatientIdentity(birthName: "DUPONT", firstNames: "Marie Louise", usedName: "MARTIN", birthDate: CalendarDate(iso: "1961-05-12")!,
                                       sex: .female, birthPlaceCode: "33063", ins: try INS(matricule: "261053306312304", kind: .test), status: status)
        return FicheRCPExport(
            caseID: UUID(uuidString: "6F0C1E2A-3B4C-4D5E-8F90-A1B2C3D4E5F6")!, patientID: UUID(uuidString: "7F0C1E2A-3B4C-4D5E-8F90-A1B2C3D4E5F6")!,
            version: version, generatedAt: Date(timeIntervalSince1970: 1_785_000_000),
            patient: identity, localIDs: [("330000662", "BGN-004512")], author: oncologist, custodian: bergonie, legalAuthenticator: oncologist,
            validatedAt: decision ? Date(timeIntervalSince1970: 1_784_990_000) : nil,
            participants: [.init(person: oncologist, role: .coordinator), .init(person: oncologist, role: .presenter),
                           .init(person: oncologist, role: .quorumMember), .init(person: radiotherapist, role: .quorumMember),
                           .init(person: FicheRCPExport.Person(rpps: nil, displayName: "Mme Invitée <Externe> & Cie", specialtyCode: nil, specialtyLabel: nil,
                                                               organisation: nil), role: .otherParticipant)],
            meeting: .init(id: UUID(uuidString: "11111111-2222-4333-8444-555555555555")!, title: "RCP thoracique", communityName: "RCP Nouvelle-Aquitaine Sud",
                           startsAt: Date(timeIntervalSince1970: 1_784_980_000), place: "Institut Bergonié, salle du conseil", transversal: false,
                           registration: registration),
            content: content ?? CaseContent(presentationReason: .initialTreatment, discoveryMode: .screening, tumourSiteCode: "C34.1", morphology: "Adénocarcinome (TTF1+)",
                                 lateralityCode: "24028007", tnm: TNM(cT: "T2a", cN: "N0", cM: "M0", pT: "T2a", pN: "N1", edition: 8),
                                 performanceStatusCode: "MED-264", history: "Tabagisme sevré (30 PA).\nHTA.", comorbidities: "BPCO modérée",
                                 phaseCode: "MED-268", previousTreatments: nil, summary: "Nodule de 28 mm < 3 cm & spiculé.",
                                 question: "Lobectomie d'emblée ?"),
            decision: decision ? CaseDecision(proposalTypes: [.surgery, .radiotherapy, .furtherInvestigations], proposal: "Lobectomie supérieure droite.\nPuis RCP.",
                                              followsGuidelines: true, trialProposed: true, trialReference: "NCT-DEMO-0042", fileComplete: true,
                                              quorumMet: true) : nil,
            pdf: pdf)
    }

    @Test func validAgainstTheSchemaAndReadBackWithTheSameValues() throws {
        let schema = try CDASchema(path: Shared.schema.path)
        let xml = FicheRCPWriter.write(try Self.fiche(pdf: Data("%PDF-1.4 test".utf8)))
        let report = CDAReader.read(xml, options: CDAReadOptions(schema: schema))
        #expect(report.errors == [], "\(String(decoding: xml, as: UTF8.self).prefix(400))")
        let document = try #require(report.document)
        #expect(document.type?.code == "34794-8")
        #expect(document.id?.root == FicheRCPExport.documentIDPrefix(try Self.fiche()) + ".1")
        #expect(document.version == 1)
        #expect(document.patient?.ins?.value == "261053306312304")
        #expect(document.patient?.birthName == "DUPONT")
        #expect(document.tnm.cT == "T2a" && document.tnm.cN == "N0" && document.tnm.cM == "M0")
        #expect(document.tnm.pT == "T2a" && document.tnm.pN == "N1")
        #expect(document.boardOutcome?.quorumCode == "ORG-126")
        #expect(document.boardOutcome?.fileComplete == true)
        #expect(document.boardOutcome?.proposal?.contains("Lobectomie supérieure droite.") == true)
        #expect(document.serviceEvents.compactMap(\.code?.code) == ["39", "C34.1"])
        #expect(document.sections.compactMap(\.code?.code) == ["42349-1", "42545-4", "72135-7", "11348-0", "18733-6", "29554-3", "10164-2",
                                                                "21874-3", "18776-5", "35510-7", "33557-0", "55108-5"])
        #expect(document.pdf == Data("%PDF-1.4 test".utf8))
        let summary = try #require(document.sections.first { $0.code?.code == "10164-2" })
        #expect(summary.narrativeHTML.contains("Nodule de 28 mm &lt; 3 cm &amp; spiculé."))
        #expect(document.custodian?.name == "Institut Bergonié")
    }

    @Test func theINSIsAnIdentifierOnlyWhenTheIdentityIsQualified() throws {
        let schema = try CDASchema(path: Shared.schema.path)
        let report = CDAReader.read(FicheRCPWriter.write(try Self.fiche(status: .validated)), options: CDAReadOptions(schema: schema))
        #expect(report.errors == [])
        #expect(report.document?.patient?.ins == nil)
        #expect(report.document?.patient?.birthName == "DUPONT")
    }

    @Test func anAmendmentIsANewVersionOfTheSameSet() throws {
        let first = CDAReader.read(FicheRCPWriter.write(try Self.fiche(version: 1))).document
        let second = CDAReader.read(FicheRCPWriter.write(try Self.fiche(version: 2))).document
        #expect(first?.setID == second?.setID)
        #expect(first?.id != second?.id)
        #expect(second?.version == 2)
        // The same version exported twice is the same document.
        #expect(CDAReader.read(FicheRCPWriter.write(try Self.fiche(version: 1))).document?.id == first?.id)
    }

    @Test func aFicheWithoutDecisionIsStillValid() throws {
        let schema = try CDASchema(path: Shared.schema.path)
        let report = CDAReader.read(FicheRCPWriter.write(try Self.fiche(decision: false)), options: CDAReadOptions(schema: schema))
        #expect(report.errors == [])
        #expect(report.document?.boardOutcome?.quorumCode == nil)
    }

    /// Parsing the schema from several threads at once once failed ("Schéma XML illisible").
    @Test func theSchemaLoadsFromSeveralThreadsAtOnce() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    let schema = try CDASchema(path: Shared.schema.path)
                    let report = CDAReader.read(FicheRCPWriter.write(try Self.fiche()), options: CDAReadOptions(schema: schema))
                    #expect(report.errors == [])
                }
            }
            try await group.waitForAll()
        }
    }

    @Test func uuidOIDs() {
        #expect(OIDs.uuid(UUID(uuidString: "00000000-0000-0000-0000-000000000000")!) == "2.25.0")
        #expect(OIDs.uuid(UUID(uuidString: "00000000-0000-0000-0000-0000000000FF")!) == "2.25.255")
        // ISO/IEC 9834-8 example.
        #expect(OIDs.uuid(UUID(uuidString: "f81d4fae-7dec-11d0-a765-00a0c91e6bf6")!) == "2.25.329800735698586629295641978511506172918")
    }
}
