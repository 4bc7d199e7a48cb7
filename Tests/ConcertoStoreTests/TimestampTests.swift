import ConcertoStore
import Foundation
import Testing

@Suite struct TimestampTests {
    /// The hand parser reads what `Timestamp.iso8601` writes exactly as Foundation does,
    /// and leaves every other form to Foundation.
    @Test func storedTimestampsReadBackAsFoundationReadsThem() throws {
        var generator = SystemRandomNumberGenerator()
        let samples = (0..<2_000).map { _ in Date(timeIntervalSince1970: TimeInterval(Int64.random(in: -3_786_825_600...7_258_118_400, using: &generator))) }
        let edges = ["1900-02-28T23:59:59Z", "2000-02-29T00:00:00Z", "2024-02-29T12:00:00Z", "1970-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "2199-12-31T23:59:59Z"]
        for text in samples.map(Timestamp.iso8601) + edges {
            let expected = try Date(text, strategy: .iso8601)
            #expect(Timestamp.date(iso8601: text) == expected, "\(text)")
        }
        for text in ["2023-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-12-03T24:00:00Z", "2026-12-03 04:30:00Z", "garbage", "2026-12-03T04:30:00+01:00"] {
            #expect(Timestamp.date(iso8601: text) == (try? Date(text, strategy: .iso8601)), "\(text)")
        }
        #expect(Timestamp.date(iso8601: "2026-12-03T04:30:00+01:00") == Timestamp.date(iso8601: "2026-12-03T03:30:00Z"))
        // The hand parser alone leaves the other forms to its caller.
        #expect(Timestamp.date(storedForm: "2026-12-03T03:30:00Z") == (try Date("2026-12-03T03:30:00Z", strategy: .iso8601)))
        for text in ["2026-12-03T04:30:00+01:00", "2026-12-03T04:30:00.123Z", "2023-02-29T00:00:00Z"] {
            #expect(Timestamp.date(storedForm: text) == nil, "\(text)")
        }
    }
}
