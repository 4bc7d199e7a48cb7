import CDA
import ConcertoCore
import Foundation
import Testing

/// Acceptance 1: every public sample inspects with the right values.
@Suite struct CorpusTests {
    static let testINS = "279035121518989"

    func read(_ name: String, schema: CDASchema? = nil) throws -> CDADocument {
        let report = CDAReader.read(try Shared.document(name), options: CDAReadOptions(schema: schema))
        #expect(report.errors == [], "\(name)")
        return try #require(report.document)
    }

    @Test func theCorpusIsThere() {
        #expect(Shared.corpusFiles.count == 7)
    }

    @Test func imagingReportGivesItsThreeStudiesAndAccessionNumbers() throws {
        let document = try read("IMG_CR_IMG_2024.01.xml")
        #expect(document.type == CodedValue(code: "18748-4", codeSystem: "2.16.840.1.113883.6.1", displayName: "CR d’imagerie médicale"))
        #expect(document.id == InstanceIdentifier(root: "1.2.250.1.213.1.1.1.45.2024.1.1"))
        #expect(document.setID == InstanceIdentifier(root: "1.2.250.1.213.1.1.1.45.2024.1"))
        #expect(document.version == 2)
        #expect(document.effectiveTime?.iso == "2021-01-08T11:17:00+01:00")
        #expect(document.confidentiality?.code == "N")
        #expect(document.language == "fr-FR")
        #expect(document.studyInstanceUIDs == ["1.2.250.1.925.994044.27.123.1876360", "1.2.250.1.925.994044.27.123.1876361", "1.2.250.1.925.994044.27.123.1876362"])
        #expect(document.accessionNumbers == ["105234751", "105234752"])
        #expect(document.serviceEvents.first?.modalities == ["CT"])
        #expect(document.catalog.first?.series.first?.instanceUIDs == ["1.2.250.1.925.994044.27.123.1876360.1.1"])
        let patient = try #require(document.patient)
        #expect(patient.ins == DocumentINS(value: Self.testINS, kind: .test, isValid: true))
        #expect(patient.localIDs == [InstanceIdentifier(root: "1.2.3.4.567.8.9.10", extension: "1234567890121")])
        #expect(patient.birthName == "PAT-TROIS")
        #expect(patient.usedName == "PAT-TROIS")
        #expect(patient.given == ["DOMINIQUE MARIE-LOUISE", "DOMINIQUE"])
        #expect(patient.firstName == "DOMINIQUE")
        #expect(patient.birthDate?.iso == "1979-03-28")
        #expect(patient.sex == "F")
        #expect(patient.birthPlaceCode == "51215")
        #expect(document.authors.first?.rpps == "01234560801")
        #expect(document.authors.first?.family == "BIDEAULT")
        #expect(document.custodian?.finess == "920008059")
        #expect(document.legalAuthenticator?.family == "BIDEAULT")
    }

    @Test func hl7DiagnosticImagingReportHasItsStudyButNoINS() throws {
        let report = CDAReader.read(try Shared.document("HL7-Diagnostic_Imaging_Report.xml"))
        let document = try #require(report.document)
        #expect(report.ok)
        #expect(document.type?.code == "18748-4")
        #expect(document.studyInstanceUIDs == ["1.2.840.113619.2.62.994044785528.114289542805"])
        #expect(document.patient?.ins == nil)
        #expect(document.patient?.birthName == "Everyman")
        #expect(document.sections.first?.code?.code == "121181")
        #expect(report.warnings.contains { $0.contains("Pas d'INS") })
    }

    @Test func ficheRCPGivesTNMQuorumAndProposal() throws {
        let document = try read("CANCER-FRCP_2022.01_Appareil.xml")
        #expect(document.type?.code == "34794-8")
        #expect(document.patient?.ins?.value == Self.testINS)
        #expect(document.tnm == TNMEntries(cT: "T1b", cN: "N1", cM: "M0"))
        let outcome = try #require(document.boardOutcome)
        #expect(outcome.quorumCode == "ORG-126")
        #expect(outcome.fileComplete == true)
        #expect((outcome.proposal ?? "").isEmpty == false)
        #expect(document.sections.map { $0.code?.code } .prefix(3) == ["42349-1", "42545-4", "72135-7"])
    }

    @Test func otherReportTypes() throws {
        #expect(try read("CANCER-CR-GM_2022.01_AnalyseRealisee.xml").type?.code == "51969-4")
        #expect(try read("CANCER-PPS_2022.01_feuille-de-style-externe.xml").type?.code == "18776-5")
        let lab = try read("BIO-CR-BIO_2024.01_TSH_1.xml")
        #expect(lab.type?.code == "11502-2")
        // FR-Document-PDF-copie: the embedded copy is kept for download.
        let pdf = try #require(lab.pdf)
        #expect(pdf.count == 78_777)
        #expect(pdf.prefix(5) == Data("%PDF-".utf8))
        for name in ["CANCER-CR-GM_2022.01_AnalyseRealisee.xml", "CANCER-PPS_2022.01_feuille-de-style-externe.xml", "BIO-CR-BIO_2024.01_TSH_1.xml"] {
            #expect(try read(name).patient?.ins?.value == Self.testINS, "\(name)")
        }
    }

