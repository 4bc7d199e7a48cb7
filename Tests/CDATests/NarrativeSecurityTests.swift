import CDA
import Foundation
import Testing

/// Attack: markup in a document's attributes reaching every reader of the narrative
/// (a `<meta http-equiv="refresh">`, which the CSP does not stop).
@Suite("Security: narrative attributes") struct NarrativeSecurityTests {
    static let payload = #"&quot;&gt;&lt;meta http-equiv=&quot;refresh&quot; content=&quot;0;url=https://evil.example&quot;&gt;&lt;script&gt;x()&lt;/script&gt;"#

    func html(_ narrative: String) throws -> String {
        let report = CDAReader.read(MiniCDA.data(MiniCDA.xml(narrative: narrative)))
        return try #require(report.document?.sections.first).narrativeHTML
    }

    @Test func everyCopiedAttributeCarryingMarkupRendersAsText() throws {
        let p = Self.payload
        let narrative = """
            <paragraph ID="\(p)" styleCode="\(p)">a<renderMultiMedia referencedObject="\(p)"/></paragraph>\
            <list listType="\(p)" ID="\(p)"><item ID="\(p)">b</item></list>\
            <content styleCode="Bold \(p)" ID="\(p)" revised="\(p)">c</content>\
            <linkHtml href="https://x.org/\(p)" name="\(p)" title="\(p)">d</linkHtml>\
            <linkHtml href="\(p)">e</linkHtml>\
            <table ID="\(p)" summary="\(p)"><caption ID="\(p)">f</caption><tbody><tr ID="\(p)">\
            <th colspan="\(p)" abbr="\(p)">g</th><td rowspan="2\(p)" headers="\(p)">h</td></tr></tbody></table>\
            <footnote ID="\(p)">i</footnote><sub ID="\(p)">j</sub><br ID="\(p)"/>
            """
        let rendered = try html(narrative)
        for forbidden in ["<meta", "<script", "http-equiv=\"", "content=\"0", "onmouseover"] {
            #expect(!rendered.contains(forbidden), "\(forbidden) in \(rendered)")
        }
        // The media reference is shown, as text.
        #expect(rendered.contains("[Média &quot;&gt;&lt;meta http-equiv=&quot;refresh&quot; content=&quot;0;url=https://evil.example&quot;&gt;&lt;script&gt;x()&lt;/script&gt;]"))
        // Every tag the renderer wrote is one of its own, with only its own attributes.
        let tags = rendered.matches(of: /<[^>]*>/).map { String($0.output) }
        let allowed: Set<String> = [
            "<p>", "</p>", "<ul>", "</ul>", "<li>", "</li>", "<span class=\"cda-bold\">", "</span>", "<span class=\"cda-media\">",
            "<table>", "</table>", "<caption>", "</caption>", "<tbody>", "</tbody>", "<tr>", "</tr>", "<th>", "</th>", "<td>", "</td>",
            "<small class=\"cda-footnote\">", "</small>", "<sub>", "</sub>", "<br>", "</a>",
        ]
        for tag in tags where !allowed.contains(tag) {
            #expect(tag.wholeMatch(of: /<a href="https:\/\/x\.org\/[^"<>]*" rel="noopener noreferrer nofollow" target="_blank">/) != nil,
                    "unexpected tag \(tag)")
        }
    }
}
