import ConcertoCore
import ConcertoStore
import ConcertoTestSupport
@testable import ConcertoWeb
import Dispatch
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// Attack: multipart bodies up to ~61 MB were read and parsed before the session and
/// CSRF token were checked, on any POST including an anonymous `/login`: 8 parallel
/// anonymous 60 MB posts took 72 s each to be refused, the server grew from 71 to 513 MB,
/// and a plain `GET /login` meanwhile took 9.6 s.
@Suite("Security: bodies are read only when they may be") struct SecurityBodyTests {
    static let boundary = "----ConcertoFlood"

    @Test func refusedRequestsAreRefusedBeforeTheirBodyAndMultipartOnlyOnUploadRoutes() async throws {
        try await withTestApp { browser, dependencies in
            try await createUser(dependencies)
            let multipart: HTTPFields = [.contentType: "multipart/form-data; boundary=\(Self.boundary)"]
            let body = "--\(Self.boundary)\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nx\r\n--\(Self.boundary)--\r\n"
            // No session: refused, whatever the body.
            let anonymous = try await browser.client.executeRequest(uri: "/login", method: .post, headers: multipart, body: ByteBuffer(string: body))
            #expect(anonymous.status == .forbidden)
            // A session and its token, but a file upload where none is taken.
            try await browser.get("/login")
            let token = try #require(browser.lastCSRFToken)
            var headers = multipart
            headers[.cookie] = "concerto_session=\(try #require(browser.sessionCookie))"
            headers[CSRFMiddleware.headerName] = token
            let misplaced = try await browser.client.executeRequest(uri: "/login", method: .post, headers: headers, body: ByteBuffer(string: body))
            #expect(misplaced.status == .unsupportedMediaType)
            #expect(String(buffer: misplaced.body).contains("n'accepte pas de fichiers") || String(buffer: misplaced.body).contains("n&#39;accepte pas de fichiers"))
            // A wrong header token is refused before the body too.
            headers[CSRFMiddleware.headerName] = "forged"
            #expect(try await browser.client.executeRequest(uri: "/login", method: .post, headers: headers, body: ByteBuffer(string: body)).status == .forbidden)
            // Forms stop at 64 KiB by default.
            let large = "email=a&password=\(String(repeating: "x", count: 70 * 1024))&_csrf=\(token)"
            #expect(try await browser.postRaw("/login", body: large).status == .contentTooLarge)
            #expect(try await browser.logIn().status == .seeOther)
        }
    }

    @Test func uploadPathsAreTheFichesDocumentsOnly() {
        let id = UUID().storageKey
        #expect(SiteURL.isUploadPath("/cases/\(id)/documents"))
        #expect(SiteURL.isUploadPath(SiteURL.caseDocuments(UUID()).path))
        for path in ["/login", "/cases/\(id)", "/cases/x/documents", "/cases/\(id)/documents/x", "//cases/\(id)/documents", "/api/v1/documents"] {
            #expect(!SiteURL.isUploadPath(path), "\(path)")
        }
    }

    static var serverBinary: URL { Repository.root.appendingPathComponent(".build/debug/concerto") }