    /// The PPS's plan: what was done and what is planned, with dates.
    @Test func aPersonalisedCarePlanGivesItsItems() throws {
        let plan = try read("CANCER-PPS_2022.01_feuille-de-style-externe.xml")
        #expect(plan.isPersonalisedCarePlan)
        #expect(try read("CANCER-FRCP_2022.01_Appareil.xml").isPersonalisedCarePlan == false)
        let items = plan.carePlan
        #expect(items.count >= 7)
        let radiotherapy = try #require(items.first)
        #expect(radiotherapy.kind.code == "MED-568" && radiotherapy.what?.displayName == "Radiothérapie")
        #expect(radiotherapy.done && radiotherapy.start?.iso == "2019-05-01" && radiotherapy.end?.iso == "2019-07-01")
        let surgery = try #require(items.first { $0.what?.code == "387713003" })
        #expect(!surgery.done && surgery.start == nil && surgery.plannedStart?.iso == "2019-09-01" && surgery.plannedEnd?.iso == "2019-10-01")
        #expect(items.contains { $0.kind.code == "MED-571" && $0.what?.displayName == "consultation" })
    }

    @Test func unstructuredN1DocumentKeepsItsPDF() throws {
        let document = try read("DOC_NON_STRUCTURE_CDA-R2-N1.xml")
        guard case .nonXML(let mediaType, let data) = document.body else {
            Issue.record("expected a non-XML body")
            return
        }
        #expect(mediaType == "application/pdf")
        #expect(data?.count == 326_650)
        #expect(data?.prefix(5) == Data("%PDF-".utf8))
        #expect(document.sections.isEmpty)
        #expect(document.patient?.ins?.value == Self.testINS)
    }

    @Test func everySampleIsValidAgainstTheCDASchema() throws {
        let schema = try CDASchema(path: Shared.schema.path)
        for file in Shared.corpusFiles {
            let report = CDAReader.read(try Data(contentsOf: file), options: CDAReadOptions(schema: schema))
            #expect(report.ok, "\(file.lastPathComponent): \(report.errors)")
        }
    }

    @Test func schemaValidationReportsTheLineOfAnUnexpectedElement() throws {
        let schema = try CDASchema(path: Shared.schema.deletingLastPathComponent().path)
        let xml = MiniCDA.xml(extraHeader: "<bogus/>")
        let report = CDAReader.read(MiniCDA.data(xml), options: CDAReadOptions(schema: schema))
        #expect(!report.ok)
        #expect(report.errors.contains { $0.contains("bogus") && $0.contains("ligne") })
        // Without the schema the same document reads (the header rules do not know <bogus>).
        #expect(CDAReader.read(MiniCDA.data(xml)).ok)
    }

    @Test func inspectJSONKeepsEveryKeyOfTheContract() throws {
        let report = CDAReader.read(try Shared.document("IMG_CR_IMG_2024.01.xml"))
        let line = CDAInspection(file: "x.xml", report: report).jsonLine()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        for key in ["file", "ok", "errors", "warnings", "documentId", "setId", "version", "type", "title", "effectiveTime",
                    "patient", "authors", "custodian", "sections", "studyInstanceUIDs", "tnm", "body", "mediaType"] {
            #expect(object.keys.contains(key), "\(key)")
        }
        #expect(object["effectiveTime"] as? String == "2021-01-08T11:17:00+01:00")
        #expect(object["body"] as? String == "structured")
        #expect(object["mediaType"] is NSNull)
        let patient = try #require(object["patient"] as? [String: Any])
        let ins = try #require(patient["ins"] as? [String: Any])
        #expect(ins["kind"] as? String == "NIR-test")
        #expect(ins["oid"] as? String == "1.2.250.1.213.1.4.10")
        let tnm = try #require(object["tnm"] as? [String: Any])
        #expect(tnm["cT"] is NSNull)
        #expect(!line.contains("\n"))
        // A refused file still has every key, with nulls and empty lists.
        let refused = CDAInspection(file: "y.xml", report: CDAReader.read(Data("pas du XML".utf8))).jsonLine()
        let empty = try #require(try JSONSerialization.jsonObject(with: Data(refused.utf8)) as? [String: Any])
        #expect(empty["ok"] as? Bool == false)
        #expect((empty["errors"] as? [String])?.count == 1)
        #expect(empty["patient"] is NSNull)
        #expect((empty["studyInstanceUIDs"] as? [String]) == [])
    }
}
