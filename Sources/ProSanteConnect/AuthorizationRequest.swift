import Crypto
import Foundation

/// One login attempt's secrets, kept in the browser's pre-login session until the provider
/// sends the browser back: `state` ties the answer to this browser, `nonce` ties the ID
/// token to this attempt, and the PKCE verifier proves the code is redeemed by whoever asked.
public struct PendingAuthorization: Codable, Sendable, Equatable {
    public var state: String
    public var nonce: String
    public var codeVerifier: String
    /// Where to go after login (already checked to be a local path).
    public var next: String
    public var startedAt: Date

    public init(state: String, nonce: String, codeVerifier: String, next: String, startedAt: Date) {
        self.state = state
        self.nonce = nonce
        self.codeVerifier = codeVerifier
        self.next = next
        self.startedAt = startedAt
    }

    /// Fresh random values (256 bits each, base64url).
    public static func make(next: String, at now: Date = Date()) -> PendingAuthorization {
        PendingAuthorization(state: RandomToken.make(), nonce: RandomToken.make(), codeVerifier: RandomToken.make(), next: next, startedAt: now)
    }

    /// How long the user may spend at the provider.
    public static let lifetime: TimeInterval = 600

    public func isExpired(at now: Date) -> Bool { now.timeIntervalSince(startedAt) > Self.lifetime || now < startedAt.addingTimeInterval(-60) }

    /// The S256 code challenge (RFC 7636): base64url(SHA-256(verifier)).
    public var codeChallenge: String { PKCE.challenge(for: codeVerifier) }

    /// The authorisation endpoint's address for this attempt.
    public func authorizationURL(metadata: ProviderMetadata, settings: PSCSettings) -> String {
        let parameters: [(String, String)] = [
            ("response_type", "code"),
            ("client_id", settings.clientID),
            ("redirect_uri", settings.redirectURI),
            ("scope", settings.scope),
            ("state", state),
            ("nonce", nonce),
            ("code_challenge", codeChallenge),
            ("code_challenge_method", "S256"),
            ("acr_values", settings.requiredACR),
        ]
        let separator = metadata.authorizationEndpoint.contains("?") ? "&" : "?"
        return metadata.authorizationEndpoint + separator + FormEncoding.encode(parameters)
    }
}

public enum PKCE {
    public static func challenge(for verifier: String) -> String {
        Base64URL.encode(Data(SHA256.hash(data: Data(verifier.utf8))))
    }
}

enum RandomToken {
    static func make(bytes: Int = 32) -> String {
        var generator = SystemRandomNumberGenerator()
        return Base64URL.encode(Data((0..<bytes).map { _ in UInt8.random(in: 0...255, using: &generator) }))
    }
}

public enum Base64URL {
    public static func encode(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    public static func decode(_ text: some StringProtocol) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}

/// `application/x-www-form-urlencoded`, as OAuth's token endpoint and query strings want it.
public enum FormEncoding {
    static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    public static func encode(_ pairs: [(String, String)]) -> String {
        pairs.map { "\(escape($0.0))=\(escape($0.1))" }.joined(separator: "&")
    }

    public static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }
}
