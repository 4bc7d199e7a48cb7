import Foundation

/// Interface languages: French first, English available.
public enum AppLanguage: String, Codable, Sendable, CaseIterable {
    case fr
    case en

    public static let `default`: AppLanguage = .fr

    /// Picks the language for a request: an explicit preference (user setting or
    /// session choice) wins, then the browser's `Accept-Language`, then French.
    public static func negotiate(preference: AppLanguage?, acceptLanguage: String?) -> AppLanguage {
        if let preference { return preference }
        guard let acceptLanguage else { return .default }
        return fromAcceptLanguage(acceptLanguage) ?? .default
    }

    /// RFC 9110 §12.5.4: comma-separated ranges with optional q weights; highest q wins,
    /// ties keep header order; q=0 means "not acceptable".
    static func fromAcceptLanguage(_ header: String) -> AppLanguage? {
        var best: (language: AppLanguage, q: Double)?
        for item in header.split(separator: ",") {
            let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let range = parts.first?.lowercased(), !range.isEmpty else { continue }
            var q = 1.0
            for parameter in parts.dropFirst() where parameter.lowercased().hasPrefix("q=") {
                q = Double(parameter.dropFirst(2)) ?? 0
            }
            guard q > 0 else { continue }
            let primary = range.split(separator: "-").first.map(String.init) ?? range
            guard let language = AppLanguage(rawValue: primary) else { continue }
            if best == nil || q > best!.q { best = (language, q) }
        }
        return best?.language
    }
}

