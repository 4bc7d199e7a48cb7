import CDA
import Foundation
import Testing

/// Narrative blocks become HTML from an allow-list; everything else is text.
@Suite struct NarrativeTests {
    func html(_ narrative: String) throws -> String {
        let report = CDAReader.read(MiniCDA.data(MiniCDA.xml(narrative: narrative)))
        return try #require(report.document?.sections.first).narrativeHTML
    }

    @Test func structureIsKept() throws {
        #expect(try html("<paragraph>Un<br/>deux<sub>2</sub><sup>3</sup></paragraph>") == "<p>Un<br>deux<sub>2</sub><sup>3</sup></p>")
        #expect(try html(#"<list listType="ordered"><item>a</item><item>b</item></list><list><item>c</item></list>"#)
            == "<ol><li>a</li><li>b</li></ol><ul><li>c</li></ul>")
        #expect(try html(#"<table border="1" onclick="x()"><caption>T</caption><thead><tr><th colspan="2">H</th></tr></thead><tbody><tr><td rowspan="x">1</td><td>2</td></tr></tbody></table>"#)
            == #"<table><caption>T</caption><thead><tr><th colspan="2">H</th></tr></thead><tbody><tr><td>1</td><td>2</td></tr></tbody></table>"#)
    }

    @Test func contentKeepsOnlyKnownStyleCodes() throws {
        #expect(try html(#"<content styleCode="Bold Italics" ID="c1">gras</content>"#) == #"<span class="cda-bold cda-italics">gras</span>"#)
        #expect(try html(#"<content styleCode="&quot;onmouseover=alert(1)">x</content>"#) == "x")
    }

    @Test func linksOnlyToHTTP() throws {
        #expect(try html(#"<linkHtml href="https://pacs.example.org/v?a=1&amp;b=2">images</linkHtml>"#)
            == #"<a href="https://pacs.example.org/v?a=1&amp;b=2" rel="noopener noreferrer nofollow" target="_blank">images</a>"#)
        #expect(try html(#"<linkHtml href="javascript:alert(1)">clic</linkHtml>"#) == "clic")
        #expect(try html(#"<linkHtml href="data:text/html,&lt;script&gt;">clic</linkHtml>"#) == "clic")
        #expect(try html(#"<linkHtml href="https://x.org/&quot;onmouseover=&quot;a">x</linkHtml>"#).contains("onmouseover=\"") == false)
    }

    @Test func markupInTextIsEscaped() throws {
        #expect(try html("<paragraph>&lt;script&gt;alert('x')&lt;/script&gt; &amp; co</paragraph>")
            == "<p>&lt;script&gt;alert('x')&lt;/script&gt; &amp; co</p>")
        // Elements outside the CDA namespace (or unknown ones) keep only their text.
        #expect(try html(#"<script xmlns="http://www.w3.org/1999/xhtml">alert(1)</script><unknown>texte</unknown>"#) == "alert(1)texte")
        #expect(try html(#"<renderMultiMedia referencedObject="img1"/>"#) == #"<span class="cda-media">[Média img1]</span>"#)
    }

    @Test func tablePartsOutsideATableAreText() throws {
        #expect(try html("<tr><td>x</td></tr>") == "x")
        #expect(try html("<caption>Légende</caption>") == "<strong>Légende</strong>")
    }
}

@Suite struct HL7TimeTests {
    @Test func precisionAndOffsetAreKept() {
        #expect(HL7Time("20240301102000+0100")?.iso == "2024-03-01T10:20:00+01:00")
        #expect(HL7Time("20240301")?.iso == "2024-03-01")
        #expect(HL7Time("202403")?.iso == "2024-03")
        #expect(HL7Time("2024")?.iso == "2024")
        #expect(HL7Time("202403011020")?.iso == "2024-03-01T10:20")
        #expect(HL7Time("20240301102030.123-0500")?.iso == "2024-03-01T10:20:30.123-05:00")
        #expect(HL7Time("20240301+0100")?.iso == "2024-03-01")
    }

    @Test func nonsenseIsRefused() {
        for raw in ["", "2024-03-01", "20241301", "20240332", "2024030125", "20240301102000+01", "abcd", "20240301102000Z"] {
            #expect(HL7Time(raw) == nil, "\(raw)")
        }
    }

    @Test func documentWithADateOnlyEffectiveTime() throws {
        let report = CDAReader.read(MiniCDA.data(MiniCDA.xml(effectiveTime: "20240301")))
        #expect(report.document?.effectiveTime?.iso == "2024-03-01")
        let broken = CDAReader.read(MiniCDA.data(MiniCDA.xml(effectiveTime: "hier")))
        #expect(broken.errors.contains { $0.contains("effectiveTime") })
    }

    @Test func dicomUIDs() {
        #expect(DICOMUID.isValid("1.2.840.10008.5.1.4.1.1.2"))
        #expect(DICOMUID.isValid("1.2.0.3"))
        #expect(!DICOMUID.isValid("1.02.3"))
        #expect(!DICOMUID.isValid("1..2"))
        #expect(!DICOMUID.isValid("1.2."))
        #expect(!DICOMUID.isValid("50A6342B-0C12-46FB-9876-F9D7275F2C01"))
    }
}
