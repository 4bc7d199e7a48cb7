import Foundation

/// The real imaging exchange of the test run: the Orthanc `scripts/orthanc/ctl start`
/// launched (`make test` exports CONCERTO_TEST_DICOMWEB_URL and CONCERTO_TEST_ORTHANC_DIR),
/// and what our generator put in it (the manifest).
public enum TestExchange {
    public static var url: String? {
        ProcessInfo.processInfo.environment["CONCERTO_TEST_DICOMWEB_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    public static var isAvailable: Bool { url != nil && manifest != nil }

    public struct Study: Decodable, Sendable {
        public let patient: String
        public let ins: String
        public let issuer: String
        public let studyInstanceUID: String
        public let studyDate: String
        public let accessionNumber: String
        public let description: String
        public let modalities: [String]
        public let series: [Series]
    }

    public struct Series: Decodable, Sendable {
        public let seriesInstanceUID: String
        public let modality: String
        public let instances: Int
    }

    struct Manifest: Decodable {
        let studies: [Study]
    }

    public static let manifest: [Study]? = {
        guard let directory = ProcessInfo.processInfo.environment["CONCERTO_TEST_ORTHANC_DIR"],
              let data = try? Data(contentsOf: URL(fileURLWithPath: directory).appendingPathComponent("studies/manifest.json")) else { return nil }
        return try? JSONDecoder().decode(Manifest.self, from: data).studies
    }()

    public static func studies(of patient: String) -> [Study] {
        (manifest ?? []).filter { $0.patient == patient }
    }

    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A second Orthanc of the test's own, to stop and restart without disturbing the
    /// others: same script, own folder and port.
    public final class PrivateOrthanc: Sendable {
        public let directory: String
        public let port: Int

        public init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("concerto-orthanc-\(UUID().uuidString.prefix(8))").path
            port = try TestExchange.freePort()
        }

        public var url: String { "http://127.0.0.1:\(port)/dicom-web" }

        public func start() throws { try run("start") }
        public func stop() throws { try run("stop") }
        public func clean() { try? run("clean") }

        private func run(_ verb: String) throws {
            let script = TestExchange.repositoryRoot.appendingPathComponent("scripts/orthanc/ctl").path
            var environment = ProcessInfo.processInfo.environment
            environment["ORTHANC_DIR"] = directory
            environment["ORTHANC_PORT"] = String(port)
            guard try TestExchange.spawnAndWait([script, verb], environment: environment) == 0 else { throw CocoaError(.executableLoad) }
        }
    }

    /// posix_spawn and waitpid: Foundation's `Process.waitUntilExit` can hang inside
    /// Swift Testing's concurrent runner when the child leaves a daemon behind.
    public static func spawnAndWait(_ arguments: [String], environment: [String: String], stdout: String = "/dev/null") throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, arguments[0], &actions, nil, argv, envp)
        guard spawned == 0 else { throw CocoaError(.executableLoad) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        // WEXITSTATUS, spelled out: the macro is not imported.
        return (status >> 8) & 0xFF
    }

    /// A TCP socket bound to a free loopback port, and the port.
    static func boundLoopbackSocket() throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw CocoaError(.fileReadUnknown) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { close(fd); throw CocoaError(.fileReadUnknown) }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// A loopback port nobody listens on right now.
    public static func freePort() throws -> Int {
        let (fd, port) = try boundLoopbackSocket()
        close(fd)
        return port
    }
}

/// A listener that accepts connections and never answers: a server (exchange, database)
/// that hangs. The kernel completes handshakes into the backlog; nobody ever reads.
public final class SilentServer: Sendable {
    public let port: Int
    private let fd: Int32

    public init() throws {
        let (fd, port) = try TestExchange.boundLoopbackSocket()
        guard listen(fd, 64) == 0 else { close(fd); throw CocoaError(.fileReadUnknown) }
        self.fd = fd
        self.port = port
    }

    /// As a DICOMweb root.
    public var url: String { "http://127.0.0.1:\(port)/dicom-web" }

    deinit { close(fd) }
}


/// Command-line tools the tests check outputs with (pdftotext, pdfinfo from poppler-utils).
public enum TestTools {
    /// Runs `arguments` (the first is looked up in /usr/bin) and returns its exit status and standard output.
    public static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let outputFile = FileManager.default.temporaryDirectory.appendingPathComponent("concerto-tool-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: outputFile) }
        var arguments = arguments
        if !arguments[0].hasPrefix("/") { arguments[0] = "/usr/bin/" + arguments[0] }
        let status = try TestExchange.spawnAndWait(arguments, environment: ProcessInfo.processInfo.environment, stdout: outputFile)
        return (status, (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? "")
    }

    public static var hasPoppler: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/pdftotext") }

    /// A PDF's text as pdftotext lays it out, and its page count from pdfinfo.
    public static func pdfText(_ pdf: Data) throws -> (text: String, pages: Int) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("concerto-\(UUID().uuidString).pdf")
        try pdf.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let text = try run(["pdftotext", "-layout", file.path, "-"]).output
        let info = try run(["pdfinfo", file.path]).output
        return (text, info.split(separator: "\n").first { $0.hasPrefix("Pages:") }.flatMap { Int($0.split(separator: " ").last ?? "") } ?? -1)
    }
}
