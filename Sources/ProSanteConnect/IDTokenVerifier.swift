import ConcertoCore
import Foundation
import JWTKit

/// Why an ID token (or a signed userinfo) was refused. Each is a distinct attack or fault,
/// recorded as such in the audit trail (`reason`).
public enum TokenProblem: Error, Equatable, Sendable {
    case malformed
    /// `none`, an HMAC algorithm (which would let the client secret forge tokens), or one the provider does not announce.
    case algorithmNotAllowed(String)
    /// No key of the provider's JWKS has this `kid`, even after fetching the set again.
    case unknownKey
    case badSignature
    case wrongIssuer
    case wrongAudience
    case expired
    case issuedInTheFuture
    case nonceMismatch
    /// `acr` missing (nil) or below the required level.
    case insufficientAssurance(String?)
    /// The userinfo's `sub` is not the ID token's.
    case subjectMismatch

    public var code: String {
        switch self {
        case .malformed: "malformed"
        case .algorithmNotAllowed: "alg"
        case .unknownKey: "unknown_kid"
        case .badSignature: "signature"
        case .wrongIssuer: "iss"
        case .wrongAudience: "aud"
        case .expired: "exp"
        case .issuedInTheFuture: "iat"
        case .nonceMismatch: "nonce"
        case .insufficientAssurance: "acr"
        case .subjectMismatch: "sub"
        }
    }
}

/// The claims of an ID token Concerto reads. Checked by `IDTokenVerifier`, not by JWTKit's
/// `verify(using:)`, so that each refusal says which claim was wrong.
public struct IDTokenClaims: JWTPayload, Equatable {
    public var iss: String
    public var sub: String
    public var aud: AudienceClaim
    public var azp: String?
    public var exp: Double
    public var iat: Double
    public var nonce: String?
    public var acr: String?

    public func verify(using algorithm: some JWTAlgorithm) async throws {}

    public init(iss: String, sub: String, aud: [String], azp: String? = nil, exp: Date, iat: Date, nonce: String?, acr: String?) {
        self.iss = iss
        self.sub = sub
        self.aud = AudienceClaim(value: aud)
        self.azp = azp
        self.exp = exp.timeIntervalSince1970
        self.iat = iat.timeIntervalSince1970
        self.nonce = nonce
        self.acr = acr
    }
}

/// The header fields that choose the key: read before any key is used.
struct JOSEHeader: Decodable {
    var alg: String?
    var kid: String?

    static func read(_ token: String) throws(TokenProblem) -> JOSEHeader {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let data = Base64URL.decode(parts[0]),
              let header = try? JSONDecoder().decode(JOSEHeader.self, from: data) else { throw .malformed }
        return header
    }
}

/// The provider's signing keys (its JWKS) and the checks of what it signed.
public struct SigningKeys: Sendable {
    let collection: JWTKeyCollection
    public let identifiers: Set<String>
    /// Algorithms accepted: asymmetric only, and only those the provider announces.
    public let algorithms: Set<String>

    public static let asymmetricAlgorithms: Set<String> = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]

    /// Keys from a JWKS document; keys that are not for signature or lack a `kid` are skipped.
    public init(jwksJSON: Data, announcedAlgorithms: [String]?) async throws {
        // Read key by key: a set may also hold encryption or symmetric keys JWTKit cannot
        // decode, and they must not make the signing keys unreadable.
        guard let document = try JSONSerialization.jsonObject(with: jwksJSON) as? [String: Any],
              let entries = document["keys"] as? [[String: Any]] else { throw TokenProblem.malformed }
        let collection = JWTKeyCollection()
        var identifiers = Set<String>()
        for entry in entries {
            guard let kid = entry["kid"] as? String, ["RSA", "EC"].contains(entry["kty"] as? String ?? ""),
                  (entry["use"] as? String ?? "sig") == "sig",
                  let key = try? JSONDecoder().decode(JWK.self, from: JSONSerialization.data(withJSONObject: entry))
            else { continue }
            try await collection.add(jwk: key)
            identifiers.insert(kid)
        }
        self.collection = collection
        self.identifiers = identifiers
        self.algorithms = announcedAlgorithms.map { Self.asymmetricAlgorithms.intersection($0) } ?? Self.asymmetricAlgorithms
    }

    /// Whether this set has the token's key (else the caller fetches the set again once).
    public func hasKey(for token: String) throws(TokenProblem) -> Bool {
        hasKey(kid: try JOSEHeader.read(token).kid)
    }

    /// Whether this set has the key a header names (without a `kid`: only a set of one).
    func hasKey(kid: String?) -> Bool {
        kid.map(identifiers.contains) ?? (identifiers.count == 1)
    }

    /// Checks the header and the signature; returns the payload, not yet checked.
    func verifiedPayload<Payload: JWTPayload>(_ token: String, as type: Payload.Type) async throws(TokenProblem) -> Payload {
        let header = try JOSEHeader.read(token)
        guard let alg = header.alg, algorithms.contains(alg) else { throw .algorithmNotAllowed(header.alg ?? "") }
        if let kid = header.kid {
            guard identifiers.contains(kid) else { throw .unknownKey }
        } else if identifiers.count != 1 {
            // Without a kid JWTKit would pick its default key; only unambiguous with one key.
            throw .unknownKey
        }
        do {
            return try await collection.verify(token, as: Payload.self)
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw .badSignature
        } catch let error as JWTError where error.errorType == .malformedToken {
            throw .malformed
        } catch {
            throw .badSignature
        }
    }
}

/// What an ID token must say for Concerto to accept it (OpenID Connect Core 3.1.3.7).
public struct IDTokenExpectations: Sendable {
    public var issuer: String
    public var clientID: String
    public var nonce: String
    public var acceptedACRs: Set<String>
    public var clockSkew: TimeInterval
    /// An ID token older than this is refused even if not expired.
    public var maximumAge: TimeInterval = 600

    public init(issuer: String, clientID: String, nonce: String, acceptedACRs: Set<String>, clockSkew: TimeInterval = 60) {
        self.issuer = issuer
        self.clientID = clientID
        self.nonce = nonce
        self.acceptedACRs = acceptedACRs
        self.clockSkew = clockSkew
    }
}

public enum IDTokenVerifier {
    public static func verify(_ token: String, keys: SigningKeys, expecting expected: IDTokenExpectations, at now: Date = Date()) async throws(TokenProblem) -> IDTokenClaims {
        let claims = try await keys.verifiedPayload(token, as: IDTokenClaims.self)
        try check(claims, expecting: expected, at: now)
        return claims
    }

    public static func check(_ claims: IDTokenClaims, expecting expected: IDTokenExpectations, at now: Date) throws(TokenProblem) {
        let seconds = now.timeIntervalSince1970
        guard claims.iss == expected.issuer else { throw .wrongIssuer }
        guard claims.aud.value.contains(expected.clientID) else { throw .wrongAudience }
        if claims.aud.value.count > 1, claims.azp != expected.clientID { throw .wrongAudience }
        guard claims.exp + expected.clockSkew > seconds else { throw .expired }
        guard claims.iat - expected.clockSkew <= seconds else { throw .issuedInTheFuture }
        guard seconds - claims.iat <= expected.maximumAge + expected.clockSkew else { throw .expired }
        guard let nonce = claims.nonce, ConstantTime.equals(nonce, expected.nonce) else { throw .nonceMismatch }
        guard let acr = claims.acr, expected.acceptedACRs.contains(acr) else { throw .insufficientAssurance(claims.acr) }
    }

}
