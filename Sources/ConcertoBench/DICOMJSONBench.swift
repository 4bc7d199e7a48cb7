import DICOMweb
import Foundation

/// `concerto-bench dicom-json --file QIDO.json`: decoding a QIDO-RS answer (the DICOM JSON
/// model), per answer, as the Imagerie tab does on every search.
enum DICOMJSONBench {
    static func run(_ options: Options) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: options.file))
        let iterations = max(100, options.iterations / 10)
        var studies = 0
        let clock = ContinuousClock()
        for _ in 0..<200 { studies = try DICOMDataset.decodeList(data).count }
        let elapsed = try clock.measure {
            for _ in 0..<iterations { studies = try DICOMDataset.decodeList(data).compactMap(StudySummary.init).count }
        }
        print(String(format: "dicom-json: %d bytes, %d studies: %.1f µs per answer (%d runs)", data.count, studies,
                     milliseconds(elapsed) * 1000 / Double(iterations), iterations))
    }
}
