import Foundation

extension Date {
    /// Milliseconds since 1970: séance events (stored, sent, the page's clock) and audit
    /// checkpoint file names.
    public var epochMilliseconds: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }

    public init(epochMilliseconds: Int64) {
        self.init(timeIntervalSince1970: Double(epochMilliseconds) / 1000)
    }
}
