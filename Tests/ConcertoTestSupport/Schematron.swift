import Foundation

/// The official ANS schematron of the fiche RCP (CANCER-FRCP 2022.01, compiled to XSLT in
/// `../shared/spec/schematron/`), run with Saxon-HE from Debian (`libsaxonhe-java`, which
/// `make test` installs). One Java process checks a whole batch of documents: the JVM's
/// start and the stylesheet's compilation (about 3 s) are paid once.
public enum Schematron {
    public static let shared = Repository.root.deletingLastPathComponent().appendingPathComponent("shared")
    public static let ficheRCP = shared.appendingPathComponent("spec/schematron/CI-SIS_CANCER-FRCP_2022.01.xsl")
    public static let saxon = URL(fileURLWithPath: "/usr/share/java/Saxon-HE.jar")

    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    /// The failed assertions of each document, by name (`location :: text`); a document
    /// with none maps to an empty list.
    public static func failedAssertions(_ documents: [(name: String, data: Data)], schematron: URL = ficheRCP) throws -> [String: [String]] {
        guard FileManager.default.fileExists(atPath: saxon.path) else {
            throw Unavailable(description: "Saxon-HE is missing (apt-get install libsaxonhe-java; make test installs it)")
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("schematron-\(UUID().uuidString)")
        let input = folder.appendingPathComponent("in"), output = folder.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: input, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for document in documents {
            try document.data.write(to: input.appendingPathComponent(document.name + ".xml"))
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/java")
        // One core, the quick compiler and the serial collector: the JVM would otherwise
        // take both cores from the suite's timing-sensitive tests running beside it.
        process.arguments = ["-XX:ActiveProcessorCount=1", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
                             "-cp", saxon.path, "net.sf.saxon.Transform", "-s:\(input.path)", "-xsl:\(schematron.path)", "-o:\(output.path)"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try ProcessLaunch.run(process)
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Unavailable(description: "Saxon failed (\(process.terminationStatus)): " + String(decoding: message.prefix(2000), as: UTF8.self))
        }
        var result: [String: [String]] = [:]
        for document in documents {
            let report = try String(contentsOf: output.appendingPathComponent(document.name + ".xml"), encoding: .utf8)
            result[document.name] = failures(inReport: report)
        }
        return result
    }

    /// `svrl:failed-assert` elements of an SVRL report, as `location :: text`.
    static func failures(inReport report: String) -> [String] {
        var failures: [String] = []
        var rest = report[...]
        while let start = rest.range(of: "<svrl:failed-assert") {
            guard let end = rest.range(of: "</svrl:failed-assert>", range: start.upperBound..<rest.endIndex) else { break }
            let element = rest[start.lowerBound..<end.upperBound]
            let location = element.range(of: #"location="[^"]*""#, options: .regularExpression).map { String(element[$0].dropFirst(10).dropLast()) } ?? "?"
            var text = ""
            if let open = element.range(of: "<svrl:text>"), let close = element.range(of: "</svrl:text>") {
                text = element[open.upperBound..<close.lowerBound].split(whereSeparator: \.isWhitespace).joined(separator: " ")
            }
            failures.append("\(location) :: \(text)")
            rest = rest[end.upperBound...]
        }
        return failures
    }
}
