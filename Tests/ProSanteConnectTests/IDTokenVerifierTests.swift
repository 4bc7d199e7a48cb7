import ConcertoCore
import Foundation
import JWTKit
import ProSanteConnect
import Testing

/// The ID token checks, each attack with a token made here (the happy path's tokens come
/// from the real provider: see ConcertoWebTests' PSCLoginTests).
@Suite struct IDTokenVerifierTests {
    let issuer = "https://auth.bas.psc.esante.gouv.fr/auth/realms/esante-wallet"
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// A provider key, its JWKS as published, and a signer.
    struct ProviderKey {
        let kid: String
        let signer: JWTKeyCollection
        let jwks: Data

        static func make(kid: String = UUID().uuidString) async throws -> ProviderKey {
            let key = ES256PrivateKey()
            let signer = await JWTKeyCollection().add(ecdsa: key, kid: JWKIdentifier(string: kid))
            let parameters = try #require(key.publicKey.parameters)
            let jwks = try JSONSerialization.data(withJSONObject: ["keys": [
                ["kty": "EC", "crv": "P-256", "x": parameters.x, "y": parameters.y, "kid": kid, "alg": "ES256", "use": "sig"],
                // An encryption key in the same set must not stop the signing key from being read.
                ["kty": "oct", "k": "c2VjcmV0", "kid": "enc-1", "use": "enc"],
            ]])
            return ProviderKey(kid: kid, signer: signer, jwks: jwks)
        }

        func sign(_ claims: IDTokenClaims, kid: String? = nil) async throws -> String {
            try await signer.sign(claims, kid: JWKIdentifier(string: kid ?? self.kid))
        }
    }

    func claims(aud: [String] = ["concerto"], nonce: String? = "n-123", acr: String? = "eidas1",
                exp: TimeInterval = 300, iat: TimeInterval = 0, iss: String? = nil) -> IDTokenClaims {
        IDTokenClaims(iss: iss ?? issuer, sub: "sub-1", aud: aud, azp: "concerto", exp: now.addingTimeInterval(exp),
                      iat: now.addingTimeInterval(iat), nonce: nonce, acr: acr)
    }

    var expectations: IDTokenExpectations {
        IDTokenExpectations(issuer: issuer, clientID: "concerto", nonce: "n-123", acceptedACRs: ["eidas1"])
    }

    func verify(_ token: String, keys: SigningKeys) async -> Result<IDTokenClaims, TokenProblem> {
        do {
            return .success(try await IDTokenVerifier.verify(token, keys: keys, expecting: expectations, at: now))
        } catch {
            return .failure(error)
        }
    }

    func problem(_ token: String, keys: SigningKeys) async -> TokenProblem? {
        if case .failure(let problem) = await verify(token, keys: keys) { return problem }
        return nil
    }

    @Test func aWellFormedTokenIsAccepted() async throws {
        let key = try await ProviderKey.make()
        let keys = try await SigningKeys(jwksJSON: key.jwks, announcedAlgorithms: ["ES256"])
        let result = await verify(try await key.sign(claims()), keys: keys)
        #expect((try? result.get())?.sub == "sub-1")
    }

