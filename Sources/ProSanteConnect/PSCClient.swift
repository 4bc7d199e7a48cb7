import AsyncHTTPClient
import ConcertoCore
import Foundation
import JWTKit
import Logging
import NIOCore
import NIOHTTP1

/// Why a login through the provider did not go through.
public enum PSCLoginError: Error, Equatable, Sendable {
    /// The provider did not answer in time, or answered with a server error.
    case providerUnavailable
    /// The provider refused the code (used twice, expired, PKCE failed...) or our client.
    case codeRefused(String)
    case discoveryInvalid
    case idToken(TokenProblem)
    case userinfo(UserInfoProblem)

    /// For the audit trail's `reason` (codes, never the provider's free text).
    public var auditReason: String {
        switch self {
        case .providerUnavailable: "psc_unavailable"
        case .codeRefused(let error): "psc_code_refused:\(error.prefix(40))"
        case .discoveryInvalid: "psc_discovery_invalid"
        case .idToken(let problem): "psc_id_token:\(problem.code)"
        case .userinfo(.notAnRPPSIdentity): "psc_userinfo:not_rpps"
        case .userinfo: "psc_userinfo:invalid"
        }
    }
}

/// A completed login: who, at what level, and the ID token kept for the provider's logout.
public struct PSCLogin: Sendable {
    public var professional: PSCProfessional
    public var acr: String
    public var idToken: String
    /// Time spent waiting on the provider during `complete` (token, keys, userinfo).
    public var providerTime: Duration
}

