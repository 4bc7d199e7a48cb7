import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
private let systemWrite = Glibc.write
#elseif canImport(Darwin)
import Darwin
private let systemWrite = Darwin.write
#endif

/// Structured logs: one JSON object per line on standard error, e.g.
/// `{"ts":"2026-11-29T18:53:20Z","level":"info","label":"concerto","msg":"request","method":"GET",...}`.
///
/// Lines are buffered and written every `flushInterval` (or when 64 KiB accumulate, and at
/// shutdown), instead of one write and flush per line: at thousands of requests a second
/// the per-line system call was a visible share of each request. Errors and worse are
/// written at once.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String
    let sink: LogSink

    public init(label: String, sink: LogSink) {
        self.label = label
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = "{\"ts\":\""
        line += sink.timestamp()
        line += "\",\"level\":\""
        line += event.level.rawValue
        line += "\",\"label\":"
        Self.appendJSONString(label, to: &line)
        line += ",\"msg\":"
        Self.appendJSONString(event.message.description, to: &line)
        var fields = metadata
        if let extra = event.metadata { fields.merge(extra) { _, new in new } }
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
            line += ","
            Self.appendJSONString(key, to: &line)
            line += ":"
            Self.appendJSONString(value.description, to: &line)
        }
        line += "}\n"
        sink.append(line, urgent: event.level >= .error)
    }

    public func log(
        level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?,
        source: String, file: String, function: String, line: UInt
    ) {
        log(event: LogEvent(level: level, message: message, metadata: metadata, source: source, file: file, function: function, line: line))
    }

    static func appendJSONString(_ text: String, to line: inout String) {
        line += "\""
        // Most values (paths, ids, numbers) need no escaping: copy them whole.
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            line += text
            line += "\""
            return
        }
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": line += "\\\""
            case "\\": line += "\\\\"
            case "\n": line += "\\n"
            case "\r": line += "\\r"
            case "\t": line += "\\t"
            case let control where control.value < 0x20:
                line += String(format: "\\u%04x", control.value)
            default: line.unicodeScalars.append(scalar)
            }
        }
        line += "\""
    }
}

/// The buffer behind `JSONLogHandler`, shared by every logger of the process.
public final class LogSink: Sendable {
    private struct State {
        var buffer: [UInt8] = []
        var second: Int = -1
        var stamp = ""
    }
    private let state = Mutex(State())
    private let fileDescriptor: Int32
    static let flushThreshold = 64 * 1024

    public init(fileDescriptor: Int32 = 2) {
        self.fileDescriptor = fileDescriptor
    }

    /// ISO 8601 UTC, formatted once per second.
    func timestamp() -> String {
        let now = Date()
        let second = Int(now.timeIntervalSince1970)
        return state.withLock { state in
            if state.second != second {
                state.second = second
                state.stamp = now.formatted(.iso8601)
            }
            return state.stamp
        }
    }

    func append(_ line: String, urgent: Bool) {
        let ready: [UInt8]? = state.withLock { state in
            state.buffer.append(contentsOf: line.utf8)
            guard urgent || state.buffer.count >= Self.flushThreshold else { return nil }
            defer { state.buffer.removeAll(keepingCapacity: true) }
            return state.buffer
        }
        if let ready { write(ready) }
    }

    public func flush() {
        let ready = state.withLock { state -> [UInt8] in
            defer { state.buffer.removeAll(keepingCapacity: true) }
            return state.buffer
        }
        if !ready.isEmpty { write(ready) }
    }

    private func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = systemWrite(fileDescriptor, raw.baseAddress! + offset, raw.count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
    }

    /// Flushes every `interval` until cancelled, then once more.
    public func runFlusher(interval: Duration = .milliseconds(200)) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            flush()
        }
        flush()
    }
}
