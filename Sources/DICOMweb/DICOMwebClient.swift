import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Synchronization

/// Why a call to an exchange gave nothing usable, with the French sentence pages show.
public enum DICOMwebError: Error, Equatable, Sendable {
    /// The breaker is open: the exchange failed repeatedly and is left alone for a while.
    case circuitOpen
    /// No connection could be made (refused, reset, DNS...).
    case unreachable
    /// No complete answer within the exchange's time budget.
    case timeout
    /// The exchange answered with an error status.
    case status(Int)
    /// The answer could not be read as DICOM JSON or as an image.
    case invalidResponse
    /// A UID or parameter that cannot be sent (checked before any request leaves).
    case invalidRequest

    /// Whether the exchange itself is unavailable (as opposed to a refused request).
    public var exchangeUnavailable: Bool {
        switch self {
        case .circuitOpen, .unreachable, .timeout: true
        case .status(let code): code >= 500
        case .invalidResponse, .invalidRequest: false
        }
    }

    public var frenchMessage: String {
        switch self {
        case .circuitOpen:
            "L'échange d'imagerie ne répond plus depuis plusieurs tentatives ; nouvel essai dans quelques secondes."
        case .unreachable:
            "L'échange d'imagerie est injoignable."
        case .timeout:
            "L'échange d'imagerie n'a pas répondu à temps."
        case .status(let code) where code == 401 || code == 403:
            "L'échange d'imagerie a refusé l'accès (HTTP \(code)) : vérifiez les identifiants configurés."
        case .status(404):
            "L'examen demandé n'existe pas sur l'échange d'imagerie."
        case .status(let code):
            "L'échange d'imagerie a répondu par une erreur (HTTP \(code))."
        case .invalidResponse:
            "La réponse de l'échange d'imagerie est illisible."
        case .invalidRequest:
            "Identifiant d'examen invalide."
        }
    }
}

/// QIDO-RS and WADO-RS against one exchange. GETs are retried once on connection errors,
/// within the exchange's time budget; a circuit breaker stops calls while it is down. Logs
/// name the operation, status and duration only: URLs carry patient identifiers.
public final class DICOMwebClient: Sendable {
    public let exchange: ExchangeConfiguration
    public let breaker: CircuitBreaker
    private let base: String
    private let logger: Logger
    /// Requests sent to the exchange since start (attempts included), for metrics and for
    /// tests proving that a refused access sent none.
    public var requestsSent: Int { sent.withLock { $0 } }
    private let sent = Mutex(0)
    /// Servers without the `/thumbnail` resource (added to PS3.18 in 2019) get `/rendered`.
    private let thumbnailUnsupported = ManagedFlag()

    static let maxJSONBytes = 16 * 1024 * 1024
    static let maxImageBytes = 8 * 1024 * 1024

    public init(exchange: ExchangeConfiguration, logger: Logger) {
        self.exchange = exchange
        self.logger = logger
        base = exchange.baseURL.hasSuffix("/") ? String(exchange.baseURL.dropLast()) : exchange.baseURL
        breaker = CircuitBreaker(failureThreshold: exchange.breakerFailureThreshold, openInterval: exchange.breakerOpenSeconds)
    }

