import Foundation

/// One imaging exchange (a regional PACS-sharing platform) Concerto queries by DICOMweb.
public struct ExchangeConfiguration: Sendable, Equatable, Codable {
    public var id: String
    public var name: String
    /// The DICOMweb root, e.g. `http://127.0.0.1:8042/dicom-web`.
    public var baseURL: String
    public var auth: ExchangeAuth
    /// The whole budget of one call, connection and retry included.
    public var requestTimeoutSeconds: Double
    /// Viewer link, `{study}` and `{base}` replaced: e.g. OHIF `{base}/viewer?StudyInstanceUIDs={study}`.
    public var viewerURLTemplate: String?
    /// How long the breaker stays open after repeated failures before one trial call.
    public var breakerOpenSeconds: Double
    public var breakerFailureThreshold: Int

    public init(
        id: String, name: String, baseURL: String, auth: ExchangeAuth = .none, requestTimeoutSeconds: Double = 2.5, viewerURLTemplate: String? = nil, breakerOpenSeconds: Double = 15, breakerFailureThreshold: Int = 3
    ) {
        self.id = id
        self.name = name
        self.baseURL = baseURL
        self.auth = auth
        self.requestTimeoutSeconds = requestTimeoutSeconds
        self.viewerURLTemplate = viewerURLTemplate
        self.breakerOpenSeconds = breakerOpenSeconds
        self.breakerFailureThreshold = breakerFailureThreshold
    }

    enum CodingKeys: String, CodingKey {
        case id, name, baseURL, auth, requestTimeoutSeconds, viewerURLTemplate, breakerOpenSeconds, breakerFailureThreshold
    }

    /// Reads a config-file entry; only id and baseURL are required.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = ExchangeConfiguration(id: "", name: "", baseURL: "")
        id = try container.decode(String.self, forKey: .id)
        name = try container.decodeIfPresent(String.self, forKey: .name) ?? id
        baseURL = try container.decode(String.self, forKey: .baseURL)
        auth = try container.decodeIfPresent(ExchangeAuth.self, forKey: .auth) ?? .none
        requestTimeoutSeconds = try container.decodeIfPresent(Double.self, forKey: .requestTimeoutSeconds) ?? defaults.requestTimeoutSeconds
        viewerURLTemplate = try container.decodeIfPresent(String.self, forKey: .viewerURLTemplate)
        breakerOpenSeconds = try container.decodeIfPresent(Double.self, forKey: .breakerOpenSeconds) ?? defaults.breakerOpenSeconds
        breakerFailureThreshold = try container.decodeIfPresent(Int.self, forKey: .breakerFailureThreshold) ?? defaults.breakerFailureThreshold
    }

    /// Problems that make the entry unusable, in French for the start-up error.
    public var problems: [String] {
        var problems: [String] = []
        if id.isEmpty || !id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) {
            problems.append("identifiant « \(id) » invalide (lettres, chiffres, - et _)")
        }
        if let url = URL(string: baseURL), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), url.host != nil {
            if url.query != nil { problems.append("l'URL de base ne doit pas porter de paramètres") }
        } else {
            problems.append("URL de base « \(baseURL) » invalide (http:// ou https://)")
        }
        if !(0.1...120).contains(requestTimeoutSeconds) {
            problems.append("délais hors bornes")
        }
        if breakerFailureThreshold < 1 || breakerOpenSeconds < 0 { problems.append("disjoncteur mal réglé") }
        return problems
    }

    /// The viewer link for a study, or nil without a template.
    public func viewerURL(study: String) -> String? {
        guard let template = viewerURLTemplate, DICOMUIDSyntax.isValid(study) else { return nil }
        let base = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        return template.replacingOccurrences(of: "{base}", with: base).replacingOccurrences(of: "{study}", with: study)
    }
}

public enum ExchangeAuth: Sendable, Equatable, Codable {
    case none
    case basic(user: String, password: String)
    case bearer(token: String)

    enum CodingKeys: String, CodingKey { case type, user, password, token }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        switch try container.decode(String.self, forKey: .type) {
        case "none": self = .none
        case "basic": self = .basic(user: try container.decode(String.self, forKey: .user), password: try container.decode(String.self, forKey: .password))
        case "bearer": self = .bearer(token: try container.decode(String.self, forKey: .token))
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .type, in: container, debugDescription: "unknown auth type \(other) (none, basic, bearer)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .none: try container.encode("none", forKey: .type)
        case .basic(let user, _): try container.encode("basic", forKey: .type); try container.encode(user, forKey: .user)
        case .bearer: try container.encode("bearer", forKey: .type)
        }
    }

    /// The Authorization header value.
    public var headerValue: String? {
        switch self {
        case .none: nil
        case .basic(let user, let password): "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
        case .bearer(let token): "Bearer \(token)"
        }
    }
}

/// The exchanges this server knows: the default one from `CONCERTO_DICOMWEB_URL` and any
/// more from a JSON file `{"exchanges": [{"id": …, "baseURL": …, "auth": {"type": "basic", …}}]}`.
public struct ExchangeDirectory: Sendable {
    public let exchanges: [ExchangeConfiguration]

    public init(exchanges: [ExchangeConfiguration]) throws {
        var seen = Set<String>()
        for exchange in exchanges {
            let problems = exchange.problems
            if !problems.isEmpty { throw ExchangeConfigurationError.invalid(exchange.id, problems) }
            if !seen.insert(exchange.id).inserted { throw ExchangeConfigurationError.invalid(exchange.id, ["identifiant en double"]) }
        }
        self.exchanges = exchanges
    }

    public static let defaultID = "default"

    /// From the default URL (may be nil) and an optional configuration file.
    public static func load(defaultURL: String?, viewerURLTemplate: String? = nil, configFile: String?) throws -> ExchangeDirectory {
        var exchanges: [ExchangeConfiguration] = []
        if let defaultURL, !defaultURL.isEmpty {
            exchanges.append(ExchangeConfiguration(id: defaultID, name: "Échange régional d'imagerie", baseURL: defaultURL, viewerURLTemplate: viewerURLTemplate))
        }
        if let configFile {
            struct File: Decodable { let exchanges: [ExchangeConfiguration] }
            do {
                let data = try Data(contentsOf: URL(fileURLWithPath: configFile))
                exchanges += try JSONDecoder().decode(File.self, from: data).exchanges
            } catch {
                throw ExchangeConfigurationError.unreadable(configFile, String(describing: error))
            }
        }
        return try ExchangeDirectory(exchanges: exchanges)
    }

    public func exchange(id: String) -> ExchangeConfiguration? {
        exchanges.first { $0.id == id }
    }
}

public enum ExchangeConfigurationError: Error, CustomStringConvertible {
    case invalid(String, [String])
    case unreadable(String, String)

    public var description: String {
        switch self {
        case .invalid(let id, let problems): "Imaging exchange \(id): " + problems.joined(separator: "; ")
        case .unreadable(let path, let reason): "Imaging exchanges file \(path) unreadable: \(reason)"
        }
    }
}
