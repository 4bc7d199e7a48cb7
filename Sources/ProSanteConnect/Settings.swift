import Foundation

/// How Concerto is registered with Pro Santé Connect (or any provider that behaves like it).
public struct PSCSettings: Sendable, Equatable {
    /// The sandbox (*bac à sable*) and production issuers published by ANS.
    public static let sandboxIssuer = "https://auth.bas.psc.esante.gouv.fr/auth/realms/esante-wallet"
    public static let productionIssuer = "https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet"

    public var issuer: String
    /// PSC publishes its metadata at `wallet-openid-configuration`, not the usual
    /// `openid-configuration`; another provider may give its own address.
    public var discoveryURL: String
    public var clientID: String
    public var clientSecret: String
    /// `<public URL>/login/psc/callback`, as registered with the provider.
    public var redirectURI: String
    /// Where the provider sends the browser back after its own logout.
    public var postLogoutRedirectURI: String
    public var scope = "openid scope_all"
    /// The level of assurance asked for and required in the ID token: `eidas1` is what PSC
    /// gives for a CPS card or the e-CPS app.
    public var requiredACR = "eidas1"
    /// The budget of one call to the provider: a login page never waits longer.
    public var requestTimeout: Duration = .milliseconds(2500)
    /// Tolerated clock difference with the provider when checking `exp` and `iat`.
    public var clockSkew: TimeInterval = 60

    public init(issuer: String, discoveryURL: String? = nil, clientID: String, clientSecret: String,
                redirectURI: String, postLogoutRedirectURI: String) {
        let trimmed = issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer
        self.issuer = trimmed
        self.discoveryURL = discoveryURL ?? trimmed + "/.well-known/wallet-openid-configuration"
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.redirectURI = redirectURI
        self.postLogoutRedirectURI = postLogoutRedirectURI
    }

    /// `scheme://host[:port]` of the issuer: the logout form's redirect goes there, so the
    /// page's `form-action` must allow it.
    public var issuerOrigin: String? {
        guard let url = URL(string: issuer), let scheme = url.scheme, let host = url.host else { return nil }
        return "\(scheme)://\(host)" + (url.port.map { ":\($0)" } ?? "")
    }
}

extension PSCSettings: CustomStringConvertible {
    /// Never prints the client secret.
    public var description: String { "PSCSettings(issuer: \(issuer), clientID: \(clientID))" }
}
