import ConcertoCore
import Foundation

/// The activity export coordination centres open in a spreadsheet: one row per presented
/// case. French flavour: `;`-separated, UTF-8 with a byte-order mark (so Excel reads the
/// accents), decimal-free; plain flavour: `,`-separated, no BOM. Fields are quoted per
/// RFC 4180 when they need it; line ends are CRLF.
public enum ActivityCSV {
    public enum Flavour: String, Sendable {
        case french, plain

        var separator: String { self == .french ? ";" : "," }
    }

    public static let header = [
        "date_rcp", "rcp", "cle_patient", "cim10", "localisation", "phase", "types_proposition", "conforme_referentiel", "essai_propose", "quorum_atteint",
    ]

    public static func render(_ cases: [PresentedCase], flavour: Flavour) -> Data {
        var text = flavour == .french ? "\u{FEFF}" : ""
        let separator = flavour.separator
        func line(_ fields: [String]) {
            text += fields.map { quoted($0, separator: separator) }.joined(separator: separator) + "\r\n"
        }
        line(header)
        for presented in cases {
            let content = presented.content
            let decision = presented.decision
            line([
                ParisCalendar.date(of: presented.meetingStartsAt).iso,
                presented.meetingTitle,
                presented.patientKey,
                content.tumourSiteCode ?? "",
                content.tumourSiteCode.flatMap { Terminology.tumourSites.concept($0)?.label } ?? "",
                content.phaseCode.flatMap { Terminology.cancerPhases.concept($0)?.label } ?? "",
                decision.proposalTypes.map(\.rawValue).joined(separator: "|"),
                decision.followsGuidelines ? "oui" : "non",
                decision.trialProposed ? "oui" : "non",
                decision.quorumMet ? "oui" : "non",
            ])
        }
        return Data(text.utf8)
    }

    /// Quoted when it holds the separator, a quote or a line break; quotes doubled. A
    /// leading = + - @, TAB or CR is prefixed with an apostrophe: spreadsheets would run
    /// it as a formula (OWASP's CSV injection list).
    public static func quoted(_ field: String, separator: String) -> String {
        var value = field
        if let first = value.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) { value = "'" + value }
        guard value.contains(separator) || value.contains("\"") || value.contains("\n") || value.contains("\r") else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
