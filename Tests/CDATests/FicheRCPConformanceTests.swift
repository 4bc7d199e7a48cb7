import ConcertoCore
import ConcertoTestSupport
import Foundation
import Testing

@testable import CDA

/// Every exported fiche passes the official ANS schematron of the fiche RCP (CANCER-FRCP
/// 2022.01) with no failed assertion, and the CDA R2 schema: a fiche with every field, one
/// with every optional field empty, an amended one, and 50 drawn at random from the value
/// sets (one Saxon run checks them all).
@Suite struct FicheRCPConformanceTests {
    /// The random fiches are reproducible from the seed printed on failure.
    typealias SeededGenerator = SplitMix64

    static func randomFiche(_ index: Int, using random: inout SeededGenerator) throws -> FicheRCPExport {
        func maybe<T>(_ value: @autoclosure () -> T) -> T? { Bool.random(using: &random) ? value() : nil }
        func stage(_ axis: String, _ values: [String]) -> String? { maybe(axis + values.randomElement(using: &random)!) }
        let content = CaseContent(
            presentationReason: maybe(PresentationReason.allCases.randomElement(using: &random)!),
            discoveryMode: maybe(DiscoveryMode.allCases.randomElement(using: &random)!),
            tumourSiteCode: maybe(Terminology.tumourSites.concepts.randomElement(using: &random)!.code),
            morphology: maybe("Carcinome n°\(index) <peu différencié> & infiltrant"),
            lateralityCode: maybe(Terminology.lateralities.concepts.randomElement(using: &random)!.code),
            tnm: TNM(cT: stage("T", ["0", "1", "1a", "2", "2b", "3", "4", "x", "is"]), cN: stage("N", ["0", "1", "2", "3", "x"]),
                     cM: stage("M", ["0", "1", "x"]), pT: stage("T", ["1", "2", "3"]), pN: stage("N", ["0", "1"]),
                     edition: maybe([7, 8].randomElement(using: &random)!)),
            performanceStatusCode: maybe(Terminology.performanceStatuses.concepts.randomElement(using: &random)!.code),
            history: maybe("Antécédent \(index)"), comorbidities: maybe("Comorbidité"),
            phaseCode: maybe(Terminology.cancerPhases.concepts.randomElement(using: &random)!.code),
            previousTreatments: maybe("Chimiothérapie néoadjuvante.\n\nRadiothérapie."),
            summary: maybe("Synthèse du cas \(index)."), question: maybe("Question \(index) ?"))
        let trial = Bool.random(using: &random)
        var fiche = try FicheRCPWriterTests.fiche(status: [.provisional, .validated, .qualified].randomElement(using: &random)!,
                                                  decision: Bool.random(using: &random), version: Int.random(in: 1...4, using: &random),
                                                  content: content)
        if fiche.decision != nil {
            let types = ProposalType.allCases.shuffled(using: &random).prefix(Int.random(in: 1...4, using: &random))
            fiche.decision = CaseDecision(proposalTypes: Array(types), proposal: "Proposition \(index).", followsGuidelines: Bool.random(using: &random),
                                          guidelinesDeviationReason: "Raison", trialProposed: trial, trialReference: trial ? "NCT-\(index)" : nil,
                                          fileComplete: Bool.random(using: &random), quorumMet: Bool.random(using: &random))
        }
        return fiche
    }

    @Test func everyExportedFichePassesTheSchematronAndTheSchema() throws {
        var fiches: [(String, FicheRCPExport)] = [
            ("complete", try FicheRCPWriterTests.fiche(pdf: Data("%PDF-1.4 test".utf8))),
            ("optional-fields-empty", try FicheRCPWriterTests.fiche(status: .provisional, content: CaseContent())),
            ("no-decision", try FicheRCPWriterTests.fiche(decision: false)),
            ("amended", try FicheRCPWriterTests.fiche(version: 2)),
        ]
        let seed = UInt64.random(in: .min ... .max)
        var random = SeededGenerator(state: seed)
        for index in 0..<50 { fiches.append(("random-\(index)", try Self.randomFiche(index, using: &random))) }

        let schema = try CDASchema(path: Shared.schema.path)
        let documents = fiches.map { ($0.0, FicheRCPWriter.write($0.1)) }
        for (name, xml) in documents {
            #expect(CDAReader.read(xml, options: CDAReadOptions(schema: schema)).errors == [], "\(name) (seed \(seed))")
        }
        let failures = try Schematron.failedAssertions(documents)
        for (name, _) in documents {
            #expect(failures[name] == [], "\(name) (seed \(seed)): \(failures[name] ?? ["no report"])")
        }
    }

    /// The header's identifiers and address, as the schematron wants them.
    @Test func theHeaderCarriesTheNetworkTheManagerAndTheBoard() throws {
        let xml = String(decoding: FicheRCPWriter.write(try FicheRCPWriterTests.fiche()), as: UTF8.self)
        #expect(xml.contains(#"<id root="1.2.250.1.161.1.20.1.1" extension="DEMO-RRC-NA"/>"#))
        #expect(xml.contains(#"<id root="1.2.250.1.161.1.20.2.1" extension="330000662"/>"#))
        #expect(xml.contains(#"<id root="1.2.250.1.161.1.20.3.1" extension="DEMO-RCP-SUD"/>"#))
        #expect(xml.contains("<streetAddressLine>229 cours de l&apos;Argonne</streetAddressLine>") || xml.contains("<streetAddressLine>229 cours de l'Argonne</streetAddressLine>"))
        #expect(xml.contains("<postalCode>33076</postalCode>"))
    }

    /// The check itself: the ANS example passes, a fiche without the header's identifiers
    /// fails with the assertion the national platform would give.
    @Test func theSchematronRunHereCatchesWhatTheNationalOneCatches() throws {
        var incomplete = try FicheRCPWriterTests.fiche()
        incomplete.meeting?.registration = nil
        let example = try Shared.document("CANCER-FRCP_2022.01_Appareil.xml")
        let failures = try Schematron.failedAssertions([("ans-example", example), ("incomplete", FicheRCPWriter.write(incomplete))])
        #expect(failures["ans-example"] == [])
        #expect(failures["incomplete"]?.contains { $0.contains("identiants du RRC, du gestionnaire et de la RCP") } == true)
    }
}
