import CDA
import Foundation

/// Issue 5: parse + header + sections + narrative HTML (+ entries) over the shared CDA
/// corpus, in MB/s on one core (scripts/bench/run pins the process with taskset). Target:
/// >= 50 MB/s. `scripts/bench/cda_lxml.py` does the same extraction with Python lxml.
enum CDABench {
    static func run(_ options: Options) throws -> Bool {
        let folder = URL(fileURLWithPath: options.corpus)
        let files = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "xml" }.sorted { $0.path < $1.path }
        let documents = try files.map { try Data(contentsOf: $0) }
        guard !documents.isEmpty else { throw BenchError.usage }
        let corpusBytes = documents.reduce(0) { $0 + $1.count }

        // Check once that every document reads, so the figure is for real work.
        var checksum = 0
        for (file, bytes) in zip(files, documents) {
            let report = CDAReader.read(bytes)
            guard let document = report.document, report.ok else {
                print("cda: \(file.lastPathComponent) did not read: \(report.errors)")
                return false
            }
            checksum &+= document.sections.count
        }
        // Warm-up, then passes over the whole corpus for at least `seconds`.
        for bytes in documents { _ = CDAReader.read(bytes) }
        var passes = 0
        var samples: [Double] = []
        let clock = ContinuousClock()
        let started = clock.now
        while clock.now - started < .seconds(options.seconds) {
            let pass = clock.now
            for bytes in documents {
                let report = CDAReader.read(bytes)
                checksum &+= report.document?.sections.reduce(0) { $0 + $1.narrativeHTML.utf8.count } ?? 0
            }
            samples.append(milliseconds(clock.now - pass))
            passes += 1
        }
        let elapsed = milliseconds(clock.now - started) / 1000
        let megabytes = Double(corpusBytes * passes) / 1_000_000
        let rate = megabytes / elapsed
        samples.sort()
        print(String(format: "cda (Swift, libxml2): %d files, %.2f MB, %d passes in %.1f s: %.1f MB/s (median pass %.2f ms) [checksum %d]",
                     documents.count, Double(corpusBytes) / 1_000_000, passes, elapsed, rate, percentile(samples, 0.5), checksum))
        print(String(format: "cda: %.1f MB/s (target >= 50 MB/s)", rate))
        return rate >= 50
    }
}
