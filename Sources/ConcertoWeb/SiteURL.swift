import Foundation

/// Every path of the site, produced in one place for the router and the view models.
public enum SiteURL: Sendable, Equatable {
    case home
    case login
    case loginTOTP
    case logout
    case account
    case accountTOTP
    case accountTOTPDisable
    case language
    case healthz
    case metrics
    case ping
    case stylesheet

    public var path: String {
        switch self {
        case .home: "/"
        case .login: "/login"
        case .loginTOTP: "/login/totp"
        case .logout: "/logout"
        case .account: "/account"
        case .accountTOTP: "/account/totp"
        case .accountTOTPDisable: "/account/totp/disable"
        case .language: "/language"
        case .healthz: "/healthz"
        case .metrics: "/metrics"
        case .ping: "/ping"
        case .stylesheet: "/css/concerto.css"
        }
    }

    /// Router pattern for the route (identical to `path` until routes take parameters).
    public var pattern: String { path }

    /// This page with a `next` path to return to afterwards (login and its second step).
    public func withNext(_ next: String) -> String {
        guard SafeRedirect.isLocal(next), next != SiteURL.home.path else { return path }
        var components = URLComponents()
        components.path = path
        components.queryItems = [URLQueryItem(name: "next", value: next)]
        return components.string ?? path
    }
}

/// Only same-site paths are followed after login, never another host.
enum SafeRedirect {
    static func isLocal(_ target: String) -> Bool {
        target.hasPrefix("/") && !target.hasPrefix("//") && !target.hasPrefix("/\\")
            && !target.contains(where: { $0.isNewline || $0 == "\\" })
    }

    static func target(_ candidate: String?) -> String {
        guard let candidate, isLocal(candidate) else { return SiteURL.home.path }
        return candidate
    }
}
