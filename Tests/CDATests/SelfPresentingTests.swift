import Foundation
import Testing

@testable import CDA

/// Documents ANS publishes "auto-présentables": an XSLT stylesheet (a browser opening the
/// file shows the report) with the ClinicalDocument as one of its top-level elements. They
/// read, validate and match as the plain ones; anything else in that shape is refused.
@Suite struct SelfPresentingTests {
    static let stylesheetOpen = """
        <?xml version="1.0" encoding="UTF-8"?>
        <?xml-stylesheet type="text/xsl" href="#"?>
        <xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform" xmlns:n1="urn:hl7-org:v3">
          <xsl:output method="html"/>
          <xsl:template match="/"><html><body><h1><xsl:value-of select="//n1:ClinicalDocument/n1:title"/></h1></body></html></xsl:template>
        """

    /// The ANS fiche RCP example from its root element on (no declaration or processing instructions).
    static func plainFiche() throws -> String {
        let text = String(decoding: try Shared.document("CANCER-FRCP_2022.01_Appareil.xml"), as: UTF8.self)
        let start = try #require(text.range(of: "<ClinicalDocument"))
        return String(text[start.lowerBound...])
    }

    static func wrapped(_ documents: [String]) -> Data {
        Data((stylesheetOpen + documents.joined(separator: "\n") + "\n</xsl:stylesheet>\n").utf8)
    }

    @Test func aSelfPresentingFicheReadsAsThePlainOne() throws {
        let schema = try CDASchema(path: Shared.schema.path)
        let plain = CDAReader.read(try Shared.document("CANCER-FRCP_2022.01_Appareil.xml"), options: CDAReadOptions(schema: schema))
        let wrapped = CDAReader.read(Self.wrapped([try Self.plainFiche()]), options: CDAReadOptions(schema: schema))
        #expect(wrapped.errors == [])
        let document = try #require(wrapped.document)
        #expect(document.presentation == .selfPresenting)
        #expect(plain.document?.presentation == .plain)
        var comparable = document
        comparable.presentation = .plain
        #expect(comparable == plain.document)
        let json = CDAInspection(file: "auto.xml", report: wrapped).jsonLine()
        #expect(json.contains(#""presentation":"self_presenting""#))
    }

    @Test func aStylesheetWithTwoDocumentsOrNoneIsRefused() throws {
        let fiche = try Self.plainFiche()
        let two = CDAReader.read(Self.wrapped([fiche, fiche]))
        #expect(two.document == nil)
        #expect(two.errors.first?.contains("contenant 2 ClinicalDocument") == true)
        let none = CDAReader.read(Self.wrapped([]))
        #expect(none.document == nil)
        #expect(none.errors.first?.contains("sans ClinicalDocument") == true)
        // A document hidden inside a template is not one of the stylesheet's elements.
        let hidden = CDAReader.read(Data((Self.stylesheetOpen + "<xsl:template name=\"x\">" + fiche + "</xsl:template></xsl:stylesheet>").utf8))
        #expect(hidden.document == nil)
    }

    @Test func aStylesheetNestedTooDeepIsRefusedBeforeAnythingIsRead() throws {
        let depth = 300
        let nested = String(repeating: "<xsl:if test=\"1\">", count: depth) + String(repeating: "</xsl:if>", count: depth)
        let report = CDAReader.read(Data((Self.stylesheetOpen + "<xsl:template name=\"deep\">" + nested + "</xsl:template>" + (try Self.plainFiche())
                                          + "</xsl:stylesheet>").utf8))
        #expect(report.document == nil)
        #expect(report.errors.first?.contains("imbrication") == true)
    }

    /// International (HL7) documents give the family name without the French qualifier:
    /// it is the birth name.
    @Test func aFamilyNameWithoutQualifierIsTheBirthName() throws {
        let report = CDAReader.read(try Shared.document("HL7-Diagnostic_Imaging_Report.xml"))
        let patient = try #require(report.document?.patient)
        #expect(patient.birthName != nil)
        #expect(patient.usedName == nil)
    }
}