    /// One HTTP client for the process, shared by every exchange (connection pools are per
    /// host), never shut down, like `HTTPClient.shared`: each call's deadline bounds its
    /// time, so no per-exchange client is needed.
    static let http: HTTPClient = {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(2), read: .seconds(30)),
            connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 32)
        )
        configuration.decompression = .enabled(limit: .ratio(50))
        // The pool would otherwise retry a refused connection with back-off until the
        // deadline: we retry once ourselves and let the breaker judge.
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    // MARK: QIDO-RS

    /// Studies matching the query, newest first.
    public func searchStudies(_ query: StudyQuery) async throws(DICOMwebError) -> [StudySummary] {
        guard query.isSafeToSend else { throw .invalidRequest }
        let datasets = try await getJSON(path: "/studies", query: query.queryItems, operation: "qido.studies")
        return datasets.compactMap(StudySummary.init).sorted(by: StudySummary.newestFirst)
    }

    /// One study by UID, restricted to the patient when given (nil when absent).
    public func study(_ studyUID: String, patient: PatientIdentifier? = nil) async throws(DICOMwebError) -> StudySummary? {
        guard DICOMUIDSyntax.isValid(studyUID) else { throw .invalidRequest }
        return try await searchStudies(StudyQuery(patient: patient, studyInstanceUID: studyUID, limit: 2)).first { $0.studyInstanceUID == studyUID }
    }

    /// The series of a study, in series-number order.
    public func series(ofStudy studyUID: String) async throws(DICOMwebError) -> [SeriesSummary] {
        guard DICOMUIDSyntax.isValid(studyUID) else { throw .invalidRequest }
        let datasets = try await getJSON(path: "/studies/\(studyUID)/series",
                                         query: [URLQueryItem(name: "includefield", value: DICOMTag.numberOfSeriesRelatedInstances.key)],
                                         operation: "qido.series")
        return datasets.compactMap(SeriesSummary.init).sorted { ($0.number ?? .max, $0.seriesInstanceUID) < ($1.number ?? .max, $1.seriesInstanceUID) }
    }

    public func instances(study studyUID: String, series seriesUID: String) async throws(DICOMwebError) -> [InstanceSummary] {
        guard DICOMUIDSyntax.isValid(studyUID), DICOMUIDSyntax.isValid(seriesUID) else { throw .invalidRequest }
        let datasets = try await getJSON(path: "/studies/\(studyUID)/series/\(seriesUID)/instances", query: [], operation: "qido.instances")
        return datasets.compactMap(InstanceSummary.init).sorted { ($0.number ?? .max, $0.sopInstanceUID) < ($1.number ?? .max, $1.sopInstanceUID) }
    }

    // MARK: WADO-RS

    /// A rendered picture of a series (its representative frame) or of one instance.
    public func rendered(study: String, series: String, instance: String? = nil, viewport: Int? = nil, accept: String = "image/jpeg")
        async throws(DICOMwebError) -> RenderedImage
    {
        guard DICOMUIDSyntax.isValid(study), DICOMUIDSyntax.isValid(series), instance.map(DICOMUIDSyntax.isValid) ?? true else { throw .invalidRequest }
        let path = "/studies/\(study)/series/\(series)" + (instance.map { "/instances/\($0)" } ?? "") + "/rendered"
        let query = viewport.map { [URLQueryItem(name: "viewport", value: "\($0),\($0)")] } ?? []
        return try await getImage(path: path, query: query, accept: accept, operation: "wado.rendered")
    }

    /// A small picture of the series: `/thumbnail` where the server has it, else `/rendered`
    /// at thumbnail size.
    public func thumbnail(study: String, series: String, size: Int = 128) async throws(DICOMwebError) -> RenderedImage {
        guard DICOMUIDSyntax.isValid(study), DICOMUIDSyntax.isValid(series) else { throw .invalidRequest }
        if !thumbnailUnsupported.isSet {
            do {
                return try await getImage(path: "/studies/\(study)/series/\(series)/thumbnail",
                                          query: [URLQueryItem(name: "viewport", value: "\(size),\(size)")], accept: "image/jpeg", operation: "wado.thumbnail")
            } catch .status(let code) where code == 404 || code == 400 || code == 501 {
                // Either the resource or the series is missing: rendered tells which.
                thumbnailUnsupported.set()
            }
        }
        return try await rendered(study: study, series: series, viewport: size)
    }

    // MARK: Transport

    private func getJSON(path: String, query: [URLQueryItem], operation: String) async throws(DICOMwebError) -> [DICOMDataset] {
        let (status, body, _) = try await get(path: path, query: query, accept: "application/dicom+json", maxBytes: Self.maxJSONBytes, operation: operation)
        // 204 No Content is how some servers say "no match".
        if status == 204 || body.readableBytes == 0 { return [] }
        do {
            return try DICOMDataset.decodeList(Data(buffer: body))
        } catch {
            logger.warning("DICOMweb answer unreadable", metadata: ["exchange": "\(exchange.id)", "operation": "\(operation)"])
            throw .invalidResponse
        }
    }

    private func getImage(path: String, query: [URLQueryItem], accept: String, operation: String) async throws(DICOMwebError) -> RenderedImage {
        let (_, body, contentType) = try await get(path: path, query: query, accept: accept, maxBytes: Self.maxImageBytes, operation: operation)
        let type = contentType?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        // Only pictures are passed on to browsers: never markup or scripts from the exchange.
        guard ["image/jpeg", "image/png", "image/gif"].contains(type), body.readableBytes > 0 else { throw .invalidResponse }
        return RenderedImage(bytes: Data(buffer: body), contentType: type)
    }

    private func url(path: String, query: [URLQueryItem]) -> String {
        var components = URLComponents()
        components.queryItems = query.isEmpty ? nil : query
        // URLComponents leaves "+" alone; a server would read it as a space.
        let encoded = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        return base + path + (encoded.map { "?\($0)" } ?? "")
    }

    private func get(path: String, query: [URLQueryItem], accept: String, maxBytes: Int, operation: String)
        async throws(DICOMwebError) -> (Int, ByteBuffer, String?)
    {
        guard breaker.permit() else {
            logger.debug("DICOMweb call skipped: breaker open", metadata: ["exchange": "\(exchange.id)", "operation": "\(operation)"])
            throw .circuitOpen
        }
        var request = HTTPClientRequest(url: url(path: path, query: query))
        request.method = .GET
        request.headers.add(name: "Accept", value: accept)
        if let authorization = exchange.auth.headerValue { request.headers.add(name: "Authorization", value: authorization) }
        let started = NIODeadline.now()
        let deadline = started + .milliseconds(Int64(exchange.requestTimeoutSeconds * 1000))
        var attempt = 1
        while true {
            sent.withLock { $0 += 1 }
            do {
                let response = try await Self.http.execute(request, deadline: deadline, logger: nil)
                let body = try await response.body.collect(upTo: maxBytes)
                let status = Int(response.status.code)
                log(operation, status: "\(status)", attempt: attempt, since: started)
                if status >= 500 {
                    breaker.recordFailure()
                    throw DICOMwebError.status(status)
                }
                breaker.recordSuccess()
                guard (200..<300).contains(status) else { throw DICOMwebError.status(status) }
                return (status, body, response.headers.first(name: "Content-Type"))
            } catch let error as DICOMwebError {
                throw error
            } catch {
                let failure = Self.classify(error)
                // Connection errors happen before the request reached the server: a second
                // attempt is safe for a GET, if the budget allows.
                if failure == .unreachable, attempt == 1, NIODeadline.now() + .milliseconds(50) < deadline {
                    attempt += 1
                    try? await Task.sleep(for: .milliseconds(50))
                    continue
                }
                if failure == .invalidResponse {
                    log(operation, status: "too_large", attempt: attempt, since: started)
                    throw failure
                }
                breaker.recordFailure()
                log(operation, status: failure == .timeout ? "timeout" : "unreachable", attempt: attempt, since: started, level: .warning)
                throw failure
            }
        }
    }

    static func classify(_ error: any Error) -> DICOMwebError {
        // A connect timeout is a connection error (worth the retry); a deadline or read
        // timeout means the server took the request and was slow.
        if let error = error as? HTTPClientError, error == .deadlineExceeded || error == .readTimeout { return .timeout }
        if error is NIOTooManyBytesError { return .invalidResponse }
        return .unreachable
    }

    private func log(_ operation: String, status: String, attempt: Int, since started: NIODeadline, level: Logger.Level = .debug) {
        let milliseconds = Double((NIODeadline.now() - started).nanoseconds) / 1_000_000
        logger.log(level: level, "DICOMweb call", metadata: [
            "exchange": "\(exchange.id)", "operation": "\(operation)", "status": "\(status)", "attempts": "\(attempt)",
            "ms": "\(String(format: "%.1f", milliseconds))",
        ])
    }
}

/// A flag set once, read from any task.
final class ManagedFlag: Sendable {
    private let storage = Mutex(false)
    var isSet: Bool { storage.withLock { $0 } }
    func set() { storage.withLock { $0 = true } }
}