    @Test func algNoneIsRefused() async throws {
        let key = try await ProviderKey.make()
        let keys = try await SigningKeys(jwksJSON: key.jwks, announcedAlgorithms: nil)
        let header = Base64URL.encode(Data(#"{"alg":"none","typ":"JWT","kid":"\#(key.kid)"}"#.utf8))
        let payload = Base64URL.encode(try JSONEncoder().encode(claims()))
        #expect(await problem("\(header).\(payload).", keys: keys) == .algorithmNotAllowed("none"))
    }

    @Test func hmacSignedWithThePublicKeyIsRefused() async throws {
        // The classic confusion: HS256 "signed" with the provider's public key material.
        let key = try await ProviderKey.make()
        let keys = try await SigningKeys(jwksJSON: key.jwks, announcedAlgorithms: nil)
        let forger = await JWTKeyCollection().add(hmac: HMACKey(from: key.jwks), digestAlgorithm: .sha256, kid: JWKIdentifier(string: key.kid))
        let token = try await forger.sign(claims(), kid: JWKIdentifier(string: key.kid))
        #expect(await problem(token, keys: keys) == .algorithmNotAllowed("HS256"))
    }

    @Test func aTokenSignedByAnotherKeyIsRefused() async throws {
        let provider = try await ProviderKey.make(kid: "provider")
        let attacker = try await ProviderKey.make(kid: "provider")  // same kid, other key
        let keys = try await SigningKeys(jwksJSON: provider.jwks, announcedAlgorithms: ["ES256"])
        #expect(await problem(try await attacker.sign(claims()), keys: keys) == .badSignature)
        let unknown = try await ProviderKey.make(kid: "elsewhere")
        #expect(await problem(try await unknown.sign(claims()), keys: keys) == .unknownKey)
        #expect(try keys.hasKey(for: try await unknown.sign(claims())) == false)
    }

    @Test func expiredOrFutureTokensAreRefused() async throws {
        let key = try await ProviderKey.make()
        let keys = try await SigningKeys(jwksJSON: key.jwks, announcedAlgorithms: nil)
        #expect(await problem(try await key.sign(claims(exp: -120, iat: -400)), keys: keys) == .expired)
        #expect(await problem(try await key.sign(claims(exp: 3600, iat: 300)), keys: keys) == .issuedInTheFuture)
        // Issued long ago but with a far expiry: a token kept for replay.
        #expect(await problem(try await key.sign(claims(exp: 86_400, iat: -7200)), keys: keys) == .expired)
        // Within the tolerated skew: accepted.
        #expect(await problem(try await key.sign(claims(exp: -30, iat: -200)), keys: keys) == nil)
    }

    @Test func audienceIssuerNonceAndAssuranceAreChecked() async throws {
        let key = try await ProviderKey.make()
        let keys = try await SigningKeys(jwksJSON: key.jwks, announcedAlgorithms: nil)
        #expect(await problem(try await key.sign(claims(aud: ["another-client"])), keys: keys) == .wrongAudience)
        #expect(await problem(try await key.sign(claims(iss: "https://evil.example/realm")), keys: keys) == .wrongIssuer)
        #expect(await problem(try await key.sign(claims(nonce: "n-999")), keys: keys) == .nonceMismatch)
        #expect(await problem(try await key.sign(claims(nonce: nil)), keys: keys) == .nonceMismatch)
        #expect(await problem(try await key.sign(claims(acr: nil)), keys: keys) == .insufficientAssurance(nil))
        #expect(await problem(try await key.sign(claims(acr: "eidas0")), keys: keys) == .insufficientAssurance("eidas0"))
    }

    @Test func aMalformedTokenIsRefused() async throws {
        let key = try await ProviderKey.make()
        let keys = try await SigningKeys(jwksJSON: key.jwks, announcedAlgorithms: nil)
        #expect(await problem("not-a-token", keys: keys) == .malformed)
        #expect(await problem("a.b.c", keys: keys) == .malformed)
    }
}

@Suite struct PSCProfessionalTests {
    func userinfo(_ nationalID: String, sites: [[String: String]] = [["numeroFinessSite": "330000662", "raisonSocialeSite": "INSTITUT BERGONIE"]]) -> Data {
        try! JSONSerialization.data(withJSONObject: [
            "sub": "s-1", "SubjectNameID": nationalID, "given_name": "Olivier", "family_name": "Oncologue",
            "SubjectRefPro": ["exercices": [["codeProfession": "10", "codeSavoirFaire": "SM36", "codeCiviliteDExercice": "DR",
                                             "activities": sites]]],
        ])
    }

    @Test func readsRPPSNamesSpecialtyAndSites() throws {
        let professional = try PSCProfessional(userinfo: userinfo("810101010105"))
        #expect(professional.rpps.digits == "10101010105")
        #expect(professional.displayName == "Dr Olivier Oncologue")
        #expect(professional.specialtyCode == "G15_10/SM36")
        #expect(professional.sites == [.init(finess: "330000662", name: "INSTITUT BERGONIE")])
    }

    @Test func refusesIdentitiesThatAreNotRPPS() {
        // ADELI-based national ids start with 0; a Luhn-invalid RPPS is refused too.
        #expect(throws: UserInfoProblem.notAnRPPSIdentity) { try PSCProfessional(userinfo: userinfo("010101010105")) }
        #expect(throws: UserInfoProblem.notAnRPPSIdentity) { try PSCProfessional(userinfo: userinfo("810101010106")) }
        #expect(throws: UserInfoProblem.unreadable) { try PSCProfessional(userinfo: Data("[1]".utf8)) }
    }

    @Test func pkceChallengeIsRFC7636() {
        // RFC 7636, appendix B.
        #expect(PKCE.challenge(for: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    }
}
