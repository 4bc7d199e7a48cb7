import ConcertoCore
import ConcertoTestSupport
import Foundation
import Testing

@testable import Documents

/// PDFs checked the way a reader sees them: text extracted by pdftotext, pages by pdfinfo.
@Suite(.enabled(if: TestTools.hasPoppler, "needs poppler-utils (make test installs it)"))
struct PDFRendererTests {
    @Test func frenchTextWrapsTablesBreakAndEveryPageSaysWhichItIs() throws {
        let rows = (1...120).map { ["Patient \($0)", "C34.1", "Proposition n° \($0) : chirurgie puis radiothérapie ; à rediscuter ?"] }
        let spec = PDFDocumentSpec(header: "RCP Nouvelle-Aquitaine Sud — RCP thoracique", kind: "Compte rendu de RCP", documentID: "CR-42",
                                   generatedAt: Date(timeIntervalSince1970: 1_785_000_000), blocks: [
            .title("Réunion du 25/07/2026 : compte rendu"),
            .fields([("Lieu", "Institut Bergonié, salle du conseil"), ("Absent", nil), ("Quorum", "atteint (3 spécialités)")]),
            .heading("Dossiers présentés"),
            .paragraph(String(repeating: "Une très longue synthèse, avec des accents éèàùç et des guillemets « français ». ", count: 30)),
            .table(PDFTable(columns: [("Patient", 0.2), ("CIM-10", 0.15), ("Proposition", 0.65)], rows: rows)),
            .signatures(["Dr Olivier Oncologue, président", "Camille Coordinatrice"]),
        ])
        let pdf = try PDFRenderer.render(spec)
        #expect(pdf.starts(with: Data("%PDF-".utf8)))
        let (text, pages) = try TestTools.pdfText(pdf)
        #expect(pages >= 3)
        #expect(text.contains("Page 1 / \(pages)") && text.contains("Page \(pages) / \(pages)"))
        #expect(text.contains("CR-42") && text.contains("généré le 25/07/2026"))
        #expect(text.contains("Patient 1 ") && text.contains("Patient 120"))
        #expect(text.contains("éèàùç"))
        // The narrow no-break space before ":" ";" "?" and inside « » (pdftotext writes it as a space or U+202F).
        #expect(text.contains("n° 120\u{202F}:") || text.contains("n° 120 :"))
        #expect(!text.contains("Absent"))
        // The table header is repeated on the pages the table continues on.
        let headerCount = text.components(separatedBy: "Proposition").count - 1 - rows.count
        #expect(headerCount >= 2)
        #expect(text.contains("Dr Olivier Oncologue, président"))
    }

    @Test func frenchTypography() {
        #expect(FrenchTypography.apply("Question : oui ; non ! pourquoi ? « cité »") == "Question\u{202F}: oui\u{202F}; non\u{202F}! pourquoi\u{202F}? «\u{202F}cité\u{202F}»")
        #expect(FrenchTypography.apply("14:00 http://x") == "14:00 http://x")
    }
}
