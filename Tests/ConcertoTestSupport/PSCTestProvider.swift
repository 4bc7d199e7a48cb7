import AsyncHTTPClient
import Foundation
import NIOCore

/// The local Pro Santé Connect stand-in (`scripts/psc-provider/provider.py`, on authlib),
/// started on a free loopback port for one test, with its test controls on.
public final class PSCTestProvider: @unchecked Sendable {
    // @unchecked: `process` is only touched by `stop`, once, after the test.
    public let issuer: String
    let process: Process
    public let clientID = "concerto-test"
    public let clientSecret: String

    /// The test professionals of `Fixtures/psc-test-professionals.json` (their PSC `sub`).
    public enum Professional: String, Sendable {
        /// Dr Olivier Oncologue, RPPS 10101010105, Institut Bergonié (330000662).
        case oncologist = "f3b6a0e2-0c1d-4c55-9a51-0a0000000105"
        /// Dr Claire Chirurgienne, RPPS 10101010113, CHU de Poitiers (860780014).
        case surgeon = "f3b6a0e2-0c1d-4c55-9a51-0a0000000113"
        /// Dr Nadia Nouvelle, RPPS 10101010154, CH de Pau (640780417): no demo account.
        case newcomer = "f3b6a0e2-0c1d-4c55-9a51-0a0000000154"

        public var rpps: String {
            switch self {
            case .oncologist: "10101010105"
            case .surgeon: "10101010113"
            case .newcomer: "10101010154"
            }
        }
    }

    init(issuer: String, process: Process, clientSecret: String) {
        self.issuer = issuer
        self.process = process
        self.clientSecret = clientSecret
    }

    /// Starts a provider and runs `body`; the provider is stopped afterwards.
    public static func with<T: Sendable>(_ body: (PSCTestProvider) async throws -> T) async throws -> T {
        let provider = try await start()
        defer { provider.stop() }
        return try await body(provider)
    }

    public static func start() async throws -> PSCTestProvider {
        let process = Process()
        let secret = "test-secret-" + UUID().uuidString
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.currentDirectoryURL = Repository.root
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.arguments = ["python3", "scripts/psc-provider/provider.py", "--port", "0", "--test-controls",
                             "--client", "concerto-test:\(secret)",
                             "--professionals", Repository.root.appendingPathComponent("Fixtures/psc-test-professionals.json").path]
        try ProcessLaunch.run(process)
        let issuer = try await readReadyLine(output.fileHandleForReading, process: process)
        return PSCTestProvider(issuer: issuer, process: process, clientSecret: secret)
    }

    private static func readReadyLine(_ handle: FileHandle, process: Process) async throws -> String {
        let deadline = Date().addingTimeInterval(20)
        var buffer = Data()
        while Date() < deadline {
            let chunk = handle.availableData
            if chunk.isEmpty {
                guard process.isRunning else { break }
                try await Task.sleep(for: .milliseconds(20))
                continue
            }
            buffer.append(chunk)
            if let text = String(data: buffer, encoding: .utf8), let line = text.split(separator: "\n").first(where: { $0.hasPrefix("ready ") }) {
                return String(line.dropFirst("ready ".count))
            }
        }
        process.terminate()
        throw ProviderError.didNotStart("the local PSC provider did not start: is authlib installed (`make psc`, or `pip install authlib`)?")
    }

    public enum ProviderError: Error, CustomStringConvertible {
        case didNotStart(String)
        case unexpected(String)
        public var description: String {
            switch self {
            case .didNotStart(let message), .unexpected(let message): message
            }
        }
    }

    public func stop() {
        // SIGKILL: cannot be blocked, and the provider keeps nothing worth a clean exit.
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// The provider's origin (`http://127.0.0.1:port`).
    public var origin: String {
        let url = URL(string: issuer)!
        return "http://\(url.host!):\(url.port!)"
    }

    // MARK: Test controls

    /// Changes how the next tokens are made (see provider.py): `["acr": NSNull()]`,
    /// `["sign": "none"]`, `["aud": "other"]`, `["rotate_key": true]`...
    public func behave(_ change: [String: any Sendable]) async throws {
        var request = HTTPClientRequest(url: origin + "/_test/behaviour")
        request.method = .POST
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: change)))
        let response = try await Self.http.execute(request, timeout: .seconds(10))
        guard response.status == .ok else { throw ProviderError.unexpected("behaviour: \(response.status)") }
    }

    /// The logouts the provider received (`id_token_hint` present, `state`, redirect).
    public func logouts() async throws -> [[String: Any]] {
        let response = try await Self.http.execute(HTTPClientRequest(url: origin + "/_test/log"), timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        let object = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
        return object?["logouts"] as? [[String: Any]] ?? []
    }

    /// What the browser does at the provider: opens the authorisation page Concerto sent it
    /// to, picks the professional, and is sent back. Returns the callback address (path and
    /// query, as the browser would request it from Concerto).
    public func authorize(_ authorizationURL: String, as professional: Professional) async throws -> String {
        let page = try await Self.http.execute(HTTPClientRequest(url: authorizationURL), timeout: .seconds(10))
        guard page.status == .ok else { throw ProviderError.unexpected("authorisation page: \(page.status)") }
        _ = try await page.body.collect(upTo: 1 << 20)
        guard let components = URLComponents(string: authorizationURL) else { throw ProviderError.unexpected("bad URL") }
        var fields = (components.queryItems ?? []).map { ($0.name, $0.value ?? "") }
        fields.append(("professional", professional.rawValue))
        let body = fields.map { "\(Self.escape($0.0))=\(Self.escape($0.1))" }.joined(separator: "&")
        var choice = HTTPClientRequest(url: "\(components.scheme!)://\(components.host!):\(components.port!)\(components.path)")
        choice.method = .POST
        choice.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        choice.body = .bytes(ByteBuffer(string: body))
        let answer = try await Self.http.execute(choice, timeout: .seconds(10))
        guard answer.status == .found, let location = answer.headers.first(name: "Location"), let callback = URL(string: location) else {
            throw ProviderError.unexpected("authorisation answer: \(answer.status)")
        }
        return callback.path + (callback.query.map { "?" + $0 } ?? "")
    }

    /// The browser following Concerto's logout redirect: returns where the provider sends it next.
    public func authorizeLogout(_ endSessionURL: String) async throws -> String? {
        let answer = try await Self.http.execute(HTTPClientRequest(url: endSessionURL), timeout: .seconds(10))
        return answer.headers.first(name: "Location")
    }

    /// Redirects are the test's to follow (they lead back to Concerto, which runs in-process).
    static let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup,
                                 configuration: .init(redirectConfiguration: .disallow))

    static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")) ?? text
    }

    /// Writes the client secret to a file (as `CONCERTO_PSC_CLIENT_SECRET_FILE` wants it).
    public func secretFile() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("psc-secret-\(UUID().uuidString)").path
        try clientSecret.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
