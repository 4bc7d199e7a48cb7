import CDA
import Foundation
import Testing

/// Hostile or broken input gets a clear French error and no document (so nothing can be stored).
@Suite struct HostileInputTests {
    func refused(_ bytes: Data, limits: XMLLimits = .default) -> String {
        let report = CDAReader.read(bytes, options: CDAReadOptions(limits: limits))
        #expect(report.document == nil)
        #expect(!report.ok)
        #expect(report.errors.count == 1)
        return report.errors.first ?? ""
    }

    @Test func externalEntityIsRefusedBeforeAnyFileIsRead() {
        let xml = """
        <?xml version="1.0"?>
        <!DOCTYPE ClinicalDocument [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
        <ClinicalDocument xmlns="urn:hl7-org:v3"><title>&xxe;</title></ClinicalDocument>
        """
        let error = refused(Data(xml.utf8))
        #expect(error.contains("DOCTYPE"))
        #expect(error.hasPrefix("Ligne 2"))
        #expect(!error.contains("root:"))
    }

    @Test func externalDTDIsNotFetched() {
        let xml = #"<?xml version="1.0"?><!DOCTYPE ClinicalDocument SYSTEM "http://127.0.0.1:9/cda.dtd"><ClinicalDocument xmlns="urn:hl7-org:v3"/>"#
        #expect(refused(Data(xml.utf8)).contains("DOCTYPE"))
    }

    @Test func billionLaughsIsRefused() {
        var declarations = #"<!ENTITY lol0 "lol">"#
        for level in 1...9 {
            declarations += "<!ENTITY lol\(level) \"" + String(repeating: "&lol\(level - 1);", count: 10) + "\">"
        }
        let xml = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\(declarations)]>\n<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><title>&lol9;</title></ClinicalDocument>"
        #expect(refused(Data(xml.utf8)).contains("DOCTYPE"))
    }

    @Test func undeclaredEntityIsMalformed() {
        let error = refused(Data(MiniCDA.xml(narrative: "<paragraph>&xxe;</paragraph>").utf8))
        #expect(error.contains("XML mal formé"))
        #expect(error.contains("xxe"))
    }

    @Test func tenThousandDeepNestingIsRefused() {
        let xml = "<ClinicalDocument xmlns=\"urn:hl7-org:v3\">" + String(repeating: "<a>", count: 10_000)
            + String(repeating: "</a>", count: 10_000) + "</ClinicalDocument>"
        let error = refused(Data(xml.utf8))
        #expect(error.contains("imbrication de plus de 256"))
    }

    @Test func oversizedInputIsRefusedBeforeParsing() {
        let bytes = Data(MiniCDA.xml().utf8)
        let error = refused(bytes, limits: XMLLimits(maxBytes: 1024, maxDepth: 256))
        #expect(error.contains("au-delà de la limite de 0,0 Mo") || error.contains("limite"))
        // The default limit is 20 MB: 21 MB of padding in a comment is refused by size.
        var big = Data("<?xml version=\"1.0\"?><!--".utf8)
        big.append(Data(repeating: UInt8(ascii: "x"), count: 21 * 1024 * 1024))
        let defaultError = refused(big)
        #expect(defaultError.contains("20,0 Mo"))
    }

    @Test func truncatedDocumentGivesLineAndColumn() throws {
        let full = MiniCDA.xml()
        let truncated = String(full.prefix(full.count / 2))
        let error = refused(Data(truncated.utf8))
        #expect(error.contains("XML mal formé"))
        #expect(error.contains("Ligne"))
        #expect(error.contains("colonne"))
    }

    @Test func plainTextIsNotXML() {
        #expect(refused(Data("Compte rendu : RAS".utf8)).contains("XML mal formé"))
    }

    @Test func emptyFile() {
        #expect(refused(Data()) == "Le fichier est vide.")
    }

    @Test func xmlThatIsNotACDADocument() {
        let other = refused(Data(#"<?xml version="1.0"?><html><body/></html>"#.utf8))
        #expect(other.contains("<html> sans espace de noms"))
        // The right name in the wrong namespace is not a CDA document either.
        let wrongNamespace = refused(Data(#"<ClinicalDocument xmlns="urn:example"/>"#.utf8))
        #expect(wrongNamespace.contains("urn:example"))
    }

    @Test func binaryGarbage() {
        var generator = SystemRandomNumberGenerator()
        let garbage = Data((0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) })
        #expect(!refused(garbage).isEmpty)
        let pdfHeader = Data("%PDF-1.4\n%\u{E2}\u{E3}\n1 0 obj".utf8)
        #expect(refused(pdfHeader).contains("XML mal formé"))
    }

    @Test func invalidUTF8IsAnEncodingError() {
        var bytes = Data(MiniCDA.xml(narrative: "<paragraph>RESULT</paragraph>").utf8)
        let marker = Data("RESULT".utf8)
        let range = bytes.range(of: marker)!
        bytes.replaceSubrange(range, with: [0x52, 0xFF, 0xFE, 0x53])
        let error = refused(bytes)
        #expect(error.contains("encodage"))
        #expect(error.contains("colonne"))
    }

    @Test func declaredLatin1IsDecodedByLibxml2() throws {
        let xml = MiniCDA.xml(narrative: "<paragraph>Résultat normal</paragraph>", prolog: #"<?xml version="1.0" encoding="ISO-8859-1"?>"#)
        let latin1 = try #require(xml.data(using: .isoLatin1))
        let report = CDAReader.read(latin1)
        #expect(report.ok, "\(report.errors)")
        #expect(report.document?.sections.first?.narrativeHTML == "<p>Résultat normal</p>")
        #expect(report.document?.sections.first?.title == "Résultats")
    }
}
