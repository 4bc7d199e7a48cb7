import Foundation

/// An `application/x-www-form-urlencoded` body. Duplicate names keep the first value.
public struct FormData: Sendable, Equatable {
    public private(set) var fields: [String: String] = [:]

    public enum ParseError: Error { case malformed }

    public init(fields: [String: String]) {
        self.fields = fields
    }

    public init(urlEncoded body: String) throws {
        for pair in body.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = Self.decode(parts[0]) else { throw ParseError.malformed }
            let value = parts.count > 1 ? Self.decode(parts[1]) : ""
            guard let value else { throw ParseError.malformed }
            if fields[name] == nil { fields[name] = value }
        }
    }

    private static func decode(_ component: Substring) -> String? {
        component.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    public subscript(_ name: String) -> String? { fields[name] }

    /// The value with surrounding whitespace removed; nil when absent or blank.
    public func trimmed(_ name: String) -> String? {
        guard let value = fields[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else { return nil }
        return value
    }
}