    /// The real server, in its own process, so its memory is measured alone: 20 parallel
    /// anonymous 60 MB multipart posts to `/login`, as an attacker would send them.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: serverBinary.path), "needs the concerto binary (swift build)"))
    func twentyParallelAnonymous60MBPostsAreRefusedWithoutGrowingTheServer() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("concerto-flood-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let port = try TestExchange.freePort()
        let server = Process()
        server.executableURL = Self.serverBinary
        server.currentDirectoryURL = Repository.root
        server.arguments = ["serve", "--host", "127.0.0.1", "--port", String(port), "--database", "sqlite:\(folder.path)/flood.sqlite"]
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CONCERTO_") && $0.key != "DATABASE_URL" }
        environment["CONCERTO_LOG_LEVEL"] = "critical"
        server.environment = environment
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try ProcessLaunch.run(server)
        defer {
            // Not waited for: reaping it would hold one of Swift concurrency's few threads.
            server.terminate()
        }
        let started = Date()
        while await Flood.onThread({ Flood.get(port: port, path: "/healthz") }) == nil {
            #expect(Date().timeIntervalSince(started) < 60, "the server did not start")
            if Date().timeIntervalSince(started) > 60 { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        _ = await Flood.onThread { Flood.get(port: port, path: "/login") } // warm the page once
        // The peak counts from here (start-up's own peak is not the flood's).
        try? "5".write(toFile: "/proc/\(server.processIdentifier)/clear_refs", atomically: false, encoding: .utf8)
        let before = try #require(Flood.memory(of: server.processIdentifier))

        let clock = ContinuousClock()
        let floodStart = clock.now
        async let results = Flood.parallelPosts(port: port, count: 20, bytes: 60 * 1024 * 1024, boundary: Self.boundary)
        // Meanwhile, a person opens the login page.
        try await Task.sleep(for: .milliseconds(300))
        let pageStart = clock.now
        let page = await Flood.onThread { Flood.get(port: port, path: "/login") }
        let pageSeconds = (clock.now - pageStart).seconds
        let outcomes = await results
        let floodSeconds = (clock.now - floodStart).seconds
        let after = try #require(Flood.memory(of: server.processIdentifier))

        #expect(outcomes.count == 20)
        #expect(outcomes.allSatisfy { $0 == 403 }, "\(outcomes)")
        #expect(page == 200)
        let growth = after.peak - before.resident
        print("flood: 20 x 60 MB refused in \(String(format: "%.2f", floodSeconds)) s; login page in \(String(format: "%.3f", pageSeconds)) s meanwhile; "
              + "server resident \(before.resident / 1_048_576) MB before, peak \(after.peak / 1_048_576) MB")
        #expect(growth < 100 * 1_048_576, "the server grew by \(growth / 1_048_576) MB")
        #expect(pageSeconds < 2)
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// Raw loopback HTTP/1.1, as an attacker's script sends it: blocking sockets on their own
/// threads (not Swift concurrency's few), bodies streamed in 64 KiB chunks.
enum Flood {
    static func connect(port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { close(fd); return nil }
        return fd
    }

    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return false }
            offset += sent
        }
        return true
    }

    /// The status code of the answer, read from its first line.
    static func status(_ fd: Int32) -> Int? {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !received.contains(UInt8(ascii: "\n")) {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            received += chunk[..<count]
        }
        let line = String(decoding: received.prefix { $0 != UInt8(ascii: "\r") }, as: UTF8.self)
        let parts = line.split(separator: " ")
        return parts.count >= 2 ? Int(parts[1]) : nil
    }

    static func get(port: Int, path: String) -> Int? {
        guard let fd = connect(port: port) else { return nil }
        defer { close(fd) }
        guard sendAll(fd, Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)) else { return nil }
        return status(fd)
    }

    /// Posts `bytes` of multipart body without a session; stops sending as soon as the
    /// server has answered (or closed). Returns the status it answered.
    static func post(port: Int, bytes: Int, boundary: String) -> Int? {
        guard let fd = connect(port: port) else { return nil }
        defer { close(fd) }
        let head = "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=\(boundary)\r\n"
            + "Content-Length: \(bytes)\r\n\r\n--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.xml\"\r\n\r\n"
        guard sendAll(fd, Array(head.utf8)) else { return status(fd) }
        let chunk = [UInt8](repeating: UInt8(ascii: "A"), count: 64 * 1024)
        var sent = head.utf8.count
        var peek: UInt8 = 0
        while sent < bytes, recv(fd, &peek, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) <= 0 {
            guard sendAll(fd, Array(chunk.prefix(min(chunk.count, bytes - sent)))) else { break }
            sent += chunk.count
        }
        return status(fd)
    }

    /// Runs blocking work on a thread of its own, never on Swift concurrency's few (other
    /// tests' deadlines run there).
    static func onThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: work()) }
        }
    }

    static func parallelPosts(port: Int, count: Int, bytes: Int, boundary: String) async -> [Int?] {
        await withCheckedContinuation { continuation in
            let results = ResultBox(count: count)
            let group = DispatchGroup()
            for index in 0..<count {
                group.enter()
                Thread.detachNewThread {
                    results.set(index, post(port: port, bytes: bytes, boundary: boundary))
                    group.leave()
                }
            }
            group.notify(queue: .global()) { continuation.resume(returning: results.values) }
        }
    }

    final class ResultBox: @unchecked Sendable {
        // @unchecked: every access holds the lock.
        private let lock = NSLock()
        private var stored: [Int?]
        init(count: Int) { stored = Array(repeating: nil, count: count) }
        func set(_ index: Int, _ value: Int?) { lock.withLock { stored[index] = value } }
        var values: [Int?] { lock.withLock { stored } }
    }

    /// Resident and peak resident bytes of a process (/proc/PID/status: VmRSS, VmHWM).
    static func memory(of pid: Int32) -> (resident: Int, peak: Int)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func kilobytes(_ field: String) -> Int? {
            text.split(separator: "\n").first { $0.hasPrefix(field + ":") }
                .flatMap { $0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first }.flatMap { Int($0) }
        }
        guard let resident = kilobytes("VmRSS"), let peak = kilobytes("VmHWM") else { return nil }
        return (resident * 1024, peak * 1024)
    }
}