/// The OpenID Connect client of Pro Santé Connect: discovery and keys cached, each call
/// bounded by `settings.requestTimeout`.
public actor PSCClient {
    public nonisolated let settings: PSCSettings
    let logger: Logger
    private var metadata: (value: ProviderMetadata, fetchedAt: ContinuousClock.Instant)?
    private var keys: SigningKeys?
    private var keysFetchedAt: ContinuousClock.Instant?
    /// Key ids looked for in the last fetched set and not found.
    private var missingKeys: Set<String> = []
    /// Discovery is read again after this long; keys when an unknown `kid` appears.
    let metadataLifetime: Duration = .seconds(3600)
    /// A `kid` still unknown after a fetch is not fetched for again before this, so a
    /// token naming a key the provider does not have cannot make us hammer it.
    let keyRefreshInterval: Duration = .seconds(10)
    let maxResponseBytes = 1 << 20

    public init(settings: PSCSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    static let http: HTTPClient = {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(2), read: .seconds(5)),
            connectionPool: .init(idleTimeout: .seconds(60))
        )
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    // MARK: The two halves of a login

    /// The provider's metadata (fetched when missing or old).
    public func providerMetadata() async throws(PSCLoginError) -> ProviderMetadata {
        if let metadata, metadata.fetchedAt.duration(to: .now) < metadataLifetime { return metadata.value }
        let body = try await fetch(settings.discoveryURL)
        guard let value = try? JSONDecoder().decode(ProviderMetadata.self, from: body) else { throw .discoveryInvalid }
        // OpenID Connect Discovery 4.3: the document must name the issuer it was fetched for.
        guard value.issuer == settings.issuer else {
            logger.error("PSC discovery names another issuer", metadata: ["issuer": "\(value.issuer)"])
            throw .discoveryInvalid
        }
        metadata = (value, .now)
        return value
    }

    /// The address to send the browser to, for a pending authorisation made by the caller.
    public func authorizationURL(for pending: PendingAuthorization) async throws(PSCLoginError) -> String {
        pending.authorizationURL(metadata: try await providerMetadata(), settings: settings)
    }

    /// Redeems the code (with the PKCE verifier), verifies the ID token, reads userinfo.
    public func complete(code: String, pending: PendingAuthorization, at now: Date = Date()) async throws(PSCLoginError) -> PSCLogin {
        let clock = ContinuousClock()
        var providerTime = Duration.zero
        var start = clock.now
        let metadata = try await providerMetadata()
        let tokens = try await redeem(code: code, verifier: pending.codeVerifier, metadata: metadata)
        let keys = try await signingKeys(for: tokens.idToken, metadata: metadata)
        providerTime += start.duration(to: clock.now)
        let expectations = IDTokenExpectations(issuer: settings.issuer, clientID: settings.clientID, nonce: pending.nonce,
                                               acceptedACRs: [settings.requiredACR], clockSkew: settings.clockSkew)
        let claims: IDTokenClaims
        do {
            claims = try await IDTokenVerifier.verify(tokens.idToken, keys: keys, expecting: expectations, at: now)
        } catch {
            throw .idToken(error)
        }
        start = clock.now
        let professional = try await userinfo(accessToken: tokens.accessToken, metadata: metadata)
        providerTime += start.duration(to: clock.now)
        // OpenID Connect Core 5.3.2: userinfo must be about the ID token's subject.
        guard professional.subject == claims.sub else { throw .idToken(.subjectMismatch) }
        return PSCLogin(professional: professional, acr: claims.acr ?? "", idToken: tokens.idToken, providerTime: providerTime)
    }

    /// The provider's end-session address for a logout, or nil when it has none.
    public func logoutURL(idToken: String, state: String) async -> String? {
        guard let endpoint = try? await providerMetadata().endSessionEndpoint else { return nil }
        let query = FormEncoding.encode([
            ("id_token_hint", idToken), ("state", state), ("post_logout_redirect_uri", settings.postLogoutRedirectURI),
        ])
        return endpoint + (endpoint.contains("?") ? "&" : "?") + query
    }

    // MARK: Steps

    struct TokenResponse: Decodable {
        var accessToken: String
        var idToken: String
        enum CodingKeys: String, CodingKey {
            case accessToken = "access_token"
            case idToken = "id_token"
        }
    }

    struct OAuthError: Decodable {
        var error: String
    }

    func redeem(code: String, verifier: String, metadata: ProviderMetadata) async throws(PSCLoginError) -> TokenResponse {
        var request = HTTPClientRequest(url: metadata.tokenEndpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        // client_secret_basic (RFC 6749 2.3.1: both parts form-encoded first).
        let credentials = "\(FormEncoding.escape(settings.clientID)):\(FormEncoding.escape(settings.clientSecret))"
        request.headers.add(name: "Authorization", value: "Basic " + Data(credentials.utf8).base64EncodedString())
        request.body = .bytes(ByteBuffer(string: FormEncoding.encode([
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", settings.redirectURI), ("code_verifier", verifier),
        ])))
        let (status, body, _) = try await send(request)
        guard status == .ok else {
            if (400..<500).contains(status.code) {
                let error = (try? JSONDecoder().decode(OAuthError.self, from: body))?.error ?? "http_\(status.code)"
                throw .codeRefused(error.filter { $0.isLetter || $0 == "_" })
            }
            throw .providerUnavailable
        }
        guard let tokens = try? JSONDecoder().decode(TokenResponse.self, from: body) else { throw .codeRefused("unreadable_token_response") }
        return tokens
    }

    /// The keys to check this token with: the cached set, or a fresh one when the token
    /// names a key the cached set lacks (the provider rotated its keys).
    func signingKeys(for token: String, metadata: ProviderMetadata) async throws(PSCLoginError) -> SigningKeys {
        let kid: String?
        do { kid = try JOSEHeader.read(token).kid } catch { throw .idToken(error) }
        if let keys {
            if keys.hasKey(kid: kid) { return keys }
            // A key not seen yet: fetch the set (the provider rotated). One already looked
            // for in vain is not fetched again before `keyRefreshInterval`.
            let recent = keysFetchedAt.map { $0.duration(to: .now) < keyRefreshInterval } ?? false
            if recent, let kid, missingKeys.contains(kid) { return keys }
        }
        let body = try await fetch(metadata.jwksURI)
        guard let fresh = try? await SigningKeys(jwksJSON: body, announcedAlgorithms: metadata.idTokenSigningAlgorithms) else {
            throw .discoveryInvalid
        }
        keys = fresh
        keysFetchedAt = .now
        missingKeys = kid.flatMap { fresh.identifiers.contains($0) ? nil : [$0] } ?? []
        return fresh
    }

    func userinfo(accessToken: String, metadata: ProviderMetadata) async throws(PSCLoginError) -> PSCProfessional {
        var request = HTTPClientRequest(url: metadata.userinfoEndpoint)
        request.headers.add(name: "Authorization", value: "Bearer \(accessToken)")
        request.headers.add(name: "Accept", value: "application/json, application/jwt")
        let (status, body, contentType) = try await send(request)
        guard status == .ok else {
            if (400..<500).contains(status.code) { throw .userinfo(.unreadable) }
            throw .providerUnavailable
        }
        if contentType.lowercased().hasPrefix("application/jwt") {
            // A signed userinfo: same keys and issuer as the ID token, addressed to us.
            let token = String(decoding: body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            let claims: UserInfoEnvelope
            do {
                let current = try await signingKeys(for: token, metadata: metadata)
                claims = try await current.verifiedPayload(token, as: UserInfoEnvelope.self)
            } catch let error as PSCLoginError {
                throw error
            } catch let problem as TokenProblem {
                throw .idToken(problem)
            } catch {
                throw .userinfo(.unreadable)
            }
            guard claims.iss == settings.issuer else { throw .idToken(.wrongIssuer) }
            guard claims.aud?.value.contains(settings.clientID) ?? true else { throw .idToken(.wrongAudience) }
            guard let payload = Self.payloadJSON(of: token) else { throw .userinfo(.unreadable) }
            do { return try PSCProfessional(userinfo: payload) } catch { throw .userinfo(error) }
        }
        do { return try PSCProfessional(userinfo: body) } catch { throw .userinfo(error) }
    }

    /// The fields of a signed userinfo checked before reading it.
    struct UserInfoEnvelope: JWTPayload {
        var iss: String
        var aud: AudienceClaim?
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    static func payloadJSON(of token: String) -> Data? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 3 ? Base64URL.decode(parts[1]) : nil
    }

    // MARK: HTTP

    func fetch(_ url: String) async throws(PSCLoginError) -> Data {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "application/json")
        let (status, body, _) = try await send(request)
        guard status == .ok else { throw .providerUnavailable }
        return body
    }

    func send(_ request: HTTPClientRequest) async throws(PSCLoginError) -> (HTTPResponseStatus, Data, String) {
        let deadline = NIODeadline.now() + .nanoseconds(Int64(settings.requestTimeout.components.seconds) * 1_000_000_000
            + settings.requestTimeout.components.attoseconds / 1_000_000_000)
        do {
            let response = try await Self.http.execute(request, deadline: deadline, logger: nil)
            let body = try await response.body.collect(upTo: maxResponseBytes)
            return (response.status, Data(body.readableBytesView), response.headers.first(name: "Content-Type") ?? "")
        } catch {
            logger.warning("PSC provider call failed", metadata: ["url": "\(request.url.split(separator: "?").first ?? "")", "error": "\(error)"])
            throw .providerUnavailable
        }
    }
}
