import ConcertoCore
import Foundation
import Testing

@testable import Documents

@Suite struct ActivityCSVTests {
    static let cases = [
        PresentedCase(meetingStartsAt: Date(timeIntervalSince1970: 1_785_000_000), meetingTitle: "RCP thoracique; mardi", patientKey: "0a1b2c3d4e5f6071",
                      content: CaseContent(tumourSiteCode: "C34.1", phaseCode: "MED-268"),
                      decision: CaseDecision(proposalTypes: [.surgery, .radiotherapy], proposal: "x", followsGuidelines: true, trialProposed: false,
                                             fileComplete: true, quorumMet: true)),
        PresentedCase(meetingStartsAt: Date(timeIntervalSince1970: 1_785_000_000), meetingTitle: "=HYPERLINK(\"x\")", patientKey: "ffeeddccbbaa9988",
                      content: CaseContent(), decision: CaseDecision(proposalTypes: [], proposal: "y", followsGuidelines: false, trialProposed: true,
                                                                     fileComplete: false, quorumMet: false)),
    ]

    @Test func frenchFlavourHasABOMSemicolonsAndQuotesWhatNeedsIt() throws {
        let data = ActivityCSV.render(Self.cases, flavour: .french)
        #expect(Array(data.prefix(3)) == [0xEF, 0xBB, 0xBF])
        let text = String(decoding: data.dropFirst(3), as: UTF8.self)
        let lines = text.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        #expect(lines.count == 3)
        #expect(lines[0] == ActivityCSV.header.joined(separator: ";"))
        #expect(lines[1] == "2026-07-25;\"RCP thoracique; mardi\";0a1b2c3d4e5f6071;C34.1;Tumeur maligne du lobe supérieur, bronches ou poumon;Phase initiale du cancer;surgery|radiotherapy;oui;non;oui")
        // A formula is neutralised, quotes doubled.
        #expect(lines[2].hasPrefix("2026-07-25;\"'=HYPERLINK(\"\"x\"\")\";ffeeddccbbaa9988"))
        #expect(lines[2].hasSuffix(";;;;;non;oui;non"))
    }

    @Test func plainFlavourIsCommaSeparatedWithoutBOM() {
        let data = ActivityCSV.render(Self.cases, flavour: .plain)
        #expect(data.first == UInt8(ascii: "d"))
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"RCP thoracique; mardi\"") == false)
        #expect(text.contains("RCP thoracique; mardi,0a1b2c3d4e5f6071"))
    }
}
